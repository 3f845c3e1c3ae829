"""The minimum-nuclear-norm baseline: the prox, Soft-Impute on problems with known
answers, recovery (and failure to recover) of a random low-rank matrix."""

import warnings

import numpy as np
import pytest

from deeplinear.completion import low_rank_matrix, sample_entries
from deeplinear.nuclear import min_nuclear_norm_completion, soft_impute, soft_impute_path, svt
from deeplinear.spectral import nuclear_norm, relative_error, unobserved_error

pytestmark = pytest.mark.nojit

# float64 SVDs and sums of O(1) numbers: ~1e-15 relative.
ROUNDING = 1e-12


def prox_objective(X, Y, tau):
    return 0.5 * np.sum((X - Y) ** 2) + tau * nuclear_norm(X)


@pytest.mark.parametrize("shape, tau", [((5, 4), 0.7), ((3, 6), 2.0), ((4, 4), 0.0)])
def test_svt_is_the_prox_of_the_nuclear_norm(rng, shape, tau):
    Y = rng.standard_normal(shape)
    X = svt(Y, tau)
    best = prox_objective(X, Y, tau)
    # (1) no random perturbation does better (the objective is strongly convex, so a
    # wrong prox such as hard thresholding loses to some of these directions).
    for eps in (1e-1, 1e-3, 1e-5):
        for _ in range(50):
            D = rng.standard_normal(shape)
            assert prox_objective(X + eps * D, Y, tau) >= best - ROUNDING * abs(best)
    # (2) the optimality condition Y - X = tau (U_1 V_1^T + W), with ||W||_2 <= 1,
    # U_1^T W = 0 and W V_1 = 0, where X = U_1 diag(s) V_1^T.
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    keep = s > ROUNDING
    U1, V1 = U[:, keep], Vt[keep].T
    G = Y - X - tau * U1 @ V1.T
    assert np.linalg.norm(U1.T @ G) < 1e-10 and np.linalg.norm(G @ V1) < 1e-10
    assert np.linalg.norm(G, 2) <= tau * (1 + 1e-10) + 1e-12


def test_fully_observed_soft_impute_is_one_shrinkage(rng):
    M = rng.standard_normal((6, 5))
    lam = 0.8
    result = soft_impute(M, np.ones((6, 5), dtype=bool), lam)
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    expected = (U * np.maximum(s - lam, 0.0)) @ Vt  # M shrunk by lam
    assert result.converged and result.iterations == 2  # Z_2 = Z_1: nothing left to fill
    np.testing.assert_allclose(result.matrix, expected, atol=ROUNDING)


@pytest.mark.parametrize("a, b, c, x", [
    # One missing entry x of [[a, b], [c, x]]: ||X||_*^2 = ||X||_F^2 + 2 |det X| for 2 x 2,
    # so minimise x^2 + 2 |a x - b c| (a > 0). If |b c| < a^2 the minimum is the rank-one
    # completion x = b c / a; if b c > a^2 it is x = a, and if b c < -a^2 it is x = -a:
    # full-rank matrices (nuclear norm 5 for (1, 2, 3), below the 7.07 of the rank-one
    # completion x = 6).
    (2.0, 1.0, 1.0, 0.5), (1.0, 2.0, 3.0, 1.0), (1.0, -2.0, 3.0, -1.0)])
def test_two_by_two_completion_by_hand(a, b, c, x):
    mask = np.array([[True, True], [True, False]])
    Z = min_nuclear_norm_completion(np.array([[a, b], [c, 0.0]]), mask)
    # The path stops at lam = 1e-6 lam_max, whose solution is O(lam) from the limit.
    np.testing.assert_allclose(Z, [[a, b], [c, x]], atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_a_rank_two_matrix_from_enough_entries_only(seed):
    # 20 x 20 of rank 2 has 2 (20 + 20 - 2) = 76 degrees of freedom. 320 entries (80%)
    # recover it: relative error 1.1e-4 to 2.3e-4 over seeds 0-7, the O(lam) bias at
    # lam = 1e-4 lam_max. 120 leave the minimum-nuclear-norm completion far off (0.36 to
    # 0.40 measured), though every solve converged. (At this size the convex relaxation
    # needs many entries: 280 left 0.05 and 0.095 for seeds 2 and 1, where a matrix of
    # smaller nuclear norm than W* fits every observed entry.)
    target = low_rank_matrix((20, 20), 2, rng=seed)
    for m, good in ((320, True), (120, False)):
        mask = sample_entries((20, 20), m, rng=seed + 10)
        path = soft_impute_path(target, mask, n_lams=10, lam_min_ratio=1e-4, tol=1e-6,
                                max_iter=5000)
        assert all(result.converged for result in path)
        error = relative_error(path[-1].matrix, target)
        if good:
            assert error < 1e-3 and unobserved_error(path[-1].matrix, target, mask) < 1e-3
        else:
            assert error > 0.2


def test_soft_impute_decreases_its_objective(rng):
    target = low_rank_matrix((15, 12), 3, rng=rng)
    mask = sample_entries((15, 12), 80, rng)
    for lam in (0.3, 0.01):
        result = soft_impute(target, mask, lam, tol=1e-9, max_iter=10_000)
        f = result.objective
        assert result.converged and len(f) == result.iterations + 1
        # Each step may not increase f; rounding in f of O(1) terms is ~1e-16 relative.
        assert np.all(np.diff(f) <= ROUNDING * f[:-1])
        assert f[-1] < f[1] < f[0]


def test_path_starts_at_zero_and_fits_better_as_lam_falls(rng):
    target = low_rank_matrix((10, 10), 2, rng=rng)
    mask = sample_entries((10, 10), 70, rng)
    path = soft_impute_path(target, mask, n_lams=6, tol=1e-8)
    assert np.all(path[0].matrix == 0.0)  # lam_max = ||P_Omega(M)||_2 shrinks everything
    misfit = [np.linalg.norm((r.matrix - target)[mask]) for r in path]
    assert np.all(np.diff(misfit) < 0)


def test_not_converging_warns_and_says_so(rng):
    target = low_rank_matrix((10, 10), 2, rng=rng)
    mask = sample_entries((10, 10), 50, rng)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        result = soft_impute(target, mask, 1e-3, max_iter=3)
    assert not result.converged and result.iterations == 3 and result.change > 1e-7
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert soft_impute(target, mask, 1e-1, max_iter=5000).converged


@pytest.mark.parametrize("call, match", [
    (lambda M, k: svt(M, -1.0), "^threshold:"),
    (lambda M, k: soft_impute(M, k, 0.0), "^lam:"),
    (lambda M, k: soft_impute(M, k.astype(float), 1.0), "^mask:"),
    (lambda M, k: soft_impute(M, k, 1.0, start=np.zeros((2, 2))), "^start:"),
    (lambda M, k: soft_impute(M, k, 1.0, max_iter=0), "^max_iter:"),
    (lambda M, k: soft_impute_path(M, k, lams=[1.0, 2.0]), "^lams:"),
    (lambda M, k: soft_impute_path(M, k, lam_min_ratio=1.5), "^lam_min_ratio:"),
    (lambda M, k: soft_impute_path(np.zeros((3, 3)), k), "^target:")])
def test_bad_input_is_refused_naming_the_argument(call, match):
    mask = np.array([[True, False, True], [False, True, True], [True, True, False]])
    with pytest.raises(ValueError, match=match):
        call(np.arange(9.0).reshape(3, 3) + 1.0, mask)
