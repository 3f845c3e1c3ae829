r"""The minimum-nuclear-norm baseline of matrix completion, by Soft-Impute.

Convex relaxation of low-rank completion: among the matrices that agree with
the target :math:`M` on the observed entries :math:`\Omega`, take the one of
least nuclear norm :math:`\lVert Z \rVert_* = \sum_i s_i(Z)`. Soft-Impute
(Mazumder, Hastie & Tibshirani, 2010) solves the penalised problem

.. math::

    \min_Z \; f_\lambda(Z) = \tfrac12 \lVert P_\Omega(Z - M) \rVert_F^2 + \lambda \lVert Z \rVert_*

(a *sum* over :math:`\Omega`, the usual scaling of :math:`\lambda`, unlike the
mean of :class:`~deeplinear.completion.CompletionObjective`) by iterating

.. math::

    Z_{k+1} = S_\lambda\big(P_\Omega(M) + P_\Omega^\perp(Z_k)\big), \qquad
    S_\tau(Y) = U \operatorname{diag}\big((s_i - \tau)_+\big) V^\top
    \ \text{ for } Y = U \operatorname{diag}(s) V^\top

where :math:`S_\tau` is singular value soft-thresholding, the proximal
operator of :math:`\tau \lVert \cdot \rVert_*` (Cai, Candès & Shen, 2010):
fill the unobserved entries with the current guess, then shrink every
singular value by :math:`\lambda`. Each iteration does not increase
:math:`f_\lambda` (MHT 2010, Lemma 2). Above
:math:`\lambda_{\max} = \lVert P_\Omega(M) \rVert_2` the solution is 0; as
:math:`\lambda \to 0` it tends to the minimum-nuclear-norm interpolant,
which :func:`min_nuclear_norm_completion` approaches along a warm-started
path of decreasing :math:`\lambda` (:func:`soft_impute_path`).

References
----------
.. [1] R. Mazumder, T. Hastie, R. Tibshirani. Spectral regularization
   algorithms for learning large incomplete matrices. JMLR 11, 2010.
.. [2] J.-F. Cai, E. J. Candès, Z. Shen. A singular value thresholding
   algorithm for matrix completion. SIAM J. Optim. 20(4), 2010.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from ._validation import as_matrix, check_nonnegative, check_positive
from ._validation import check_mask

__all__ = ["svt", "SoftImputeResult", "soft_impute", "soft_impute_path",
           "min_nuclear_norm_completion"]


def svt(Y, threshold) -> np.ndarray:
    r"""Singular value soft-thresholding, the prox of ``threshold * ||.||_*``.

    .. math::

        S_\tau(Y) = \operatorname*{arg\,min}_X \; \tfrac12 \lVert X - Y \rVert_F^2
            + \tau \lVert X \rVert_*
        = U \operatorname{diag}\big(\max(s_i - \tau, 0)\big) V^\top

    Parameters
    ----------
    Y : ndarray, shape (d_N, d_0)
    threshold : float
        :math:`\tau \ge 0`.

    Returns
    -------
    ndarray, shape (d_N, d_0)
    """
    Y = as_matrix(Y, "Y")
    threshold = check_nonnegative(threshold, "threshold")
    return _shrink(Y, threshold)[0]


@dataclass
class SoftImputeResult:
    r"""One Soft-Impute solve at one ``lam``.

    Attributes
    ----------
    matrix : ndarray, shape (d_N, d_0)
        The last iterate :math:`Z_k`.
    lam : float
    iterations : int
    converged : bool
        Whether the relative change fell to ``tol`` within ``max_iter``.
    change : float
        The last relative change :math:`\lVert Z_k - Z_{k-1} \rVert_F / \lVert Z_{k-1} \rVert_F`.
    objective : ndarray, shape (iterations + 1,)
        :math:`f_\lambda` at the start and after every iteration.
    """

    matrix: np.ndarray
    lam: float
    iterations: int
    converged: bool
    change: float
    objective: np.ndarray


def soft_impute(target, mask, lam, *, start=None, tol=1e-7, max_iter=10_000) -> SoftImputeResult:
    r"""Minimise :math:`f_\lambda(Z) = \frac12 \lVert P_\Omega(Z - M) \rVert_F^2 + \lambda \lVert Z \rVert_*`.

    Iterates :math:`Z_{k+1} = S_\lambda(P_\Omega(M) + P_\Omega^\perp(Z_k))`
    until the relative change
    :math:`\lVert Z_{k+1} - Z_k \rVert_F \le \text{tol} \, \lVert Z_k \rVert_F`
    (the criterion of MHT 2010), or ``max_iter`` iterations. A run that
    stops at ``max_iter`` warns (``RuntimeWarning``) and says so in
    ``converged``.

    Parameters
    ----------
    target : ndarray, shape (d_N, d_0)
        :math:`M`; only its entries on ``mask`` are read.
    mask : ndarray of bool, shape (d_N, d_0)
        :math:`\Omega`, at least one True.
    lam : float
        :math:`\lambda > 0`.
    start : ndarray, shape (d_N, d_0), optional
        :math:`Z_0` (a warm start); zeros by default.
    tol : float, default 1e-7
    max_iter : int, default 10000

    Returns
    -------
    SoftImputeResult
    """
    observed, mask, start, tol, max_iter = _check_problem(target, mask, start, tol, max_iter)
    result = _solve(observed, mask, check_positive(lam, "lam"), start, tol, max_iter)
    if not result.converged:
        _warn([result], tol)
    return result


def soft_impute_path(target, mask, lams=None, *, n_lams=20, lam_min_ratio=1e-4, tol=1e-7,
                     max_iter=10_000) -> list[SoftImputeResult]:
    r"""Soft-Impute at decreasing :math:`\lambda`, each solve warm-started at the last.

    Parameters
    ----------
    target : ndarray, shape (d_N, d_0)
        Only its entries on ``mask`` are read.
    mask : ndarray of bool, shape (d_N, d_0)
    lams : sequence of float, optional
        Strictly decreasing, > 0. By default ``n_lams`` values spaced
        geometrically from :math:`\lambda_{\max} = \lVert P_\Omega(M) \rVert_2`
        (where the solution is 0) down to ``lam_min_ratio`` times it.
    n_lams : int, default 20
    lam_min_ratio : float, default 1e-4
        In (0, 1).
    tol, max_iter
        As in :func:`soft_impute`, for every solve. One ``RuntimeWarning``
        lists the solves that stopped at ``max_iter``.

    Returns
    -------
    list of SoftImputeResult
        One per :math:`\lambda`, in the order solved.
    """
    observed, mask, Z, tol, max_iter = _check_problem(target, mask, None, tol, max_iter)
    if lams is None:
        n_lams = _check_int(n_lams, "n_lams")
        ratio = check_positive(lam_min_ratio, "lam_min_ratio")
        if ratio >= 1.0:
            raise ValueError(f"lam_min_ratio: expected a value in (0, 1), got {lam_min_ratio!r}")
        lam_max = float(np.linalg.norm(observed, 2))
        if lam_max == 0.0:
            raise ValueError("target: is zero on every observed entry; the path is all zeros")
        lams = lam_max * np.geomspace(1.0, ratio, n_lams)
    else:
        lams = [check_positive(lam, f"lams[{i}]") for i, lam in enumerate(lams)]
        if len(lams) == 0 or any(b >= a for a, b in zip(lams[:-1], lams[1:])):
            raise ValueError(f"lams: expected a non-empty, strictly decreasing sequence, got {lams}")
    path = []
    for lam in lams:
        path.append(_solve(observed, mask, float(lam), Z, tol, max_iter))
        Z = path[-1].matrix
    stuck = [result for result in path if not result.converged]
    if stuck:
        _warn(stuck, tol)
    return path


def min_nuclear_norm_completion(target, mask, *, n_lams=20, lam_min_ratio=1e-6, tol=1e-9,
                                max_iter=20_000) -> np.ndarray:
    r"""The minimum-nuclear-norm completion, approached by Soft-Impute at small :math:`\lambda`.

    .. math::

        \hat Z = \operatorname*{arg\,min}_Z \; \lVert Z \rVert_*
        \quad \text{subject to} \quad P_\Omega(Z) = P_\Omega(M)

    taken as the last solve of :func:`soft_impute_path` (down to
    :math:`\lambda = 10^{-6} \lambda_{\max}` by default), whose solutions
    tend to :math:`\hat Z` as :math:`\lambda \to 0`.

    Parameters
    ----------
    target : ndarray, shape (d_N, d_0)
        Only its entries on ``mask`` are read.
    mask : ndarray of bool, shape (d_N, d_0)
    n_lams, lam_min_ratio, tol, max_iter
        Of the path; see :func:`soft_impute_path`.

    Returns
    -------
    ndarray, shape (d_N, d_0)
    """
    return soft_impute_path(target, mask, n_lams=n_lams, lam_min_ratio=lam_min_ratio, tol=tol,
                            max_iter=max_iter)[-1].matrix


def _shrink(Y, threshold):
    """``(S_threshold(Y), its singular values)`` for a checked float64 ``Y``."""
    U, s, Vt = np.linalg.svd(Y, full_matrices=False)
    # What the threshold leaves of a singular value within rounding of it (the tolerance
    # of numpy.linalg.matrix_rank) is rounding noise: 0, so that S(Y) = 0 for
    # threshold >= ||Y||_2 is exactly 0 and not a flickering noise matrix.
    noise = s[0] * max(Y.shape) * np.finfo(np.float64).eps
    s = np.where(s - threshold > noise, s - threshold, 0.0)
    keep = s > 0  # a zero singular value adds nothing to the product
    return (U[:, keep] * s[keep]) @ Vt[keep], s


def _solve(observed, mask, lam, start, tol, max_iter) -> SoftImputeResult:
    """Soft-Impute iterations on checked inputs (``observed`` is 0 off ``mask``)."""

    def objective(Z, s):  # f_lam(Z), with s the singular values of Z
        residual = np.where(mask, Z - observed, 0.0)
        return 0.5 * float(np.sum(residual * residual)) + lam * float(np.sum(s))

    Z = start
    values = [objective(Z, np.linalg.svd(Z, compute_uv=False))]
    change, converged = np.inf, False
    for k in range(1, max_iter + 1):
        # The Soft-Impute step: fill the unobserved entries with Z, shrink by lam.
        Z_new, s = _shrink(np.where(mask, observed, Z), lam)
        step, size = float(np.linalg.norm(Z_new - Z)), float(np.linalg.norm(Z))
        Z = Z_new
        values.append(objective(Z, s))
        change = step / size if size > 0 else (0.0 if step == 0 else np.inf)
        if step <= tol * size:
            converged = True
            break
    return SoftImputeResult(matrix=Z, lam=lam, iterations=k, converged=converged,
                            change=change, objective=np.array(values))


def _check_problem(target, mask, start, tol, max_iter):
    target = as_matrix(target, "target")
    mask = check_mask(mask, target.shape)
    if start is None:
        start = np.zeros(target.shape)
    else:
        start = as_matrix(start, "start")
        if start.shape != target.shape:
            raise ValueError(f"start: expected the target's shape {target.shape}, "
                             f"got {start.shape}")
    return (np.where(mask, target, 0.0), mask, start, check_positive(tol, "tol"),
            _check_int(max_iter, "max_iter"))


def _check_int(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)


def _warn(results, tol) -> None:
    where = ", ".join(f"lam={r.lam:.3g} (change {r.change:.2e})" for r in results)
    warnings.warn(f"soft_impute: did not converge to tol={tol:g} within {results[0].iterations} "
                  f"iterations at {where}; raise max_iter or tol", RuntimeWarning, stacklevel=3)
