"""The chain rule of the network: end_to_end, factor_gradients and balancedness against
their definitions.

The numba twins of ``end_to_end`` and ``factor_gradients`` are tested equal to
these NumPy functions in ``test_kernels.py``.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deeplinear import balancedness, end_to_end, factor_gradients

from helpers import judge_reference, random_factors

pytestmark = pytest.mark.nojit

# Architectures: single and multi output, d_0 < d_N (transposed kernels),
# width-1 bottlenecks, hidden wider and narrower than the ends, depth 1..5.
DIMS = [[4, 1], [3, 5], [5, 3, 1], [2, 7, 4, 9], [6, 1, 1, 6], [1, 4, 1],
        [4, 5, 6, 3, 2, 1], [3, 8, 8, 8, 8, 2], [1, 1, 1]]


# The definitions taken literally (W_N @ ... @ W_1 from W_1, and the factor
# gradients with O(N^2) products) are the judge's, instructor/gradereference.py.
_REFERENCE = judge_reference()
_left_to_right = _REFERENCE.product
_quadratic = _REFERENCE.factor_gradients


@pytest.mark.parametrize("dims", DIMS, ids=str)
def test_end_to_end_matches_left_to_right_product(rng, dims):
    factors = random_factors(rng, dims)
    W_e = end_to_end(factors)
    assert W_e.shape == (dims[-1], dims[0])
    assert not any(np.shares_memory(W_e, W) for W in factors), "W_e aliases a factor"
    # 1e-12: a few O(1) products of size <= 9, rounding ~ 9 * 2.2e-16 per product.
    assert_allclose(W_e, _left_to_right(factors), rtol=1e-12, atol=1e-12,
                    err_msg=f"end_to_end differs from W_N @ ... @ W_1 for dims {dims}")


@pytest.mark.parametrize("dims", DIMS, ids=str)
def test_factor_gradients_match_quadratic_formula(rng, dims):
    factors = random_factors(rng, dims)
    grad_e = rng.standard_normal((dims[-1], dims[0]))
    fast = factor_gradients(factors, grad_e)
    slow = _quadratic(factors, grad_e)
    assert [g.shape for g in fast] == [W.shape for W in factors]
    for j, (a, b) in enumerate(zip(fast, slow), start=1):
        # 1e-12 of the largest entry: the same O(1) products in another order
        # (<= 6 factors of size <= 9), ~1e-15; a wrong or transposed factor is O(1) off.
        scale = np.abs(b).max()
        assert_allclose(a, b, rtol=0, atol=1e-12 * scale,
                        err_msg=f"dL/dW_{j} differs from the O(N^2) formula for dims {dims}")


def test_factor_gradients_is_linear_in_grad_e_and_uses_each_factor(rng):
    # Guards against a kernel that ignores a factor or leaves stale workspace.
    dims = [3, 4, 2]
    factors = random_factors(rng, dims)
    G1, G2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    g_sum = factor_gradients(factors, G1 + 2 * G2)
    g1, g2 = factor_gradients(factors, G1), factor_gradients(factors, G2)
    for a, b, c in zip(g_sum, g1, g2):
        assert_allclose(a, b + 2 * c, rtol=1e-12, atol=1e-14)
    # dW_1 = W_2^T G: with W_2 scaled by 3, dW_1 scales by 3 and dW_2 does not.
    scaled = [factors[0], 3 * factors[1]]
    h = factor_gradients(scaled, G1)
    assert_allclose(h[0], 3 * g1[0], rtol=1e-12)
    assert_allclose(h[1], g1[1], rtol=1e-12)


def test_balancedness_definition(rng):
    assert balancedness([rng.standard_normal((3, 2))]) == 0.0
    W1, W2 = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))
    expected = np.linalg.norm(W2.T @ W2 - W1 @ W1.T)
    assert balancedness([W1, W2]) == pytest.approx(expected, rel=1e-14)
    # Max over j, not the sum or the first pair.
    W3 = 10 * rng.standard_normal((1, 2))
    worst = max(expected, np.linalg.norm(W3.T @ W3 - W2 @ W2.T))
    assert balancedness([W1, W2, W3]) == pytest.approx(worst, rel=1e-14)


@pytest.mark.parametrize("dims", [[1, 1, 2], [1, 3], [2, 1, 4], [3, 2, 1]], ids=str)
def test_returned_gradients_do_not_alias_the_workspace(rng, dims):
    # Regression: on the transposed chain a (d, 1) gradient's transpose is
    # already contiguous, and returning it without a copy let the next call
    # overwrite results the caller still held.
    from deeplinear import Objective
    X, Y = rng.standard_normal((5, dims[0])), rng.standard_normal((5, dims[-1]))
    obj = Objective(X, Y)
    factors = random_factors(rng, dims)
    _, first = obj.value_and_grads(factors)
    kept = [g.copy() for g in first]
    obj.value_and_grads([2 * W for W in factors])
    obj.value([3 * W for W in factors])
    for a, b in zip(first, kept):
        assert np.array_equal(a, b), "a later call changed gradients returned earlier"
