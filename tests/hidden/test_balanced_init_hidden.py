"""Hidden tests of part balanced_init: ranks, bottlenecks, errors.

* a rank-deficient ``end_to_end`` (every factor then has rank r, with the
  non-zero singular values ``s_i^(1/N)``);
* width-1 bottlenecks, given and sampled (a sample is truncated to its best
  rank-``min(dims)`` approximation);
* a rank above the narrowest hidden width is a ``ValueError`` when
  ``end_to_end`` is given;
* ``end_to_end = 0`` gives all-zero factors.
"""

from functools import reduce

import numpy as np
import pytest

pytestmark = pytest.mark.part("balanced_init")

# An SVD and N products of O(1) float64 matrices reproduce W_e to about
# N * max(d) * eps ~ 1e-14 relative, and balancedness holds to the same
# level; 1e-10 relative leaves a wide margin, while a wrong construction
# (wrong root of s, a transposed Q) is off by O(1).
TOL = 1e-10


def _first(a, k=4):
    return "[" + ", ".join(f"{v:.6g}" for v in np.ravel(a)[:k]) + "]"


def _product(factors):
    return reduce(lambda acc, W: W @ acc, factors[1:], factors[0])


def _check_shapes(factors, dims):
    N = len(dims) - 1
    assert isinstance(factors, (list, tuple)) and len(factors) == N, (
        f"balanced({dims}) must return a list of N = {N} factors, got "
        f"{type(factors).__name__} of length {getattr(factors, '__len__', lambda: '?')()}")
    for j, W in enumerate(factors, start=1):
        assert isinstance(W, np.ndarray) and W.shape == (dims[j], dims[j - 1]), (
            f"balanced({dims}): W_{j} has shape {np.shape(W)}; expected (d_{j}, d_{j - 1}) = "
            f"({dims[j]}, {dims[j - 1]})")
        assert W.dtype == np.float64 and W.flags.c_contiguous, (
            f"balanced({dims}): W_{j} must be a C-contiguous float64 array (the optimizers "
            "update factors in place); wrap it in np.ascontiguousarray")
        assert np.all(np.isfinite(W)), f"balanced({dims}): W_{j} has NaN or inf entries"


def _check_product(factors, W_e, dims):
    prod = _product(factors)
    err = float(np.max(np.abs(prod - W_e))) / float(np.max(np.abs(W_e)))
    assert err <= TOL, (
        f"balanced({dims}): W_N ... W_1 differs from the end-to-end matrix by {err:.1e} "
        f"relative (tolerance {TOL:.0e}); first entries yours {_first(prod)} vs W_e "
        f"{_first(W_e)}")


def _check_balanced(factors, dims):
    for j in range(1, len(factors)):
        upper = factors[j].T @ factors[j]          # W_{j+1}^T W_{j+1}
        lower = factors[j - 1] @ factors[j - 1].T  # W_j W_j^T
        err = float(np.linalg.norm(upper - lower)) / max(float(np.linalg.norm(lower)), 1e-300)
        assert err <= TOL, (
            f"balanced({dims}): not balanced at hidden layer {j}: "
            f"||W_{j + 1}^T W_{j + 1} - W_{j} W_{j}^T||_F / ||W_{j} W_{j}^T||_F = {err:.1e} "
            f"(tolerance {TOL:.0e}); first entries {_first(upper)} vs {_first(lower)}")



def _best_rank(A, r):
    """Best rank-r approximation of A (truncated SVD), computed here."""
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return (U[:, :r] * s[:r]) @ Vt[:r]


@pytest.mark.points(0.75)  # per architecture
@pytest.mark.parametrize("dims", [[5, 3, 2, 4], [5, 6, 3, 4]], ids=["narrow", "wide"])
def test_rank_deficient_end_to_end(rng, dims):
    from deeplinear import init

    r, N = 2, len(dims) - 1
    W_e = rng.standard_normal((dims[-1], r)) @ rng.standard_normal((r, dims[0]))  # rank 2
    factors = init.balanced(dims, rng=rng, end_to_end=W_e)
    _check_shapes(factors, dims)
    _check_product(factors, W_e, dims)
    _check_balanced(factors, dims)
    s = np.linalg.svd(W_e, compute_uv=False)[:r]
    for j, W in enumerate(factors, start=1):
        sw = np.linalg.svd(W, compute_uv=False)
        # Balanced factors of a rank-r product have singular values s^(1/N)
        # and exact zeros beyond r (up to float64 rounding, ~1e-15).
        assert np.allclose(sw[:r], s ** (1.0 / N), rtol=1e-10) and \
            np.all(sw[r:] <= 1e-10 * sw[0]), (
            f"balanced({dims}) with a rank-{r} end_to_end: W_{j} has singular values "
            f"{_first(sw, 6)}; expected {_first(s ** (1.0 / N))} (s^(1/N)) followed by zeros. "
            "Keep only the numerically non-zero singular values of W_e.")


@pytest.mark.points(0.75)  # per architecture
@pytest.mark.parametrize("dims", [[4, 1, 3], [4, 3, 1, 2, 3]], ids=["depth2", "depth4"])
def test_width_one_bottleneck_given(rng, dims):
    from deeplinear import init

    W_e = np.outer(rng.standard_normal(dims[-1]), rng.standard_normal(dims[0]))  # rank 1
    factors = init.balanced(dims, rng=rng, end_to_end=W_e)
    _check_shapes(factors, dims)
    _check_product(factors, W_e, dims)
    _check_balanced(factors, dims)


@pytest.mark.points(0.5)  # per architecture
@pytest.mark.parametrize("dims", [[4, 1, 3], [4, 2, 5, 3]], ids=["width1", "width2"])
def test_sample_truncated_to_narrowest_width(dims):
    from deeplinear import init

    scale, seed = 0.5, 11
    factors = init.balanced(dims, scale=scale, rng=seed)
    _check_shapes(factors, dims)
    sample = scale * np.random.default_rng(seed).standard_normal((dims[-1], dims[0]))
    _check_product(factors, _best_rank(sample, min(dims)), dims)
    _check_balanced(factors, dims)


@pytest.mark.points(1)
def test_rank_above_narrowest_width_is_an_error(rng):
    from deeplinear import init

    dims = [4, 5, 2, 3]
    W_e = rng.standard_normal((3, 4))  # rank 3 > narrowest hidden width 2
    with pytest.raises(ValueError):
        init.balanced(dims, rng=rng, end_to_end=W_e)


@pytest.mark.points(1)
def test_zero_end_to_end_gives_zero_factors(rng):
    from deeplinear import init

    dims = [3, 4, 2, 5]
    factors = init.balanced(dims, rng=rng, end_to_end=np.zeros((5, 3)))
    _check_shapes(factors, dims)
    assert all(not np.any(W) for W in factors), (
        "balanced with end_to_end = 0 (rank 0) must return all-zero factors; got "
        + ", ".join(f"max|W_{j}| = {np.max(np.abs(W)):.1e}" for j, W in enumerate(factors, 1)))
