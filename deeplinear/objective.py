"""The training objective of a deep linear network on a fixed data set.

Equations::

    F(W_1..W_N) = L(W_N ... W_1) + (weight_decay / 2) sum_j ||W_j||_F^2
    dF/dW_j     = (W_N...W_{j+1})^T grad_e (W_{j-1}...W_1)^T + weight_decay W_j

where ``grad_e = dL/dW_e``. For the l2 loss everything that depends only on
the data (``X^T X / n``, ``Y^T X / n`` and ``||Y||^2 / n``) is computed once, so
that an evaluation costs nothing proportional to the number of samples n.
"""

from __future__ import annotations

import numpy as np

from ._kernels import loss as _loss
from ._kernels import train as _kt
from ._validation import as_factors, check_data, check_nonnegative
from .linalg import Chain
from .losses import get_loss

__all__ = ["Objective", "loss_and_gradients"]


class Objective:
    """Loss of a linear network on data ``(X, Y)``, with its factor gradients.

    Parameters
    ----------
    X : ndarray, shape (n, d_0)
        Inputs, one sample per row.
    Y : ndarray, shape (n, d_N)
        Targets.
    loss : str or Loss, default "l2"
        ``"l2"`` (mean squared error), ``"l4"``, ``"l<p>"``, or a Loss.
    weight_decay : float, default 0.0
        lambda >= 0 of the penalty ``lambda/2 sum_j ||W_j||_F^2``.

    Attributes
    ----------
    gram : tuple or None
        For l2, ``(C, Bt, yy)`` with C = X^T X / n (d_0, d_0),
        Bt = Y^T X / n (d_N, d_0) and yy = ||Y||_F^2 / n.
    """

    def __init__(self, X, Y, loss="l2", weight_decay=0.0):
        self.X, self.Y = check_data(X, Y)
        self.loss = get_loss(loss)
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.gram = None
        if self.loss.p == 2.0:
            n = self.X.shape[0]
            C = np.ascontiguousarray(self.X.T @ self.X / n)
            Bt = np.ascontiguousarray(self.Y.T @ self.X / n)
            yy = float(np.sum(self.Y * self.Y) / n)
            self.gram = (C, Bt, yy)
        self._chains = {}

    @property
    def d_in(self) -> int:
        return self.X.shape[1]

    @property
    def d_out(self) -> int:
        return self.Y.shape[1]

    def data_loss_and_grad_e(self, W_e):
        """Data loss ``L(W_e)`` and ``grad_e = dL/dW_e`` (d_N, d_0), without weight decay."""
        grad_e = np.empty_like(W_e)
        if self.gram is not None:
            C, Bt, yy = self.gram
            value = _loss.l2_gram_value_and_grad(W_e, C, Bt, yy, grad_e)
        else:
            value = _loss.lp_value_and_grad(W_e, self.X, self.Y, self.loss.p, grad_e)
        return float(value), grad_e

    def _checked(self, factors):
        factors = as_factors(factors)
        if factors[0].shape[1] != self.d_in:
            raise ValueError(
                f"factors[0] (W_1): has {factors[0].shape[1]} columns but X has "
                f"d_0 = {self.d_in} features"
            )
        if factors[-1].shape[0] != self.d_out:
            raise ValueError(
                f"factors[{len(factors) - 1}] (W_N): has {factors[-1].shape[0]} rows but Y has "
                f"d_N = {self.d_out} columns"
            )
        dims = tuple([self.d_in] + [W.shape[0] for W in factors])
        if dims not in self._chains:
            self._chains[dims] = Chain(dims)
        return factors, self._chains[dims]

    def value(self, factors) -> float:
        """Objective value ``L(W_e) + weight_decay/2 sum_j ||W_j||^2``."""
        factors, chain = self._checked(factors)
        return self._value_and_gradients(factors, chain)[0]

    __call__ = value

    def value_and_gradients(self, factors):
        """Objective value and ``[dF/dW_1, ..., dF/dW_N]``.

        Parameters
        ----------
        factors : list of ndarray, shape (d_j, d_{j-1})

        Returns
        -------
        value : float
        grads : list of ndarray, shape (d_j, d_{j-1})
        """
        factors, chain = self._checked(factors)
        return self._value_and_gradients(factors, chain)

    def _value_and_gradients(self, factors, chain):
        """:meth:`value_and_gradients` without input checks, for training loops.

        It runs the same kernel as one step of the compiled training loop.
        """
        value = _kt.objective_and_gradients(chain._kernel_factors(factors), chain.work,
                                            self.kernel_data(chain.transposed))
        return float(value), chain.unkernel(chain.dW)

    def kernel_data(self, transposed: bool) -> tuple:
        """The ``data`` tuple of ``_kernels.train``: what the objective kernel reads."""
        if self.gram is not None:
            C, Bt, yy = self.gram
        else:
            C, Bt, yy = np.empty((0, 0)), np.empty((0, 0)), 0.0
        return (self.X, self.Y, C, Bt, float(yy), self.loss.p, self.weight_decay,
                bool(transposed))


def loss_and_gradients(factors, X, Y, loss="l2", weight_decay=0.0):
    """Objective value and factor gradients of a linear network on ``(X, Y)``.

    A one-shot wrapper around :class:`Objective`; build an ``Objective`` once
    when evaluating many times on the same data.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
    X : ndarray, shape (n, d_0)
    Y : ndarray, shape (n, d_N)
    loss : str or Loss, default "l2"
    weight_decay : float, default 0.0

    Returns
    -------
    value : float
        ``L(W_e) + weight_decay/2 sum_j ||W_j||_F^2``.
    grads : list of ndarray, shape (d_j, d_{j-1})
    """
    return Objective(X, Y, loss, weight_decay).value_and_gradients(factors)
