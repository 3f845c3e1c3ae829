"""Tests for deeplinear.init.

Tolerances: every factor built by ``balanced`` is a product of two or three
O(1) matrices with orthonormal columns and a diagonal, so float64 rounding
leaves errors of about eps * dimension ~ 1e-16 * 50 relative to the scale of
the quantity (``||W_e||`` for the product, ``||W_e||^(2/N)`` for the Gram
matrices).  1e-12 leaves a margin of ~100x and is still far below any error
a wrong formula would produce.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from deeplinear.init import (INITIALIZERS, balanced, default, make_factors, near_identity,
                             near_zero)

pytestmark = pytest.mark.nojit

DIMS = [[4, 4], [3, 7], [4, 4, 4], [5, 50, 50, 1], [6, 3, 3, 6], [8, 1, 1], [4, 1, 3],
        [2, 9, 2], [7, 2, 5, 3, 6], [3, 5, 4, 6, 5, 2]]


def product(factors):
    P = factors[0]
    for W in factors[1:]:
        P = W @ P
    return P


def imbalance(factors):
    """max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F (0 for depth 1)."""
    return max((np.linalg.norm(B.T @ B - A @ A.T) for A, B in zip(factors, factors[1:])),
               default=0.0)


def low_rank(rng, shape, rank):
    return rng.standard_normal((shape[0], rank)) @ rng.standard_normal((rank, shape[1]))


def check_exact(factors, W_e, dims):
    N = len(dims) - 1
    assert [W.shape for W in factors] == [(dims[j + 1], dims[j]) for j in range(N)]
    assert all(W.dtype == np.float64 and W.flags.c_contiguous for W in factors)
    norm = np.linalg.norm(W_e)
    err = np.linalg.norm(product(factors) - W_e) / (norm if norm > 0 else 1.0)
    assert err < 1e-12, f"dims={dims}: relative product error {err:.2e}"
    gram = np.linalg.norm(W_e, 2) ** (2 / N) if norm > 0 else 1.0
    assert imbalance(factors) / gram < 1e-12, f"dims={dims}: imbalance {imbalance(factors):.2e}"


@pytest.mark.parametrize("dims", DIMS)
def test_balanced_reproduces_given_end_to_end(rng, dims):
    rank = min(dims)  # full rank whenever no hidden layer is a bottleneck
    W_e = low_rank(rng, (dims[-1], dims[0]), rank)
    check_exact(balanced(dims, rng=rng, end_to_end=W_e), W_e, dims)


@pytest.mark.parametrize("dims", [[6, 2, 5], [6, 2, 8, 5], [9, 1, 4, 7], [5, 3, 5]])
def test_balanced_rank_deficient_end_to_end_is_exact(rng, dims):
    W_e = low_rank(rng, (dims[-1], dims[0]), min(dims))  # rank below min(d_0, d_N)
    check_exact(balanced(dims, rng=rng, end_to_end=W_e), W_e, dims)


@pytest.mark.parametrize("dims", [[3, 4], [4, 4, 4], [5, 1, 3], [2, 6, 6, 2]])
def test_balanced_zero_end_to_end(rng, dims):
    factors = balanced(dims, rng=rng, end_to_end=np.zeros((dims[-1], dims[0])))
    for W in factors:
        assert_array_equal(W, 0.0, err_msg=f"dims={dims}")
    check_exact(factors, np.zeros((dims[-1], dims[0])), dims)


def test_balanced_depth_one_returns_a_copy(rng):
    W_e = rng.standard_normal((3, 4))
    (W,) = balanced([4, 3], end_to_end=W_e)
    assert_array_equal(W, W_e)
    W[0, 0] += 1.0
    assert W_e[0, 0] != W[0, 0], "the factor must not alias the caller's end_to_end"


def test_balanced_product_independent_of_widths_and_seed():
    W_e = np.random.default_rng(1).standard_normal((3, 4))
    prods = [product(balanced(d, rng=5, end_to_end=W_e)) for d in ([4, 3, 3], [4, 20, 9, 3])]
    assert_allclose(prods[0], prods[1], rtol=0, atol=1e-12, err_msg="product depends on widths")
    assert_allclose(prods[0], W_e, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dims", DIMS)
def test_balanced_sampled(dims):
    factors = balanced(dims, scale=0.3, rng=11)
    again = balanced(dims, scale=0.3, rng=11)
    for W, V in zip(factors, again):
        assert_array_equal(W, V, err_msg="same seed must give the same factors")
    assert not np.array_equal(factors[-1], balanced(dims, scale=0.3, rng=12)[-1])
    P = product(factors)
    assert np.linalg.matrix_rank(P) == min(dims), f"dims={dims}"
    check_exact(factors, P, dims)
    # the end-to-end matrix is the best rank-min(dims) approximation of the first draw
    G = 0.3 * np.random.default_rng(11).standard_normal((dims[-1], dims[0]))
    U, s, Vt = np.linalg.svd(G, full_matrices=False)
    r = min(dims)
    assert_allclose(P, (U[:, :r] * s[:r]) @ Vt[:r], rtol=0, atol=1e-12, err_msg=f"dims={dims}")


def test_balanced_raises_when_rank_exceeds_hidden_width(rng):
    W_e = low_rank(rng, (5, 6), 3)
    with pytest.raises(ValueError, match="end_to_end.*rank 3.*2"):
        balanced([6, 4, 2, 5], rng=rng, end_to_end=W_e)
    balanced([6, 4, 3, 5], rng=rng, end_to_end=W_e)  # width 3 is enough


def test_balanced_sampled_entry_moments():
    scale, dims = 0.05, [200, 250, 150]  # no truncation: min hidden 250 >= 150
    W_e = product(balanced(dims, scale=scale, rng=3))
    n = W_e.size  # 30000: SE(mean) = scale/sqrt(n), SE(std) ~ scale/sqrt(2n); allow 5 SE
    assert abs(W_e.mean()) < 5 * scale / np.sqrt(n)
    assert abs(W_e.std() - scale) < 5 * scale / np.sqrt(2 * n)


def test_near_zero_moments():
    std = 0.02
    for W in near_zero([300, 200, 250], std=std, rng=4):
        n = W.size  # >= 50000; same 5-standard-error bounds as above
        assert abs(W.mean()) < 5 * std / np.sqrt(n)
        assert abs(W.std() - std) < 5 * std / np.sqrt(2 * n)


def test_default_bounds_and_variance():
    dims = [400, 300, 50]
    for j, W in enumerate(default(dims, rng=6)):
        b = 1 / np.sqrt(dims[j])
        assert np.abs(W).max() <= b and np.abs(W).max() > 0.99 * b, f"layer {j + 1}"
        # Var(X^2) = b^4/5 - b^4/9 = 4 b^4/45 for X ~ U(-b, b); allow 5 SE
        se = np.sqrt(4 / 45) * b**2 / np.sqrt(W.size)
        assert abs(np.mean(W**2) - b**2 / 3) < 5 * se, f"layer {j + 1}"
        assert abs(W.mean()) < 5 * b / np.sqrt(3 * W.size)


@pytest.mark.parametrize("dims", DIMS)
def test_near_identity_semi_orthogonal(rng, dims):
    for W in near_identity(dims, rng=rng):
        gram = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
        assert_allclose(gram, np.eye(min(W.shape)), rtol=0, atol=1e-12, err_msg=f"{W.shape}")


def test_near_identity_is_haar():
    # Haar orthogonal 3x3 entries have mean 0, variance 1/3; without the QR sign
    # fix W[0, 0] would always have the same sign.
    Ws = np.array([near_identity([3, 3], rng=g)[0] for g in range(2000)])
    assert np.abs(Ws.mean(axis=0)).max() < 5 * np.sqrt(1 / 3 / 2000)
    assert_allclose(np.mean(Ws**2, axis=0), 1 / 3, atol=0.05)


@pytest.mark.parametrize("dims, is_balanced", [
    ([4, 4], True), ([5, 5, 5, 5], True), ([6, 3, 3, 8], True), ([5, 2, 7, 1], False),
    ([3, 1, 1, 9], True), ([4, 2, 6], True), ([4, 6, 4], False), ([2, 5, 7], False),
    ([7, 5, 2], False), ([3, 2, 3, 2, 3], False), ([5, 2, 2, 2, 4], True), ([5, 3, 5, 6, 5], False)])
def test_near_identity_balanced_iff_hidden_not_wider(rng, dims, is_balanced):
    assert is_balanced == all(dims[j] <= min(dims[j - 1], dims[j + 1])
                              for j in range(1, len(dims) - 1))
    gap = imbalance(near_identity(dims, rng=rng))
    assert (gap < 1e-12) if is_balanced else (gap > 0.1), f"dims={dims}: imbalance {gap:.2e}"


def test_near_identity_equal_rank_random_subspaces_not_balanced(rng):
    # d_1 = 3 > d_0 = d_2 = 2: both Gram matrices are rank-2 projections in R^3,
    # but onto independent random planes.
    factors = near_identity([2, 3, 2], rng=rng)
    A, B = factors
    assert np.linalg.matrix_rank(A @ A.T) == np.linalg.matrix_rank(B.T @ B) == 2
    assert imbalance(factors) > 0.1


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_make_factors_dispatch(name):
    dims = [3, 5, 2]
    got = make_factors(name, dims, rng=9)
    want = INITIALIZERS[name](dims, rng=9)
    assert [W.shape for W in got] == [(5, 3), (2, 5)]
    for W, V in zip(got, want):
        assert W.dtype == np.float64 and W.flags.c_contiguous
        assert_array_equal(W, V)
    assert_allclose(make_factors("near_zero", dims, rng=9, std=0.5)[0],
                    near_zero(dims, std=0.5, rng=9)[0])


@pytest.mark.parametrize("call, match", [
    (lambda: make_factors("xavier", [2, 2]), "init.*near_identity"),
    (lambda: make_factors(None, [2, 2]), "init"),
    (lambda: balanced([3]), "dims"),
    (lambda: near_zero([3, 0]), "dims"),
    (lambda: default([3, 2.5]), "dims"),
    (lambda: near_identity(5), "dims"),
    (lambda: balanced([2, 2], scale=0), "scale"),
    (lambda: balanced([2, 2], scale=float("nan")), "scale"),
    (lambda: near_zero([2, 2], std=-1.0), "std"),
    (lambda: balanced([3, 4, 2], end_to_end=np.ones((3, 2))), "end_to_end.*shape"),
    (lambda: balanced([3, 4, 2], end_to_end=np.ones((2, 3), dtype=int)), "end_to_end"),
    (lambda: balanced([3, 2], end_to_end=[[1.0] * 3] * 2), "end_to_end"),
    (lambda: default([2, 2], rng="seed"), "rng"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
