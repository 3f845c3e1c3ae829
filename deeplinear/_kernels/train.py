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
  ``adagrad_update`` / ``adadelta_update`` on each factor's 1-D view.

No update rule or loss formula is written here a second time.

Conventions (see ``chain``): ``factors`` is the list the chain kernels work
on. When ``deeplinear._compiled`` runs the transposed network (``d_0 < d_N``), these
are ``[W_N^T, ..., W_1^T]``; every optimizer rule is elementwise, so updating
the transposed factors with transposed gradients gives the same numbers.

Arguments are grouped in tuples so that no kernel takes twenty arguments:

``work = (suffix, g_prefix_t, dW, W_e, grad_e, grad_k)``
    Chain workspaces (typed lists, as built by ``deeplinear._compiled.Chain``); ``W_e`` and
    ``grad_e`` of shape (d_N, d_0) for the loss; ``grad_k`` shaped like
    ``suffix[0]``, the loss gradient in the chain's orientation.
``data = (X, Y, C, Bt, yy, p, weight_decay, transposed)``
    For l2, ``C, Bt, yy`` are the precomputed moments (see
    ``loss.l2_gram_value_and_grad_e``); otherwise ``C`` is empty and the
    ``lp`` pass over ``X, Y`` is used with exponent ``p``.
``states = (s0, s1, s2)``
    Three typed lists of 1-D state arrays, one per factor, in the order the
    optimizer kernel takes them; an unused slot holds empty arrays.
``optimizer = (code, hyper)``
    ``code`` is one of ``SGD, ADAM, ADAGRAD, ADADELTA`` and ``hyper`` a float
    array of that rule's hyperparameters (flags as 0.0 / 1.0):

    - SGD:      ``[lr, momentum, dampening, nesterov, weight_decay]``
    - ADAM:     ``[lr, beta1, beta2, eps, weight_decay, amsgrad]``
    - ADAGRAD:  ``[lr, lr_decay, eps, weight_decay]``
    - ADADELTA: ``[lr, rho, eps, weight_decay]``
``run = (steps, record_every, divergence_factor)``
"""

import numpy as np
from numba import njit

from .chain import factor_gradients, squared_norm_sum, suffix_products
from .loss import l2_gram_value_and_grad_e, lp_value_and_grad_e
from .optim import adadelta_update, adagrad_update, adam_update, sgd_update

SGD = 0
ADAM = 1
ADAGRAD = 2
ADADELTA = 3

_TINY = float(np.finfo(np.float64).tiny)


@njit(cache=True)
def objective_value_and_grads(factors, work, data):
    """Objective value; fills ``work[2]`` (dW) with its factor gradients.

    Equations::

        F    = L(W_e) + weight_decay/2 sum_j ||W_j||^2
        dW_j = (chain gradient of L) + weight_decay * W_j
    """
    suffix, g_prefix_t, dW, W_e, grad_e, grad_k = work
    X, Y, C, Bt, yy, p, weight_decay, transposed = data
    suffix_products(factors, suffix)
    if transposed:
        W_e[:, :] = suffix[0].T
    else:
        W_e[:, :] = suffix[0]
    if C.shape[0] > 0:
        value = l2_gram_value_and_grad_e(W_e, C, Bt, yy, grad_e)
    else:
        value = lp_value_and_grad_e(W_e, X, Y, p, grad_e)
    if transposed:
        grad_k[:, :] = grad_e.T
    else:
        grad_k[:, :] = grad_e
    factor_gradients(factors, suffix, grad_k, g_prefix_t, dW)
    if weight_decay != 0.0:
        for j in range(len(factors)):
            W = factors[j]
            D = dW[j]
            for a in range(W.shape[0]):
                for b in range(W.shape[1]):
                    D[a, b] += weight_decay * W[a, b]
        value = value + 0.5 * weight_decay * squared_norm_sum(factors)
    return value


@njit(cache=True)
def optimizer_step(factors, grads, states, t, optimizer):
    """Step ``t`` (1-based) of the chosen rule on every factor, in place."""
    code, hyper = optimizer
    s0, s1, s2 = states
    for j in range(len(factors)):
        p = factors[j].reshape(-1)
        g = grads[j].reshape(-1)
        if code == SGD:
            sgd_update(p, g, s0[j], t, hyper[0], hyper[1], hyper[2], hyper[3] != 0.0,
                       hyper[4])
        elif code == ADAM:
            adam_update(p, g, s0[j], s1[j], s2[j], t, hyper[0], hyper[1], hyper[2],
                        hyper[3], hyper[4], hyper[5] != 0.0)
        elif code == ADAGRAD:
            adagrad_update(p, g, s0[j], t, hyper[0], hyper[1], hyper[2], hyper[3])
        else:
            adadelta_update(p, g, s0[j], s1[j], hyper[0], hyper[1], hyper[2], hyper[3])


@njit(cache=True)
def train_loop(factors, states, work, data, optimizer, run, losses, recorded):
    """Run up to ``steps`` steps; record into ``losses`` / ``recorded``.

    Records the objective at step 0, every ``record_every`` steps, at the last
    step and at the step where it diverged (non-finite, or above
    ``divergence_factor`` times its initial value), where it stops.
    ``losses`` and ``recorded`` need ``steps // record_every + 2`` entries.

    Returns
    -------
    count : int
        Number of entries written.
    diverged : bool
    """
    steps, record_every, divergence_factor = run
    dW = work[2]
    count = 0
    diverged = False
    limit = 0.0
    for t in range(steps + 1):
        value = objective_value_and_grads(factors, work, data)
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
        optimizer_step(factors, dW, states, t + 1, optimizer)
    return count, diverged
