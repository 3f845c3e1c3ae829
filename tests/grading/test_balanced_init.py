"""Part 6, balanced_init: ``deeplinear.init.balanced(dims, scale, rng, end_to_end)``.

It must return factors ``[W_1, ..., W_N]`` (``W_j`` of shape ``(d_j, d_{j-1})``,
float64, C-contiguous) that are

* a factorization: ``W_N ... W_1`` equals ``end_to_end`` (or, when it is
  None, the ``N(0, scale^2)`` sample that ``balanced`` draws first from ``rng``);
* balanced: ``W_{j+1}^T W_{j+1} == W_j W_j^T`` for every hidden layer j.

What is tested (public part; rank-deficient targets, width-1 bottlenecks and
errors are tested when you hand in): the product, balancedness for several
architectures (including fewer inputs than outputs), and the sampled
``W_e`` with its seed. The hidden orthonormal ``Q_j`` are random, so only
these properties are checked, never the factors themselves.
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


@pytest.mark.points(3)
def test_product_is_end_to_end(rng):
    from deeplinear import init

    dims = [3, 5, 4, 2]
    W_e = rng.standard_normal((dims[-1], dims[0]))
    W_e_before = W_e.copy()
    factors = init.balanced(dims, rng=1, end_to_end=W_e)
    _check_shapes(factors, dims)
    _check_product(factors, W_e_before, dims)
    assert np.array_equal(W_e, W_e_before), "balanced must not modify end_to_end"


@pytest.mark.points(0.75)  # per architecture
@pytest.mark.parametrize("dims", [[5, 7, 2], [4, 6, 6, 3], [2, 4, 3, 5], [3, 4, 4, 4, 3]],
                         ids=lambda d: "-".join(map(str, d)))
def test_balanced_for_several_architectures(rng, dims):
    from deeplinear import init

    W_e = rng.standard_normal((dims[-1], dims[0]))
    factors = init.balanced(dims, rng=rng, end_to_end=W_e)
    _check_shapes(factors, dims)
    _check_product(factors, W_e, dims)
    _check_balanced(factors, dims)


@pytest.mark.points(3)
def test_sampled_end_to_end_and_seed():
    from deeplinear import init

    dims, scale, seed = [4, 6, 5, 3], 0.3, 7
    factors = init.balanced(dims, scale=scale, rng=seed)
    _check_shapes(factors, dims)
    # W_e is the first draw from the generator: N(0, scale^2) entries.
    W_e = scale * np.random.default_rng(seed).standard_normal((dims[-1], dims[0]))
    _check_product(factors, W_e, dims)
    _check_balanced(factors, dims)
    again = init.balanced(dims, scale=scale, rng=np.random.default_rng(seed))
    assert all(np.array_equal(A, B) for A, B in zip(factors, again)), (
        "balanced with the same seed (an int, or a Generator made from it) must give the "
        "same factors: draw every random number from rng")
