"""Fused optimizer updates: one pass over one flat parameter array.

Each kernel applies one step of one update rule, in place: the twin of that
rule's NumPy ``update`` method in ``deeplinear.optim``, run by the compiled
training loop. All arrays are 1-D float64 of the same length. The loop
passes the flat array of *all* the factors of a run, the blocks one after
the other (the layout of ``interface.Workspace.kd``), and its flat gradient
and state arrays in the same layout: every rule is elementwise, so one pass
over them is one step of every factor. Writing into ``p`` and into the state
arrays (momentum buffer, moment estimates, accumulators) updates them in place.

The parameters are named as the optimizer classes name them: the state
arrays by their keys in ``Optimizer.state[j]`` (the class's
``kernel_state``), the hyperparameters by the class's ``kernel_fields``;
``deeplinear._kernels.train`` passes both by these names.

``t`` is the 1-based number of the step being taken (``t = 1`` on the first
call). Scalars are plain floats, flags plain bools, so the kernels can also be
called from other compiled code. Like every kernel here they trust their
inputs: shapes, dtypes and ranges are checked once in ``deeplinear.optim``.

The update rules follow the algorithms documented for ``torch.optim``
(see ``deeplinear.optim`` for the equations and references). Weight decay is
an L2 term added to the gradient, ``g <- g + weight_decay * p``, and is
skipped entirely when ``weight_decay == 0`` (so an infinite ``p`` does not
turn into ``0 * inf = nan`` through a term that should not be there). The
training entry points always pass 0 here: their weight decay is the
objective's, in the gradients already.

:func:`e2e_update` is not a factor optimizer: it is the end-to-end update of
Theorem 1 for one output (the twin of
``deeplinear.dynamics.e2e_update_single_output`` without weight decay), run
by the compiled loop on the one-factor chain ``[W_e]``, whose factor
gradient is ``grad_e`` itself. It takes no state and no ``t``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["sgd_update", "adam_update", "adagrad_update", "adadelta_update", "e2e_update"]


@njit(cache=True)
def sgd_update(p, g, momentum_buffer, t, lr, momentum, dampening, nesterov, weight_decay):
    """One SGD step, optionally with (Nesterov) momentum.

    ``momentum_buffer`` is neither read nor written when ``momentum == 0``
    (it may then be an empty array). On the first step (``t == 1``) the
    buffer is set to the gradient, afterwards
    ``buf <- momentum * buf + (1 - dampening) * g``.
    """
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * p[i]
        if momentum != 0.0:
            if t == 1:
                b = gi
            else:
                b = momentum * momentum_buffer[i] + (1.0 - dampening) * gi
            momentum_buffer[i] = b
            if nesterov:
                gi = gi + momentum * b
            else:
                gi = b
        p[i] = p[i] - lr * gi


@njit(cache=True)
def adam_update(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, t, lr, beta1, beta2, eps,
                weight_decay, amsgrad):
    """One Adam (or AMSGrad) step.

    ``exp_avg`` (m) and ``exp_avg_sq`` (v) are the first and second moment
    estimates. ``max_exp_avg_sq`` (vmax) is the running maximum of v used by
    AMSGrad; it is neither read nor written when ``amsgrad`` is false (it may
    then be an empty array).
    """
    # float(t): numba computes ``float ** int`` by repeated multiplication, and
    # Python (NUMBA_DISABLE_JIT=1, the NumPy rule) by libm's pow; with a
    # float exponent both call pow, so the bits agree.
    bias_correction1 = 1.0 - beta1 ** float(t)
    bias_correction2 = 1.0 - beta2 ** float(t)
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.sqrt(bias_correction2)
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * p[i]
        mi = beta1 * exp_avg[i] + (1.0 - beta1) * gi
        vi = beta2 * exp_avg_sq[i] + (1.0 - beta2) * gi * gi
        exp_avg[i] = mi
        exp_avg_sq[i] = vi
        if amsgrad:
            # written as "not <=" so that a NaN in v propagates into vmax,
            # as np.maximum (and torch.maximum) would do
            if not vi <= max_exp_avg_sq[i]:
                max_exp_avg_sq[i] = vi
            v_used = max_exp_avg_sq[i]
        else:
            v_used = vi
        denom = math.sqrt(v_used) / bias_correction2_sqrt + eps
        p[i] = p[i] - step_size * (mi / denom)


@njit(cache=True)
def adagrad_update(p, g, sum, t, lr, lr_decay, eps, weight_decay):  # noqa: A002 (the state key)
    """One AdaGrad step; ``sum`` accumulates the squared gradients."""
    clr = lr / (1.0 + (t - 1) * lr_decay)
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * p[i]
        s = sum[i] + gi * gi
        sum[i] = s
        p[i] = p[i] - clr * (gi / (math.sqrt(s) + eps))


@njit(cache=True)
def adadelta_update(p, g, square_avg, acc_delta, lr, rho, eps, weight_decay):
    """One AdaDelta step.

    ``square_avg`` is the running average of squared gradients and
    ``acc_delta`` that of squared updates. AdaDelta has no step-count
    dependence, so unlike the other kernels this one takes no ``t``.
    """
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * p[i]
        vi = rho * square_avg[i] + (1.0 - rho) * gi * gi
        square_avg[i] = vi
        dx = math.sqrt(acc_delta[i] + eps) / math.sqrt(vi + eps) * gi
        acc_delta[i] = rho * acc_delta[i] + (1.0 - rho) * dx * dx
        p[i] = p[i] - lr * dx


@njit(cache=True)
def e2e_update(p, g, lr, depth):
    r"""One step of the end-to-end update of Theorem 1 for one output, in place.

    ``p`` is the flat ``W_e`` (its ``d_0`` entries; one output), ``g`` the
    flat ``dL/dW_e``. The twin of
    ``deeplinear.dynamics.e2e_update_single_output`` with weight decay 0,
    in the same order of operations but for its two sums (``||W_e||`` and
    ``g . u``), which run here left to right:

    .. math::

        W_e \leftarrow W_e - \eta \lVert W_e \rVert^{2 - \frac{2}{N}}
            \left(g + (N-1) (g \cdot u)\, u\right),
        \qquad u = \frac{W_e}{\lVert W_e \rVert}

    with :math:`\eta` = ``lr`` and :math:`N` = ``depth`` (a float holding an
    integer >= 1). Depth 1 is plain gradient descent; for depth >= 2 the step
    at ``W_e = 0`` is zero. The norm is a NumPy float64 (``np.sqrt``), so that
    its power overflows to inf under ``NUMBA_DISABLE_JIT=1`` as it does
    compiled, instead of raising Python's ``OverflowError``.
    """
    if depth == 1.0:
        for i in range(p.size):
            p[i] = p[i] - lr * g[i]
        return
    sq = 0.0
    for i in range(p.size):
        sq += p[i] * p[i]
    norm = np.sqrt(sq)
    if norm == 0.0:
        return
    gu = 0.0
    for i in range(p.size):
        gu += g[i] * (p[i] / norm)
    scale = lr * norm ** (2.0 - 2.0 / depth)
    for i in range(p.size):
        p[i] = p[i] - scale * (g[i] + (depth - 1.0) * (gu * (p[i] / norm)))
