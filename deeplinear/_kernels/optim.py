"""Fused optimizer updates: one pass over one flattened parameter array.

Each kernel applies one step of one update rule to a single parameter, in
place: the twin of that rule's NumPy ``update`` method in ``deeplinear.optim``,
run by the compiled training loop. All arrays are 1-D float64 of the same
length; the caller passes ``W.reshape(-1)`` of a C-contiguous factor, which
is a *view*, so writing into
``p`` writes into the factor itself. State arrays (momentum buffer, moment
estimates, accumulators) are updated in place the same way.

``t`` is the 1-based number of the step being taken (``t = 1`` on the first
call). Scalars are plain floats, flags plain bools, so the kernels can also be
called from other compiled code. Like every kernel here they trust their
inputs: shapes, dtypes and ranges are checked once in ``deeplinear.optim``.

The update rules follow the algorithms documented for ``torch.optim``
(see ``deeplinear.optim`` for the equations and references). Weight decay is
an L2 term added to the gradient, ``g <- g + weight_decay * p``, and is
skipped entirely when ``weight_decay == 0`` (so an infinite ``p`` does not
turn into ``0 * inf = nan`` through a term that should not be there).
"""

from __future__ import annotations

import math

from numba import njit

__all__ = ["sgd_update", "adam_update", "adagrad_update", "adadelta_update"]


@njit(cache=True)
def sgd_update(p, g, buf, t, lr, momentum, dampening, nesterov, weight_decay):
    """One SGD step, optionally with (Nesterov) momentum.

    ``buf`` is the momentum buffer; it is neither read nor written when
    ``momentum == 0`` (it may then be an empty array). On the first step
    (``t == 1``) the buffer is set to the gradient, afterwards
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
                b = momentum * buf[i] + (1.0 - dampening) * gi
            buf[i] = b
            if nesterov:
                gi = gi + momentum * b
            else:
                gi = b
        p[i] = p[i] - lr * gi


@njit(cache=True)
def adam_update(p, g, m, v, vmax, t, lr, beta1, beta2, eps, weight_decay, amsgrad):
    """One Adam (or AMSGrad) step.

    ``m`` and ``v`` are the first and second moment estimates. ``vmax`` is the
    running maximum of ``v`` used by AMSGrad; it is neither read nor written
    when ``amsgrad`` is false (it may then be an empty array).
    """
    bias_correction1 = 1.0 - beta1 ** t
    bias_correction2 = 1.0 - beta2 ** t
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.sqrt(bias_correction2)
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * p[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            # written as "not <=" so that a NaN in v propagates into vmax,
            # as np.maximum (and torch.maximum) would do
            if not vi <= vmax[i]:
                vmax[i] = vi
            v_used = vmax[i]
        else:
            v_used = vi
        denom = math.sqrt(v_used) / bias_correction2_sqrt + eps
        p[i] = p[i] - step_size * (mi / denom)


@njit(cache=True)
def adagrad_update(p, g, state_sum, t, lr, lr_decay, eps, weight_decay):
    """One AdaGrad step; ``state_sum`` accumulates the squared gradients."""
    clr = lr / (1.0 + (t - 1) * lr_decay)
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * p[i]
        s = state_sum[i] + gi * gi
        state_sum[i] = s
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
