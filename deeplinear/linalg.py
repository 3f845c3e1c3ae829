"""Chain products, factor gradients, balancedness and PSD matrix powers.

A depth-N linear network is a list of factors ``[W_1, ..., W_N]`` with
``W_j`` of shape ``(d_j, d_{j-1})``. It computes ``x -> W_e x`` with the
end-to-end matrix ``W_e = W_N ... W_1`` of shape ``(d_N, d_0)``; on a data
matrix ``X`` of shape ``(n, d_0)`` the predictions are ``X @ W_e.T``.

Note for readers of Levy & Wang (2024): the report writes the product and the
balance condition in the opposite order (``W_1 ... W_N``). Here ``W_1`` is
the layer that touches the input.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan. On the Optimization of Deep Networks:
   Implicit Acceleration by Overparameterization. ICML 2018.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
from numba.typed import List

from ._kernels import chain as _chain
from ._validation import as_factors, as_matrix

__all__ = [
    "end_to_end",
    "factor_gradients",
    "balancedness",
    "psd_power",
    "Chain",
    "end_to_end_reference",
    "factor_gradients_reference",
]


class Chain:
    """Preallocated workspace for the chain kernels of one architecture.

    Computing every factor gradient
    ``dW_j = (W_N...W_{j+1})^T grad_e (W_{j-1}...W_1)^T`` naively costs
    O(N^2) matrix products. Here it takes O(N): the suffix products
    ``W_N...W_{j+1}`` are built once from the top, and ``grad_e`` is pushed
    through the prefixes from the bottom, so that every intermediate has only
    ``min(d_0, d_N)`` rows.

    The parenthesization is chosen by the dimensions. With ``d_N = 1``,
    ``d_0 = 128`` and two hidden layers of width 512, forming the prefix
    ``W_2 W_1`` as a matrix costs 512*512*128 = 33.6M multiply-adds, and
    using it for ``dW_3`` costs as much again. Working from the small end,
    ``suffix = W_3 W_2`` is a row vector (1*512*512 = 0.26M) and
    ``grad_e W_1^T`` is another (1*128*512 = 0.07M): a full gradient costs
    about ``3 d_N sum_j d_j d_{j-1}`` = 1M multiply-adds, about 70 times
    fewer. When ``d_0 < d_N`` the same kernels run on the transposed network
    ``W_1^T ... W_N^T`` so that the small side is always the one carried.

    Parameters
    ----------
    dims : list of int
        ``[d_0, ..., d_N]``.
    """

    def __init__(self, dims):
        self.dims = [int(d) for d in dims]
        self.depth = len(self.dims) - 1
        # Work on the transposed network when the input side is the small one.
        self.transposed = self.dims[-1] > self.dims[0]
        kd = self.dims[::-1] if self.transposed else self.dims
        k = kd[-1]
        N = self.depth
        self.suffix = List([np.empty((k, kd[j])) for j in range(N + 1)])
        self.g_prefix_t = List([np.empty((k, kd[j])) for j in range(N)])
        self.dW = List([np.empty((kd[j + 1], kd[j])) for j in range(N)])
        d_0, d_N = self.dims[0], self.dims[-1]
        # Loss-side buffers: W_e and grad_e as (d_N, d_0), grad_e in the chain's orientation.
        self.work = (self.suffix, self.g_prefix_t, self.dW, np.empty((d_N, d_0)),
                     np.empty((d_N, d_0)), np.empty((k, kd[0])))

    def _kernel_factors(self, factors):
        if self.transposed:
            return List([np.ascontiguousarray(W.T) for W in reversed(factors)])
        return List(factors)

    def unkernel(self, arrays) -> list[np.ndarray]:
        """Copies of per-factor arrays in the kernels' orientation, back in ours."""
        if self.transposed:
            return [D.T.copy() for D in reversed(arrays)]  # always a copy, never a view
        return [np.array(D) for D in arrays]

    def end_to_end(self, factors) -> np.ndarray:
        """Return ``W_e = W_N ... W_1``, shape (d_N, d_0), and keep the suffix products."""
        self._kf = self._kernel_factors(factors)
        _chain.suffix_products(self._kf, self.suffix)
        W_e = self.suffix[0]
        return W_e.T.copy() if self.transposed else W_e.copy()

    def gradients(self, grad_e) -> list[np.ndarray]:
        """Factor gradients at the factors last passed to :meth:`end_to_end`.

        Parameters
        ----------
        grad_e : ndarray, shape (d_N, d_0)
            Gradient of the loss with respect to ``W_e``.

        Returns
        -------
        list of ndarray, shape (d_j, d_{j-1})
            ``[dL/dW_1, ..., dL/dW_N]`` (new arrays).
        """
        g = np.ascontiguousarray(grad_e.T) if self.transposed else grad_e
        _chain.factor_gradients(self._kf, self.suffix, g, self.g_prefix_t, self.dW)
        return self.unkernel(self.dW)


def end_to_end(factors) -> np.ndarray:
    """End-to-end matrix of a linear network.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        ``[W_1, ..., W_N]``.

    Returns
    -------
    W_e : ndarray, shape (d_N, d_0)
        ``W_N ... W_1``, multiplied from whichever end is smaller.
    """
    factors = as_factors(factors)
    dims = [factors[0].shape[1]] + [W.shape[0] for W in factors]
    return Chain(dims).end_to_end(factors)


def factor_gradients(factors, grad_e) -> list[np.ndarray]:
    """Gradients of a loss with respect to every factor, in O(N) products.

    Equations::

        dL/dW_j = (W_N ... W_{j+1})^T  grad_e  (W_{j-1} ... W_1)^T

    with empty products equal to the identity. See :class:`Chain` for the
    order in which the products are taken and why it matters.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        ``[W_1, ..., W_N]``.
    grad_e : ndarray, shape (d_N, d_0)
        Gradient of the loss with respect to the end-to-end matrix.

    Returns
    -------
    list of ndarray, shape (d_j, d_{j-1})
        ``[dL/dW_1, ..., dL/dW_N]``.
    """
    factors = as_factors(factors)
    dims = [factors[0].shape[1]] + [W.shape[0] for W in factors]
    grad_e = as_matrix(grad_e, "grad_e")
    if grad_e.shape != (dims[-1], dims[0]):
        raise ValueError(
            f"grad_e: expected shape (d_N, d_0) = {(dims[-1], dims[0])}, got {grad_e.shape}"
        )
    chain = Chain(dims)
    chain.end_to_end(factors)
    return chain.gradients(grad_e)


def balancedness(factors) -> float:
    """How far the factors are from balanced.

    Equations::

        max_j || W_{j+1}^T W_{j+1} - W_j W_j^T ||_F ,   j = 1..N-1

    Zero for a balanced network, and 0.0 for depth 1. Under gradient flow
    without weight decay each difference is conserved; gradient descent
    moves it by O(lr^2) per step.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})

    Returns
    -------
    float
    """
    return _balancedness(as_factors(factors))


def _balancedness(factors) -> float:
    worst = 0.0
    for W_j, W_next in zip(factors[:-1], factors[1:]):
        worst = max(worst, float(np.linalg.norm(W_next.T @ W_next - W_j @ W_j.T)))
    return worst


def psd_power(A, power, rtol=None) -> np.ndarray:
    """Fractional power of a symmetric positive semi-definite matrix.

    Equations::

        A = Q diag(lam) Q^T,   A^p = Q diag(lam^p) Q^T,   A^0 = I

    Eigenvalues at or below ``rtol * max(lam)`` (including the small negative
    ones that rounding produces) are treated as exact zeros, so that
    ``0^p = 0`` for ``p > 0``. This matters: a rounding-level eigenvalue of
    1e-16 would otherwise become 1e-16^(1/3), about 5e-6, which is not small.
    ``A^0`` is the identity, as in Theorem 1 of [1]_ where an empty product
    of factors stands for ``I``.

    Parameters
    ----------
    A : ndarray, shape (m, m)
        Symmetric PSD matrix, e.g. ``W_e W_e^T``.
    power : float
        Exponent p >= 0.
    rtol : float, optional
        Relative tolerance for zero eigenvalues. Default ``10 * m * eps``:
        forming and diagonalising ``A`` perturbs its eigenvalues by about
        ``m * eps * max(lam)``.

    Returns
    -------
    ndarray, shape (m, m)
    """
    A = as_matrix(A, "A")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A: expected a square matrix, got shape {A.shape}")
    if power < 0:
        raise ValueError(f"power: expected a value >= 0, got {power!r}")
    m = A.shape[0]
    if power == 0:
        return np.eye(m)
    if rtol is None:
        rtol = 10 * m * np.finfo(np.float64).eps
    lam, Q = np.linalg.eigh(0.5 * (A + A.T))
    cutoff = rtol * max(lam.max(), 0.0)
    lam_p = np.where(lam > cutoff, np.abs(lam) ** power, 0.0)
    return (Q * lam_p) @ Q.T


def end_to_end_reference(factors) -> np.ndarray:
    """Plain NumPy twin of :func:`end_to_end`: ``W_N @ ... @ W_1``, left to right."""
    return reduce(lambda acc, W: W @ acc, factors[1:], factors[0].copy())


def factor_gradients_reference(factors, grad_e) -> list[np.ndarray]:
    """Slow, obvious twin of :func:`factor_gradients`, with O(N^2) products."""
    # BEGIN SOLUTION factor_gradients: dL/dW_j = (W_N ... W_{j+1})^T grad_e (W_{j-1} ... W_1)^T for
    #   j = 1..N (empty products are identities)
    N = len(factors)
    dW = []
    for j in range(1, N + 1):
        W_j = factors[j - 1]
        above = reduce(lambda acc, W: W @ acc, factors[j:], np.eye(W_j.shape[0]))  # W_N...W_{j+1}
        below = reduce(lambda acc, W: W @ acc, factors[: j - 1], np.eye(factors[0].shape[1]))  # W_{j-1}...W_1
        dW.append(above.T @ grad_e @ below.T)
    return dW
    # END SOLUTION
