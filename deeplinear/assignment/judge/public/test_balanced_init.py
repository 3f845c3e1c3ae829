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

import numpy as np
import pytest

from deeplinear.assignment.judge.checks.balanced_init import check_balanced_product, check_balancedness, run_balanced

pytestmark = pytest.mark.part("balanced_init")


@pytest.mark.points(3)
def test_product_is_end_to_end(rng, student):
    dims = [3, 5, 4, 2]
    W_e = rng.standard_normal((dims[-1], dims[0]))
    factors = run_balanced(student, dims, rng=1, end_to_end=W_e)
    check_balanced_product(factors, W_e, dims)


@pytest.mark.points(0.75)  # per architecture
@pytest.mark.parametrize("dims", [[5, 7, 2], [4, 6, 6, 3], [2, 4, 3, 5], [3, 4, 4, 4, 3]],
                         ids=lambda d: "-".join(map(str, d)))
def test_balanced_for_several_architectures(rng, student, dims):
    W_e = rng.standard_normal((dims[-1], dims[0]))
    factors = run_balanced(student, dims, rng=2, end_to_end=W_e)
    check_balanced_product(factors, W_e, dims)
    check_balancedness(factors, dims)


@pytest.mark.points(3)
def test_sampled_end_to_end_and_seed(student):
    dims, scale, seed = [4, 6, 5, 3], 0.3, 7
    factors = run_balanced(student, dims, scale=scale, rng=seed)
    # W_e is the first draw from the generator: N(0, scale^2) entries.
    W_e = scale * np.random.default_rng(seed).standard_normal((dims[-1], dims[0]))
    check_balanced_product(factors, W_e, dims)
    check_balancedness(factors, dims)
    again = run_balanced(student, dims, scale=scale, rng=("generator", seed))
    assert all(np.array_equal(A, B) for A, B in zip(factors, again)), (
        "balanced with the same seed (an int, or a Generator made from it) must give the "
        "same factors: draw every random number from rng")
