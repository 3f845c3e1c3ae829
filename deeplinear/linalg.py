r"""Fractional powers of symmetric positive semi-definite matrices.

Theorem 1 of Arora, Cohen & Hazan (2018) moves :math:`W_e` by sums of
:math:`[W_e W_e^\top]^a \, \nabla L(W_e) \, [W_e^\top W_e]^b` with fractional
:math:`a, b`; those powers
come from an eigendecomposition, with rounding-level eigenvalues set to
exact zeros.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_matrix

__all__ = ["psd_power"]


def psd_power(A, power, rtol=None) -> np.ndarray:
    r"""Fractional power of a symmetric positive semi-definite matrix.

    .. math::

        A = Q \operatorname{diag}(\mu) Q^\top, \qquad
        A^p = Q \operatorname{diag}(\mu^p) Q^\top, \qquad A^0 = I

    Eigenvalues :math:`\mu_i` at or below :math:`\mathrm{rtol} \cdot \max_i \mu_i`
    (including the small negative ones that rounding produces) are treated
    as exact zeros, so that :math:`0^p = 0` for :math:`p > 0`. This matters:
    a rounding-level eigenvalue of :math:`10^{-16}` would otherwise become
    :math:`(10^{-16})^{1/3} \approx 5 \cdot 10^{-6}`, which is not small.
    :math:`A^0` is the identity, as in Theorem 1 of [1]_ where an empty
    product of factors stands for :math:`I`.

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

    References
    ----------
    .. [1] S. Arora, N. Cohen and E. Hazan, "On the Optimization of Deep
       Networks: Implicit Acceleration by Overparameterization", ICML 2018.
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
