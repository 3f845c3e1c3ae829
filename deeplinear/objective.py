r"""The training objective of a deep linear network on a fixed data set.

.. math::

    F(W_1, \ldots, W_N) &= L(W_N \cdots W_1) + \frac{\lambda}{2} \sum_{j=1}^{N} \lVert W_j \rVert_F^2 \\
    \frac{\partial F}{\partial W_j} &= (W_N \cdots W_{j+1})^\top \, \nabla L(W_e) \,
        (W_{j-1} \cdots W_1)^\top + \lambda W_j

where :math:`\lambda` is ``weight_decay`` and :math:`\nabla L(W_e)`
(``grad_e``) is :math:`\partial L / \partial W_e`. Everything here runs on the NumPy functions of the
library: ``W_e`` from :func:`~deeplinear.network.end_to_end`, the loss and
``grad_e`` from :meth:`~deeplinear.losses.Loss.value_and_grad_e` (through the
predictions :math:`X W_e^\top`), the factor gradients from
:func:`~deeplinear.network.factor_gradients`. The compiled training loop
(``deeplinear._compiled``) computes the same objective with numba kernels; for
l2 it works from the moments :math:`X^\top X / n`, :math:`Y^\top X / n` and
:math:`\lVert Y \rVert_F^2 / n`,
which it computes on first use and keeps with the objective. An
``Objective`` holds read-only copies of ``X`` and ``Y``, so those moments can
never go stale: a later edit of the caller's arrays is not seen, by either loop.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_factors, check_data, check_nonnegative, read_only_copy
from .network import end_to_end, factor_gradients
from .losses import get_loss

__all__ = ["Objective", "value_and_grads"]


class Objective:
    """Loss of a linear network on data ``(X, Y)``, with its factor gradients.

    Parameters
    ----------
    X : ndarray, shape (n, d_0)
        Inputs, one sample per row. Copied: a later in-place edit of the
        caller's array does not change the objective.
    Y : ndarray, shape (n, d_N)
        Targets; copied like ``X``.
    loss : str or Loss, default "l2"
        ``"l2"`` (mean squared error), ``"l4"``, ``"l<p>"``, or a Loss.
    weight_decay : float, default 0.0
        lambda >= 0 of the penalty ``lambda/2 sum_j ||W_j||_F^2``, part of
        the objective's value (and of every loss a training run records).

    Attributes
    ----------
    X, Y : ndarray, read-only
        The objective's own float64 copies of the data; writing into them
        raises ``ValueError``. The data were checked (finite, shapes) here,
        once, so the training loops evaluate without checking them again.
    loss : Loss
    weight_decay : float
    compiled_loop : bool
        Whether the compiled training loop has a kind for this objective
        (True here); ``train(..., compiled=None)`` takes the Python loop
        for an objective that has none.
    kind : str
        ``"data"``: a loss of predictions on ``(X, Y)``. The objectives of
        :mod:`deeplinear.completion` have their own (``"completion"``, ...).
    """

    compiled_loop = True
    kind = "data"

    def __init__(self, X, Y, loss="l2", weight_decay=0.0):
        X, Y = check_data(X, Y)
        self.X, self.Y = read_only_copy(X), read_only_copy(Y)
        self.loss = get_loss(loss)
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")

    @property
    def d_in(self) -> int:
        return self.X.shape[1]

    @property
    def d_out(self) -> int:
        return self.Y.shape[1]

    def value_and_grad_e(self, W_e, *, check=True):
        """Data loss ``L(W_e)`` and ``grad_e = dL/dW_e`` (d_N, d_0), without weight decay.

        Parameters
        ----------
        W_e : ndarray, shape (d_N, d_0)
        check : bool, default True
            Check ``W_e`` (and the data again). ``False`` is for training
            loops, which pass a float64 ``W_e`` of the right shape on every
            step: the data were checked when the objective was built.

        Returns
        -------
        value : float
        grad_e : ndarray, shape (d_N, d_0)
        """
        return self.loss.value_and_grad_e(W_e, self.X, self.Y, check=check)

    def check_factors(self, factors) -> list[np.ndarray]:
        """``factors`` checked as a network for this objective's data.

        Parameters
        ----------
        factors : list of ndarray, shape (d_j, d_{j-1})
            Finite float matrices that chain (``W_j`` has as many columns as
            ``W_{j-1}`` has rows), ``W_1`` with ``d_0`` columns (the features
            of ``X``) and ``W_N`` with ``d_N`` rows (the columns of ``Y``).

        Returns
        -------
        list of ndarray
            The factors as C-contiguous float64 arrays (the same objects
            where they already are).

        Raises
        ------
        ValueError
            Naming the factor and what was expected.
        """
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
        return factors

    def _penalty(self, factors) -> float:
        if self.weight_decay == 0.0:
            return 0.0
        return 0.5 * self.weight_decay * sum(float(np.sum(W * W)) for W in factors)

    def value(self, factors) -> float:
        """Objective value ``L(W_e) + weight_decay/2 sum_j ||W_j||^2``."""
        factors = self.check_factors(factors)
        value, _ = self.value_and_grad_e(end_to_end(factors))
        return value + self._penalty(factors)

    __call__ = value

    def value_and_grads(self, factors):
        """Objective value and ``[dF/dW_1, ..., dF/dW_N]``.

        Parameters
        ----------
        factors : list of ndarray, shape (d_j, d_{j-1})

        Returns
        -------
        value : float
        grads : list of ndarray, shape (d_j, d_{j-1})
        """
        factors = self.check_factors(factors)
        value, grads = self.value_and_grads_unchecked(factors)
        if grads is None:
            raise ValueError(
                "factors: W_e = W_N ... W_1 or the loss gradient at it is not finite "
                "(the product overflows); scale the factors down"
            )
        return value, grads

    def value_and_grads_unchecked(self, factors):
        """:meth:`value_and_grads` without the input checks, for training loops.

        Parameters
        ----------
        factors : list of ndarray, shape (d_j, d_{j-1})
            Float64 factors already checked by :meth:`check_factors` (a
            training loop checks its start once and then steps in place).

        Returns
        -------
        value : float
        grads : list of ndarray, shape (d_j, d_{j-1}), or None
            A point where the objective can no longer be evaluated
            (non-finite factors, ``W_e`` or ``grad_e``: a diverging run)
            gives ``(inf, None)``; the training loops stop there, as at any
            non-finite value.
        """
        if not all(np.all(np.isfinite(W)) for W in factors):
            return float("inf"), None
        W_e = end_to_end(factors)
        if not np.all(np.isfinite(W_e)):
            return float("inf"), None
        value, grad_e = self.value_and_grad_e(W_e, check=False)
        if not np.all(np.isfinite(grad_e)):
            return float("inf"), None
        grads = factor_gradients(factors, grad_e)
        if self.weight_decay != 0.0:
            grads = [dW + self.weight_decay * W for dW, W in zip(grads, factors)]
        return value + self._penalty(factors), grads


def value_and_grads(factors, X, Y, loss="l2", weight_decay=0.0):
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
    return Objective(X, Y, loss, weight_decay).value_and_grads(factors)
