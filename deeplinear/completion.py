r"""Matrix completion and matrix sensing: low-rank problems for deep matrix factorization.

A depth-N factorization ``W_e = W_N ... W_1`` (``W_j`` of shape
``(d_j, d_{j-1})``, ``W_e`` of shape ``(d_N, d_0)``) is fitted to a low-rank
ground truth :math:`W^*` seen only through

- *completion*: its entries on a set :math:`\Omega` of :math:`m` positions;
- *sensing*: :math:`m` linear measurements :math:`y_i = \langle A_i, W^* \rangle`.

Both losses are means over the :math:`m` observations without a factor 1/2, like ``l2``:

.. math::

    L_\Omega(W_e) &= \frac{1}{m} \sum_{(a, b) \in \Omega} (W_e - W^*)_{ab}^2,
    &\qquad \nabla L_\Omega(W_e) &= \frac{2}{m} P_\Omega(W_e - W^*) \\
    L_A(W_e) &= \frac{1}{m} \sum_{i=1}^{m} r_i^2, \quad
        r_i = \langle A_i, W_e \rangle - y_i,
    &\qquad \nabla L_A(W_e) &= \frac{2}{m} \sum_{i=1}^{m} r_i A_i

where :math:`P_\Omega` zeroes the entries off :math:`\Omega`. With every entry observed,
:math:`L_\Omega` is the ``l2`` loss of ``Objective(X=I, Y=W*^T)``. The factor gradients
(:func:`~deeplinear.factor_gradients`) and weight decay are the library's.

Gradient descent from a small balanced start on these losses finds low-rank solutions,
lower in effective rank the deeper the factorization (Arora, Cohen, Hu & Luo, 2019);
:mod:`deeplinear.spectral` measures it, :mod:`deeplinear.nuclear` is the baseline.

References
----------
.. [1] S. Arora, N. Cohen, W. Hu, Y. Luo. Implicit Regularization in Deep
   Matrix Factorization. NeurIPS 2019.
.. [2] F. Mezzadri. How to generate random matrices from the classical
   compact groups. Notices of the AMS 54(5), 2007 (Haar-random orthonormal
   columns from a sign-corrected QR, ``init.haar_columns``).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import init
from ._validation import (as_factors, as_matrix, as_rng, check_mask, check_nonnegative,
                          check_positive, check_shape, read_only_copy)
from .objective import Objective

__all__ = ["low_rank_matrix", "sample_entries", "gaussian_measurements", "measure",
           "EndToEndObjective", "CompletionObjective", "SensingObjective"]


def low_rank_matrix(shape, rank, condition=1.0, scale=1.0, rng=None) -> np.ndarray:
    r"""A random rank-``rank`` ground truth ``W* = U diag(s) V^T``.

    .. math::

        s_k = \sigma_{\max} \, \kappa^{-(k-1)/(r-1)}, \qquad k = 1, \ldots, r

    geometrically spaced from :math:`\sigma_{\max}` = ``scale`` down to
    :math:`\sigma_{\max} / \kappa` (:math:`\kappa` = ``condition``), with
    ``U`` (d_N, r) and ``V`` (d_0, r) Haar-random orthonormal columns
    (``init.haar_columns``), ``U`` drawn first.

    Normalisation: the *largest singular value* is ``scale`` (unit spectral
    norm by default), whatever the shape and rank. Why: depth N moves each
    singular value of ``W_e`` at a rate proportional to :math:`\sigma^{2-2/N}`
    (Arora et al. 2019), so near the solution the sharpness of the deep
    objective is about :math:`N \sigma_{\max}^{2-2/N}` times that of the loss
    in ``W_e`` (for completion :math:`2/m`, the largest eigenvalue of the
    Hessian of :math:`L_\Omega`). With :math:`\sigma_{\max} = 1` that
    factor is ``N`` at every size, rank and condition, so learning rates
    carry over between problem sizes (as multiples of ``m / N``); a
    Frobenius normalisation would make :math:`\sigma_{\max}` grow like
    :math:`\sqrt{d_N d_0 / r}` and the stable learning rate shrink with it.

    Parameters
    ----------
    shape : tuple of int
        ``(d_N, d_0)``, both >= 1.
    rank : int
        ``1 <= rank <= min(d_N, d_0)``.
    condition : float, default 1.0
        :math:`\kappa = s_1 / s_r \ge 1`; must be 1 for rank 1.
    scale : float, default 1.0
        The largest singular value, > 0.
    rng : int, None or numpy.random.Generator

    Returns
    -------
    ndarray, shape (d_N, d_0)
    """
    d_N, d_0 = check_shape(shape)
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) \
            or not 1 <= rank <= min(d_N, d_0):
        raise ValueError(f"rank: expected an integer in [1, min(d_N, d_0)] = "
                         f"[1, {min(d_N, d_0)}], got {rank!r}")
    condition = check_positive(condition, "condition")
    if condition < 1.0 or (rank == 1 and condition != 1.0):
        raise ValueError(f"condition: expected s_1 / s_r >= 1 (exactly 1 for rank 1), "
                         f"got {condition!r}")
    scale = check_positive(scale, "scale")
    rng = as_rng(rng)
    s = scale * np.geomspace(1.0, 1.0 / condition, int(rank))
    U = init.haar_columns(rng, d_N, int(rank))
    V = init.haar_columns(rng, d_0, int(rank))
    return (U * s) @ V.T


def sample_entries(shape, m, rng=None) -> np.ndarray:
    r"""A set :math:`\Omega` of ``m`` distinct entries, uniformly at random.

    Parameters
    ----------
    shape : tuple of int
        ``(d_N, d_0)``.
    m : int
        Number of observed entries, ``1 <= m <= d_N d_0``.
    rng : int, None or numpy.random.Generator

    Returns
    -------
    mask : ndarray of bool, shape (d_N, d_0)
        True on the ``m`` observed entries; ``np.nonzero(mask)`` gives them
        as (row, column) index arrays.
    """
    d_N, d_0 = check_shape(shape)
    m = _check_count(m, "m", d_N * d_0)
    chosen = as_rng(rng).choice(d_N * d_0, size=m, replace=False)
    mask = np.zeros(d_N * d_0, dtype=bool)
    mask[chosen] = True
    return mask.reshape(d_N, d_0)


def gaussian_measurements(shape, m, rng=None) -> np.ndarray:
    r"""``m`` sensing matrices :math:`A_i` with iid :math:`N(0, 1)` entries.

    With unit-variance entries and the mean loss :math:`L_A`,
    :math:`\mathbb{E}\, L_A(W_e) = \lVert W_e - W^* \rVert_F^2`: the loss is
    the squared Frobenius error in expectation (no :math:`1/m` in the
    entries, since the loss already divides by :math:`m`).

    Parameters
    ----------
    shape : tuple of int
        ``(d_N, d_0)``.
    m : int
        Number of measurements, >= 1.
    rng : int, None or numpy.random.Generator

    Returns
    -------
    A : ndarray, shape (m, d_N, d_0)
    """
    d_N, d_0 = check_shape(shape)
    m = _check_count(m, "m")
    return as_rng(rng).standard_normal((m, d_N, d_0))


def measure(A, W) -> np.ndarray:
    r"""The measurements :math:`y_i = \langle A_i, W \rangle = \sum_{ab} (A_i)_{ab} W_{ab}`.

    Parameters
    ----------
    A : ndarray, shape (m, d_N, d_0)
    W : ndarray, shape (d_N, d_0)

    Returns
    -------
    y : ndarray, shape (m,)
    """
    A = _check_sensing_matrices(A)
    W = as_matrix(W, "W")
    if W.shape != A.shape[1:]:
        raise ValueError(f"W: expected the shape of each A_i {A.shape[1:]}, got {W.shape}")
    return A.reshape(A.shape[0], -1) @ W.ravel()


class EndToEndObjective(Objective):
    """The base of an objective whose loss is a function of ``W_e`` alone.

    A subclass defines ``value_and_grad_e``. It inherits from
    :class:`~deeplinear.Objective` its value, factor gradients
    (``factor_gradients`` of ``grad_e``) and weight-decay penalty, so each
    rule has one implementation. ``deeplinear.train_objective`` trains it on
    the Python loop unless it has a compiled kind (``compiled_loop``:
    completion has one). It has no data matrices: ``X``, ``Y`` and ``loss``
    raise, which is where the curvature tools written for data losses stop
    with a clear error.

    Parameters
    ----------
    shape : tuple of int
        ``(d_N, d_0)``, the shape of ``W_e``.
    weight_decay : float
        lambda >= 0 of the penalty ``lambda/2 sum_j ||W_j||_F^2``.
    """

    kind = "end-to-end"
    compiled_loop = False   # train(..., compiled=None) takes the Python loop

    def __init__(self, shape, weight_decay):
        self.shape = shape
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")

    @property
    def d_in(self) -> int:
        return self.shape[1]

    @property
    def d_out(self) -> int:
        return self.shape[0]

    def _no_data(self):
        raise ValueError(f"objective: a {type(self).__name__} has no data matrices X, Y or "
                         "data loss (the tools for data objectives do not apply)")

    X = Y = loss = property(_no_data)

    def check_factors(self, factors) -> list[np.ndarray]:
        """``factors`` (list of ndarray, shape (d_j, d_{j-1})) checked as a network
        with ``W_e`` of this problem's shape (d_N, d_0); as C-contiguous float64 arrays."""
        factors = as_factors(factors)
        if factors[0].shape[1] != self.d_in:
            raise ValueError(f"factors[0] (W_1): has {factors[0].shape[1]} columns but the "
                             f"{self.kind} problem has d_0 = {self.d_in} columns")
        if factors[-1].shape[0] != self.d_out:
            raise ValueError(f"factors[{len(factors) - 1}] (W_N): has {factors[-1].shape[0]} "
                             f"rows but the {self.kind} problem has d_N = {self.d_out} rows")
        return factors

    def _check_W_e(self, W_e) -> np.ndarray:
        W_e = as_matrix(W_e, "W_e")
        if W_e.shape != self.shape:
            raise ValueError(f"W_e: expected shape (d_N, d_0) = {self.shape}, got {W_e.shape}")
        return W_e


class CompletionObjective(EndToEndObjective):
    r"""Mean squared error of ``W_e`` on the observed entries of a target.

    .. math::

        F(W_1, \ldots, W_N) &= L_\Omega(W_N \cdots W_1)
            + \frac{\lambda}{2} \sum_{j} \lVert W_j \rVert_F^2 \\
        L_\Omega(W_e) &= \frac{1}{m} \sum_{(a, b) \in \Omega} (W_e - W^*)_{ab}^2,
        \qquad \nabla L_\Omega(W_e) = \frac{2}{m} P_\Omega(W_e - W^*)

    An :class:`~deeplinear.Objective` without data (``value``,
    ``value_and_grads``, ...). ``train_objective`` trains it on the compiled
    loop, whose loss kernel (``_kernels.loss.completion_value_and_grad_e``)
    is the twin of :meth:`value_and_grad_e`, or with ``compiled=False`` here.

    Parameters
    ----------
    target : ndarray, shape (d_N, d_0)
        The ground truth :math:`W^*`; only its entries on ``mask`` are read
        and kept (the objective never sees the unobserved ones).
    mask : ndarray of bool, shape (d_N, d_0)
        :math:`\Omega`, at least one True (e.g. from :func:`sample_entries`).
    weight_decay : float, default 0.0
        :math:`\lambda \ge 0`.

    Attributes
    ----------
    mask : ndarray of bool, shape (d_N, d_0), read-only
    observed : ndarray, shape (d_N, d_0), read-only
        :math:`P_\Omega(W^*)`: the target on ``mask``, 0 elsewhere.
    m : int
        :math:`|\Omega|`.
    shape : tuple
        ``(d_N, d_0)``.
    kind : str
        ``"completion"``.
    """

    kind = "completion"
    compiled_loop = True

    def __init__(self, target, mask, weight_decay=0.0):
        target = as_matrix(target, "target")
        mask = check_mask(mask, target.shape)
        super().__init__(target.shape, weight_decay)
        self.mask = read_only_copy(mask)
        self.observed = read_only_copy(np.where(mask, target, 0.0))
        self.m = int(np.count_nonzero(mask))
        rows, cols = np.nonzero(mask)  # row-major order
        self._entries = (read_only_copy(rows.astype(np.int64)), read_only_copy(cols.astype(np.int64)),
                         read_only_copy(self.observed[rows, cols]))

    def observed_entries(self):
        """``(rows, cols, values)``: Omega's positions in row-major order (int64,
        shape (m,)) and the target there (m,), read-only; the compiled loop's data."""
        return self._entries

    def value_and_grad_e(self, W_e, *, check=True):
        """Loss ``L_Omega(W_e)`` and ``grad_e`` (d_N, d_0), without weight decay.

        Parameters
        ----------
        W_e : ndarray, shape (d_N, d_0)
        check : bool, default True
            Check ``W_e``; ``False`` for training loops, which pass a float64
            ``W_e`` of this shape (the problem was checked when built).

        Returns
        -------
        value : float
        grad_e : ndarray, shape (d_N, d_0)
        """
        if check:
            W_e = self._check_W_e(W_e)
        residual = np.where(self.mask, W_e - self.observed, 0.0)  # P_Omega(W_e - W*)
        return float(np.sum(residual * residual)) / self.m, (2.0 / self.m) * residual


class SensingObjective(EndToEndObjective):
    r"""Mean squared error of ``m`` linear measurements of ``W_e``.

    .. math::

        L_A(W_e) = \frac{1}{m} \sum_{i=1}^{m} r_i^2, \quad
        r_i = \langle A_i, W_e \rangle - y_i, \qquad
        \nabla L_A(W_e) = \frac{2}{m} \sum_{i=1}^{m} r_i A_i

    plus the weight-decay penalty on the factors, as in
    :class:`CompletionObjective`, which it duck-types the same way.

    Parameters
    ----------
    A : ndarray, shape (m, d_N, d_0)
        The sensing matrices (e.g. from :func:`gaussian_measurements`); copied.
    y : ndarray, shape (m,)
        The measurements (e.g. ``measure(A, W*)``); copied.
    weight_decay : float, default 0.0

    Attributes
    ----------
    A, y : ndarray, read-only
        The objective's own copies.
    m : int
    shape : tuple
        ``(d_N, d_0)``.
    """

    kind = "sensing"

    def __init__(self, A, y, weight_decay=0.0):
        A = _check_sensing_matrices(A)
        y = np.asarray(y)
        if y.dtype.kind != "f" or y.shape != (A.shape[0],) or not np.all(np.isfinite(y)):
            raise ValueError(f"y: expected {A.shape[0]} finite float measurements, shape "
                             f"({A.shape[0]},), got dtype {y.dtype} and shape {y.shape}")
        super().__init__(A.shape[1:], weight_decay)
        self.A = read_only_copy(A)
        self.y = read_only_copy(y.astype(np.float64))
        self.m = A.shape[0]
        self._A_rows = self.A.reshape(self.m, -1)  # (m, d_N d_0): row i is vec(A_i)

    def value_and_grad_e(self, W_e, *, check=True):
        """Loss ``L_A(W_e)`` and ``grad_e`` (d_N, d_0) of ``W_e`` (d_N, d_0), without
        weight decay; ``check`` as in :meth:`CompletionObjective.value_and_grad_e`."""
        if check:
            W_e = self._check_W_e(W_e)
        r = self._A_rows @ W_e.ravel() - self.y
        grad_e = ((2.0 / self.m) * (r @ self._A_rows)).reshape(self.shape)
        return float(r @ r) / self.m, grad_e


def _check_count(m, name, largest=None) -> int:
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1 \
            or (largest is not None and m > largest):
        bound = "" if largest is None else f" and <= {largest}"
        raise ValueError(f"{name}: expected an integer >= 1{bound}, got {m!r}")
    return int(m)


def _check_sensing_matrices(A) -> np.ndarray:
    if not isinstance(A, np.ndarray) or A.dtype.kind != "f" or A.ndim != 3 or A.size == 0:
        raise ValueError(f"A: expected a non-empty float array of shape (m, d_N, d_0), got "
                         f"{getattr(A, 'shape', type(A).__name__)}")
    if not np.all(np.isfinite(A)):
        raise ValueError("A: contains NaN or infinite entries")
    return np.ascontiguousarray(A, dtype=np.float64)
