r"""Losses of the predictions ``X @ W_e.T`` against targets ``Y``.

Both are means over all ``n * k`` entries, so ``l2`` is PyTorch's
``MSELoss`` (the loss of Levy & Wang's report) and ``lp(4)`` is the l4 loss
for which Arora, Cohen & Hazan (2018) observe acceleration by depth.

.. math::

    L(W_e) &= \frac{1}{nk} \sum_{i,a} \lvert (X W_e^\top - Y)_{ia} \rvert^p \\
    \frac{\partial L}{\partial \hat Y} &= \frac{p}{nk} \lvert \hat Y - Y \rvert^{p-1}
        \operatorname{sign}(\hat Y - Y) \quad \text{entrywise, } \hat Y = X W_e^\top \\
    \frac{\partial L}{\partial W_e} &= \left(\frac{\partial L}{\partial \hat Y}\right)^\top X
        \quad \text{shape } (k, d)

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan. On the Optimization of Deep Networks:
   Implicit Acceleration by Overparameterization. ICML 2018, Section 7.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_matrix, check_data

__all__ = ["Loss", "l2", "l4", "lp", "get_loss"]


class Loss:
    """Mean p-th power loss ``mean(|pred - Y|^p)``; use :func:`lp` or ``l2``.

    Parameters
    ----------
    p : float
        Exponent, > 1 so that the gradient is continuous.
    """

    def __init__(self, p: float):
        self.p = float(p)
        self.name = f"l{int(p)}" if float(p).is_integer() else f"l{p:g}"

    def __repr__(self):
        return f"Loss(p={self.p:g}, name={self.name!r})"

    def value(self, pred, Y) -> float:
        """Loss value.

        Parameters
        ----------
        pred, Y : ndarray, shape (n, k)
        """
        pred, Y = _check_pred(pred, Y)
        return float(np.mean(np.abs(pred - Y) ** self.p))

    def grad_pred(self, pred, Y) -> np.ndarray:
        """Gradient with respect to the predictions, shape (n, k)."""
        pred, Y = _check_pred(pred, Y)
        # BEGIN SOLUTION loss_gradient: dL/dpred of L = mean(|pred - Y|^p) over all n*k entries: p
        #   |r|^(p-1) sign(r) / (n k) with r = pred - Y
        r = pred - Y
        return self.p * np.abs(r) ** (self.p - 1) * np.sign(r) / r.size
        # END SOLUTION

    def value_and_grad_e(self, W_e, X, Y, *, check=True):
        r"""Loss and its gradient with respect to ``W_e``, through the predictions.

        .. math::

            \hat Y = X W_e^\top \ \text{(shape } (n, k)\text{)}, \qquad
            L = \operatorname{mean} \lvert \hat Y - Y \rvert^p, \qquad
            \nabla L(W_e) = \left(\frac{\partial L}{\partial \hat Y}\right)^\top X
            \ \text{(shape } (k, d)\text{)}

        Parameters
        ----------
        W_e : ndarray, shape (k, d)
        X : ndarray, shape (n, d)
        Y : ndarray, shape (n, k)
        check : bool, default True
            Check the inputs (types, shapes, finite ``W_e``, ``X`` and ``Y``).
            ``False`` skips that O(n d) pass for a training loop, whose
            ``Objective`` checked its data once; the inputs must then be
            float64 arrays of matching shapes.

        Returns
        -------
        value : float
        grad_e : ndarray, shape (k, d)
        """
        if check:
            W_e = as_matrix(W_e, "W_e")
            X, Y = check_data(X, Y, d_in=W_e.shape[1], d_out=W_e.shape[0])
        # BEGIN SOLUTION loss_gradient: value and dL/dW_e = (dL/dpred)^T X, shape (k, d), with pred
        #   = X W_e^T
        pred = X @ W_e.T
        return self.value(pred, Y), self.grad_pred(pred, Y).T @ X
        # END SOLUTION

    def grad_e(self, W_e, X, Y) -> np.ndarray:
        """Gradient with respect to ``W_e``, shape (k, d)."""
        return self.value_and_grad_e(W_e, X, Y)[1]


def lp(p) -> Loss:
    """The loss ``mean(|pred - Y|^p)``, for a real ``p > 1``."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not np.isfinite(p) or p <= 1:
        raise ValueError(f"p: expected a finite real number > 1, got {p!r}")
    return Loss(p)


l2 = lp(2)
l4 = lp(4)


def get_loss(loss) -> Loss:
    """Turn ``"l2"``, ``"l4"``, ``"l<p>"`` or a :class:`Loss` into a :class:`Loss`."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower().startswith("l"):
        try:
            return lp(float(loss[1:]))
        except ValueError:
            pass
    raise ValueError(
        f"loss: expected 'l2', 'l4', 'l<p>' with p > 1, or a deeplinear.losses.Loss, got {loss!r}"
    )


def _check_pred(pred, Y):
    pred = as_matrix(pred, "pred", allow_nonfinite=True)
    Y = as_matrix(Y, "Y")
    if pred.shape != Y.shape:
        raise ValueError(f"pred: expected the shape of Y {Y.shape}, got {pred.shape}")
    return pred, Y
