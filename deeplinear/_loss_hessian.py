"""The loss's second derivative in the predictions, for ``deeplinear.curvature``.

The loss ``L = mean(|X W_e^T - Y|^p)`` is a sum over entries of the
predictions, so its Hessian in ``vec(W_e)`` is block diagonal over the ``k``
outputs, block ``a`` being ``X^T diag(h_a) X`` with ``h = d^2L/dpred^2``
entrywise. :func:`second_derivative` forms ``h`` from the loss's own
gradient (``Loss.grad_pred``), never from a second copy of its formula, and
:func:`hessian_blocks` the blocks.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_matrix, check_data
from .losses import get_loss

__all__ = ["second_derivative", "hessian_blocks"]


def second_derivative(W_e, X, Y, loss, *, need_W_e=False):
    """Checked inputs and ``h = d^2L/dpred^2`` entrywise, shape (n, k), from the loss's gradient.

    ``dL/dpred = p |r|^(p-1) sign(r) / (n k)`` is ``Loss.grad_pred``; its
    derivative in ``pred`` is ``(p - 1) (dL/dpred) / r`` wherever ``r != 0``.
    l2 has the constant ``h = dL/dpred`` at residual 1 (``2 / (n k)``), so
    ``W_e`` may be None for it; for p > 2, ``h = 0`` where ``r = 0``; for
    p < 2, ``h`` does not exist there.
    """
    loss = get_loss(loss)
    X, Y = check_data(X, Y)
    if W_e is None and (loss.p != 2 or need_W_e):
        raise ValueError(f"W_e: required for {loss.name}, whose Hessian depends on the "
                         "residuals; only the l2 Hessian is the same at every W_e")
    if W_e is not None:
        W_e = as_matrix(W_e, "W_e")
        X, Y = check_data(X, Y, d_in=W_e.shape[1], d_out=W_e.shape[0])
    if loss.p == 2:                                      # (p - 1) dL/dpred at r = 1
        return W_e, X, Y, loss, (loss.p - 1) * loss.grad_pred(np.ones_like(Y), np.zeros_like(Y))
    pred = X @ W_e.T
    r = pred - Y
    with np.errstate(divide="ignore", invalid="ignore"):
        h = (loss.p - 1) * loss.grad_pred(pred, Y) / r
    if loss.p > 2:
        h[r == 0] = 0.0                                  # |r|^(p-2) = 0 there
    if not np.all(np.isfinite(h)):                       # 0 / 0 at r = 0 for p < 2
        raise ValueError(f"W_e: the Hessian of {loss.name} (p < 2) does not exist where a "
                         "residual is exactly zero, as one is here")
    return W_e, X, Y, loss, h


def hessian_blocks(W_e, X, Y, loss="l2"):
    """The k diagonal blocks (d, d) of H_e; for l2 one block stands for all."""
    W_e, X, Y, loss, h = second_derivative(W_e, X, Y, loss)
    if loss.p == 2:                                      # h is the same in every column
        return [(X * h[:, [0]]).T @ X], Y.shape[1]
    return [(X * h[:, [a]]).T @ X for a in range(Y.shape[1])], 1
