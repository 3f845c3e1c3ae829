"""The whole training loop as one compiled function.

For the small matrices of a deep linear network, the Python overhead of one
training step (list handling, dispatch of a handful of kernels) costs more
than the arithmetic. :func:`train_loop` runs all the steps in compiled code,
for B runs in lockstep (a grid's learning rates, from the same start),
calling the twins of the NumPy functions that the step-by-step Python loop
runs:

- the objective and its factor gradients, in three parts: :func:`end_to_end_into`
  (``chain.suffix_products``), :func:`losses_into` (``loss.l2_gram_value_and_grad_e``
  or ``loss.l4_moments_value_and_grad_e`` from the moments, or
  ``loss.lp_batch_value_and_grad_e``, one pass over the data for all the
  runs at once) and :func:`gradients_from_grad_e`
  (``chain.factor_gradients``, then the weight-decay term);
- :func:`optimizer_step`: ``optim.sgd_update`` / ``adam_update`` /
  ``adagrad_update`` / ``adadelta_update`` on the flat array of all the
  factors, or ``optim.e2e_update``, the end-to-end update of Theorem 1
  for one output, on the one-factor chain ``[W_e]`` (``deeplinear.train``'s
  ``optimizer="e2e"``).

No update rule or loss formula is written here a second time.

Conventions (see ``chain``): ``params`` is the flat array of the factors the
chain kernels work on, in the layout ``work.kd`` describes. When
``deeplinear._compiled`` runs the transposed network (``d_0 < d_N``), these are
``[W_N^T, ..., W_1^T]``; every optimizer rule is elementwise, so updating
the transposed factors with transposed gradients gives the same numbers, and
so does updating all the factors in one pass over the flat array.

Arguments are grouped in the named tuples of ``interface`` (``Workspace``,
``Data``, ``States``, ``OptimizerArgs`` with its ``Hyper``, ``RunArgs``),
read here by field name, so that no kernel takes twenty arguments; the
optimizer kernels get their state arrays and hyperparameters by keyword.
"""

import numpy as np
from numba import njit

from .chain import copy, factor_gradients, squared_norm_sum, stack_block, suffix_products
from .interface import Workspace
from .loss import (completion_value_and_grad_e, l2_gram_value_and_grad_e, l4_moments_value_and_grad_e,
                   lp_batch_value_and_grad_e)
from .optim import adadelta_update, adagrad_update, adam_update, e2e_update, sgd_update

__all__ = ["SGD", "ADAM", "ADAGRAD", "ADADELTA", "E2E", "CODES", "end_to_end_into", "losses_into",
           "gradients_from_grad_e", "run_workspace", "optimizer_step", "train_loop"]

#: ``OptimizerArgs.code`` of each update rule.
SGD = 0
ADAM = 1
ADAGRAD = 2
ADADELTA = 3
E2E = 4

#: The codes by the rule names, ``Optimizer.name`` (and ``"e2e"``).
CODES = {"sgd": SGD, "adam": ADAM, "adagrad": ADAGRAD, "adadelta": ADADELTA, "e2e": E2E}

_TINY = float(np.finfo(np.float64).tiny)


@njit(cache=True, inline="always")
def end_to_end_into(params, work, data):
    """Fill ``work.suffix`` with the suffix products and ``work.W_e`` with ``W_e``."""
    suffix_products(params, work.kd, work.suffix)
    copy(work.W_e, stack_block(work.suffix, work.kd, 0), data.transposed)


@njit(cache=True, inline="always")
def gradients_from_grad_e(params, work, data, value):
    """From ``work.grad_e``, fill ``work.dW`` with the objective's factor
    gradients; return the objective, ``value`` (the loss) plus the penalty.

    Equations::

        F    = L(W_e) + weight_decay/2 sum_j ||W_j||^2
        dW_j = (chain gradient of L) + weight_decay * W_j
    """
    copy(work.grad_k, work.grad_e, data.transposed)
    factor_gradients(params, work.kd, work.suffix, work.grad_k, work.g_prefix_t, work.dW)
    weight_decay = data.weight_decay
    if weight_decay != 0.0:
        dW = work.dW
        for i in range(params.size):
            dW[i] += weight_decay * params[i]
        value = value + 0.5 * weight_decay * squared_norm_sum(params)
    return value


@njit(cache=True)
def losses_into(W_es, grad_es, values, active, data, X, C, M4, omega):
    """The loss of each active run b at ``W_es[b]`` into ``values[b]``, its
    gradient into ``grad_es[b]`` (shapes (B, k, d)), in the form ``data`` holds:

    - ``X = data.X`` given: one lp pass over ``X`` for all the runs
      (``loss.lp_batch_value_and_grad_e``);
    - ``C = data.C`` given: l2 from the second moments (``loss.l2_gram_value_and_grad_e``);
    - ``M4 = data.M4`` given: l4 from the fourth moments (``loss.l4_moments_value_and_grad_e``);
    - ``omega = data.omega_rows`` given: matrix completion on the observed
      entries (``loss.completion_value_and_grad_e``).

    Exactly one of them is an array and the others are None. numba removes a
    branch on ``arg is not None`` before compiling when the argument is None,
    so each kind of ``Data`` compiles only its own form: a loop on l2 data
    never compiles the lp pass, and the other way round.
    """
    if X is not None:
        lp_batch_value_and_grad_e(W_es, X, data.Y, data.p, grad_es, values, active)
    if C is not None:
        for b in range(W_es.shape[0]):
            if active[b]:
                values[b] = l2_gram_value_and_grad_e(W_es[b], C, data.Bt, data.yy, grad_es[b])
    if M4 is not None:
        for b in range(W_es.shape[0]):
            if active[b]:
                values[b] = l4_moments_value_and_grad_e(W_es[b], M4, data.M4_rows, grad_es[b])
    if omega is not None:
        for b in range(W_es.shape[0]):
            if active[b]:
                values[b] = completion_value_and_grad_e(W_es[b], omega, data.omega_cols,
                                                        data.omega_values, grad_es[b])


@njit(cache=True, inline="always")
def run_workspace(work, b):
    """Run ``b``'s ``Workspace`` (views) of a batch workspace."""
    return Workspace(work.kd, work.suffix[b], work.g_prefix_t[b], work.dW[b], work.W_e[b],
                     work.grad_e[b], work.grad_k[b])


@njit(cache=True, inline="always")
def optimizer_step(params, grads, states, optimizer, b, t):
    """Step ``t`` (1-based) of run ``b``'s rule on all its factors at once, in place.

    Every rule is elementwise, so one pass over the flat arrays is the same
    computation as one pass per factor. The kernel of ``optimizer.code``
    gets its state arrays and hyperparameters by name: row ``b`` of the
    fields of ``states`` and ``optimizer.hyper`` named by its parameters.

    Parameters
    ----------
    params : ndarray, shape (P,)
        Run b's flat factors; updated in place.
    grads : ndarray, shape (P,)
    states : States
        Fields of shape (B, P) or (B, 0); row b updated in place.
    optimizer : OptimizerArgs
        ``hyper`` fields of shape (B,).
    b : int
    t : int
    """
    code, h, s = optimizer.code, optimizer.hyper, states
    if code == SGD:
        sgd_update(params, grads, momentum_buffer=s.momentum_buffer[b], t=t, lr=h.lr[b],
                   momentum=h.momentum[b], dampening=h.dampening[b],
                   nesterov=h.nesterov[b] != 0.0, weight_decay=h.weight_decay[b])
    elif code == ADAM:
        adam_update(params, grads, exp_avg=s.exp_avg[b], exp_avg_sq=s.exp_avg_sq[b],
                    max_exp_avg_sq=s.max_exp_avg_sq[b], t=t, lr=h.lr[b], beta1=h.beta1[b],
                    beta2=h.beta2[b], eps=h.eps[b], weight_decay=h.weight_decay[b],
                    amsgrad=h.amsgrad[b] != 0.0)
    elif code == ADAGRAD:
        adagrad_update(params, grads, sum=s.sum[b], t=t, lr=h.lr[b], lr_decay=h.lr_decay[b],
                       eps=h.eps[b], weight_decay=h.weight_decay[b])
    elif code == ADADELTA:
        adadelta_update(params, grads, square_avg=s.square_avg[b], acc_delta=s.acc_delta[b],
                        lr=h.lr[b], rho=h.rho[b], eps=h.eps[b], weight_decay=h.weight_decay[b])
    else:
        e2e_update(params, grads, lr=h.lr[b], depth=h.depth[b])


@njit(cache=True)
def train_loop(params, states, work, data, optimizer, run, losses, recorded, counts,
               diverged):
    """Run B runs of up to ``steps`` steps in lockstep; record their losses.

    The runs share the architecture, the data, the loss and the update rule;
    each has its own factors, state and hyperparameters (a grid's learning
    rates). Every step evaluates each active run's ``W_e``, then the loss of
    all of them (for lp, in one pass over the data:
    ``loss.lp_batch_value_and_grad_e``), then each run's factor gradients and
    update. A run's numbers do not depend on the others: they are the same,
    bit for bit, as with B = 1.

    Each run records its objective at step 0, every ``record_every`` steps,
    at the last step and at the step where it diverged (non-finite, or above
    ``divergence_factor`` times its initial value), where it stops; the
    others go on.

    Parameters
    ----------
    params : ndarray, shape (B, P)
        Row b: run b's flat factors (layout ``work.kd``); trained in place.
    states : States
        Arrays of shape (B, P), or (B, 0) for a state the rule does not use.
    work : Workspace
        Every buffer but ``kd`` with a leading axis of B runs.
    data : Data
    optimizer : OptimizerArgs
        ``hyper`` fields of shape (B,): entry b is run b's.
    run : RunArgs
    losses : ndarray, shape (B, steps // record_every + 2)
    recorded : ndarray of int64, shape (B, steps // record_every + 2)
    counts : ndarray of int64, shape (B,)
        Written: number of entries recorded by each run.
    diverged : ndarray of bool, shape (B,)
        Written: whether each run diverged.
    """
    steps, record_every = run.steps, run.record_every
    divergence_factor = run.divergence_factor
    B = params.shape[0]
    active = np.ones(B, dtype=np.bool_)
    values = np.empty(B)
    limits = np.zeros(B)
    for b in range(B):
        counts[b] = 0
        diverged[b] = False
    for t in range(steps + 1):
        for b in range(B):
            if active[b]:
                end_to_end_into(params[b], run_workspace(work, b), data)
        losses_into(work.W_e, work.grad_e, values, active, data, data.X, data.C, data.M4,
                    data.omega_rows)
        left = 0
        for b in range(B):
            if not active[b]:
                continue
            w = run_workspace(work, b)
            value = gradients_from_grad_e(params[b], w, data, values[b])
            if t == 0:
                limits[b] = divergence_factor * max(value, _TINY)
            if not np.isfinite(value) or value > limits[b]:
                diverged[b] = True
            if t % record_every == 0 or t == steps or diverged[b]:
                losses[b, counts[b]] = value
                recorded[b, counts[b]] = t
                counts[b] += 1
            if diverged[b] or t == steps:
                active[b] = False
                continue
            left += 1
            optimizer_step(params[b], w.dW, states, optimizer, b, t + 1)
        if left == 0:
            break
