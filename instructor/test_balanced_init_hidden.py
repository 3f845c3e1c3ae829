"""Hidden tests of part balanced_init: ranks, bottlenecks, errors.

* a rank-deficient ``end_to_end`` (every factor then has rank r, with the
  non-zero singular values ``s_i^(1/N)``);
* width-1 bottlenecks, given and sampled (a sample is truncated to its best
  rank-``min(dims)`` approximation);
* a rank above the narrowest hidden width is a ``ValueError`` when
  ``end_to_end`` is given (a rank equal to it is not);
* ``end_to_end = 0`` gives all-zero factors (and a rank-1 one, through the
  same widths, its balanced factors).

Every test also needs real factors somewhere, so that a function that always
raises, or always returns zeros, earns nothing.
"""

import numpy as np
import pytest

from deeplinear.assignment.judge.checks.balanced_init import (
    check_balanced_product, check_balancedness, run_balanced)
from deeplinear.assignment.judge.checks.common import StudentError, first

pytestmark = pytest.mark.part("balanced_init")


def _best_rank(A, r):
    """Best rank-r approximation of A (truncated SVD), computed here."""
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return (U[:, :r] * s[:r]) @ Vt[:r]


@pytest.mark.points(0.75)  # per architecture
@pytest.mark.parametrize("dims", [[5, 3, 2, 4], [5, 6, 3, 4]], ids=["narrow", "wide"])
def test_rank_deficient_end_to_end(rng, student, dims):
    r, N = 2, len(dims) - 1
    W_e = rng.standard_normal((dims[-1], r)) @ rng.standard_normal((r, dims[0]))  # rank 2
    factors = run_balanced(student, dims, rng=3, end_to_end=W_e)
    check_balanced_product(factors, W_e, dims)
    check_balancedness(factors, dims)
    s = np.linalg.svd(W_e, compute_uv=False)[:r]
    for j, W in enumerate(factors, start=1):
        sw = np.linalg.svd(W, compute_uv=False)
        # Balanced factors of a rank-r product have singular values s^(1/N)
        # and exact zeros beyond r (up to float64 rounding, ~1e-15).
        assert np.allclose(sw[:r], s ** (1.0 / N), rtol=1e-10) and \
            np.all(sw[r:] <= 1e-10 * sw[0]), (
            f"balanced({dims}) with a rank-{r} end_to_end: W_{j} has singular values "
            f"{first(sw, 6)}; expected {first(s ** (1.0 / N))} (s^(1/N)) followed by zeros. "
            "Keep only the numerically non-zero singular values of W_e.")


@pytest.mark.points(0.75)  # per architecture
@pytest.mark.parametrize("dims", [[4, 1, 3], [4, 3, 1, 2, 3]], ids=["depth2", "depth4"])
def test_width_one_bottleneck_given(rng, student, dims):
    W_e = np.outer(rng.standard_normal(dims[-1]), rng.standard_normal(dims[0]))  # rank 1
    factors = run_balanced(student, dims, rng=4, end_to_end=W_e)
    check_balanced_product(factors, W_e, dims)
    check_balancedness(factors, dims)


@pytest.mark.points(0.5)  # per architecture
@pytest.mark.parametrize("dims", [[4, 1, 3], [4, 2, 5, 3]], ids=["width1", "width2"])
def test_sample_truncated_to_narrowest_width(student, dims):
    scale, seed = 0.5, 11
    factors = run_balanced(student, dims, scale=scale, rng=seed)
    sample = scale * np.random.default_rng(seed).standard_normal((dims[-1], dims[0]))
    check_balanced_product(factors, _best_rank(sample, min(dims)), dims)
    check_balancedness(factors, dims)


@pytest.mark.points(1)
def test_rank_above_narrowest_width_is_an_error(rng, student):
    dims = [4, 5, 2, 3]
    W_e = rng.standard_normal((3, 4))  # rank 3 > narrowest hidden width 2
    with pytest.raises(StudentError, match="raised ValueError"):
        run_balanced(student, dims, rng=5, end_to_end=W_e)
    # Rank 2 = the narrowest width is no error: the factors exist (so a
    # function that always raises earns nothing here).
    W_e = rng.standard_normal((3, 2)) @ rng.standard_normal((2, 4))
    factors = run_balanced(student, dims, rng=5, end_to_end=W_e)
    check_balanced_product(factors, W_e, dims)
    check_balancedness(factors, dims)


@pytest.mark.points(1)
def test_zero_end_to_end_gives_zero_factors(rng, student):
    dims = [3, 4, 2, 5]
    factors = run_balanced(student, dims, rng=6, end_to_end=np.zeros((5, 3)))
    assert all(not np.any(W) for W in factors), (
        "balanced with end_to_end = 0 (rank 0) must return all-zero factors; got "
        + ", ".join(f"max|W_{j}| = {np.max(np.abs(W)):.1e}" for j, W in enumerate(factors, 1)))
    # ... and a rank-1 end_to_end through the same architecture gives its
    # balanced factors (so a function that always returns zeros earns nothing here).
    W_e = np.outer(rng.standard_normal(5), rng.standard_normal(3))
    factors = run_balanced(student, dims, rng=6, end_to_end=W_e)
    check_balanced_product(factors, W_e, dims)
    check_balancedness(factors, dims)
