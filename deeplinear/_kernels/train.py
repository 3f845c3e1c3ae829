"""The whole training loop as one compiled function.

For the small matrices of a deep linear network, the Python overhead of one
training step (list handling, dispatch of a handful of kernels) costs more
than the arithmetic. :func:`train_loop` runs all the steps in compiled code,
calling the twins of the NumPy functions that the step-by-step Python loop
runs:

- :func:`objective_value_and_grads`: ``chain.suffix_products``, then
  ``loss.l2_gram_value_and_grad_e`` or ``loss.lp_value_and_grad_e``, then
  ``chain.factor_gradients``, then the weight-decay term;
- :func:`optimizer_step`: ``optim.sgd_update`` / ``adam_update`` /
  ``adagrad_update`` / ``adadelta_update`` on the flat array of all the factors.

No update rule or loss formula is written here a second time.

Conventions (see ``chain``): ``params`` is the flat array of the factors the
chain kernels work on, in the layout ``work.kd`` describes. When
``deeplinear._compiled`` runs the transposed network (``d_0 < d_N``), these are
``[W_N^T, ..., W_1^T]``; every optimizer rule is elementwise, so updating
the transposed factors with transposed gradients gives the same numbers, and
so does updating all the factors in one pass over the flat array.

Arguments are grouped in the named tuples of ``interface`` (``Workspace``,
``Data``, ``States``, ``OptimizerArgs``, ``RunArgs``), read here by field
name, so that no kernel takes twenty arguments.
"""

import numpy as np
from numba import njit

from .chain import copy, factor_gradients, squared_norm_sum, stack_block, suffix_products
from .loss import l2_gram_value_and_grad_e, lp_value_and_grad_e
from .optim import adadelta_update, adagrad_update, adam_update, sgd_update

__all__ = ["SGD", "ADAM", "ADAGRAD", "ADADELTA", "CODES", "objective_value_and_grads",
           "optimizer_step", "train_loop"]

#: ``OptimizerArgs.code`` of each update rule.
SGD = 0
ADAM = 1
ADAGRAD = 2
ADADELTA = 3

#: The codes by the rule names that ``Optimizer.kernel_args`` returns.
CODES = {"sgd": SGD, "adam": ADAM, "adagrad": ADAGRAD, "adadelta": ADADELTA}

_TINY = float(np.finfo(np.float64).tiny)


@njit(cache=True, inline="always")
def objective_value_and_grads(params, work, data):
    """Objective value; fills ``work.dW`` with its factor gradients.

    Equations::

        F    = L(W_e) + weight_decay/2 sum_j ||W_j||^2
        dW_j = (chain gradient of L) + weight_decay * W_j

    Parameters
    ----------
    params : ndarray, shape (sum_j kd_j kd_{j-1},)
        The factors in the kernels' orientation, flat (layout ``work.kd``).
    work : Workspace
        Written: every buffer.
    data : Data

    Returns
    -------
    float
    """
    kd, suffix, dW = work.kd, work.suffix, work.dW
    W_e, grad_e, grad_k = work.W_e, work.grad_e, work.grad_k
    weight_decay = data.weight_decay
    suffix_products(params, kd, suffix)
    copy(W_e, stack_block(suffix, kd, 0), data.transposed)
    if data.C.shape[0] > 0:
        value = l2_gram_value_and_grad_e(W_e, data.C, data.Bt, data.yy, grad_e)
    else:
        value = lp_value_and_grad_e(W_e, data.X, data.Y, data.p, grad_e)
    copy(grad_k, grad_e, data.transposed)
    factor_gradients(params, kd, suffix, grad_k, work.g_prefix_t, dW)
    if weight_decay != 0.0:
        for i in range(params.size):
            dW[i] += weight_decay * params[i]
        value = value + 0.5 * weight_decay * squared_norm_sum(params)
    return value


@njit(cache=True, inline="always")
def optimizer_step(params, grads, states, t, optimizer):
    """Step ``t`` (1-based) of the chosen rule on all the factors at once, in place.

    Every rule is elementwise, so one pass over the flat arrays is the same
    computation as one pass per factor.

    Parameters
    ----------
    params : ndarray, shape (P,)
        The flat factors; updated in place.
    grads : ndarray, shape (P,)
    states : States
        Updated in place.
    t : int
    optimizer : OptimizerArgs
    """
    code, hyper = optimizer.code, optimizer.hyper
    s0, s1, s2 = states.s0, states.s1, states.s2
    if code == SGD:
        sgd_update(params, grads, s0, t, hyper[0], hyper[1], hyper[2], hyper[3] != 0.0,
                   hyper[4])
    elif code == ADAM:
        adam_update(params, grads, s0, s1, s2, t, hyper[0], hyper[1], hyper[2], hyper[3],
                    hyper[4], hyper[5] != 0.0)
    elif code == ADAGRAD:
        adagrad_update(params, grads, s0, t, hyper[0], hyper[1], hyper[2], hyper[3])
    else:
        adadelta_update(params, grads, s0, s1, hyper[0], hyper[1], hyper[2], hyper[3])


@njit(cache=True)
def train_loop(params, states, work, data, optimizer, run, losses, recorded):
    """Run up to ``steps`` steps; record into ``losses`` / ``recorded``.

    Records the objective at step 0, every ``record_every`` steps, at the last
    step and at the step where it diverged (non-finite, or above
    ``divergence_factor`` times its initial value), where it stops.
    ``losses`` and ``recorded`` need ``steps // record_every + 2`` entries.

    Parameters
    ----------
    params : ndarray, shape (P,)
        The flat factors (layout ``work.kd``); trained in place.
    states : States
    work : Workspace
    data : Data
    optimizer : OptimizerArgs
    run : RunArgs
    losses : ndarray, shape (steps // record_every + 2,)
    recorded : ndarray of int64, shape (steps // record_every + 2,)

    Returns
    -------
    count : int
        Number of entries written.
    diverged : bool
    """
    steps, record_every = run.steps, run.record_every
    divergence_factor = run.divergence_factor
    dW = work.dW
    count = 0
    diverged = False
    limit = 0.0
    for t in range(steps + 1):
        value = objective_value_and_grads(params, work, data)
        if t == 0:
            limit = divergence_factor * max(value, _TINY)
        if not np.isfinite(value) or value > limit:
            diverged = True
        if t % record_every == 0 or t == steps or diverged:
            losses[count] = value
            recorded[count] = t
            count += 1
        if diverged or t == steps:
            break
        optimizer_step(params, dW, states, t + 1, optimizer)
    return count, diverged
