"""Deep training against the closed-form end-to-end dynamics (Theorem 1)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deeplinear import (balancedness, e2e_update, e2e_update_single_output, end_to_end,
                        factor_gradients, psd_power)
from deeplinear.init import balanced
from deeplinear.objective import Objective

pytestmark = pytest.mark.nojit


def _problem(rng, d_in=6, d_out=2, n=100, loss="l2"):
    X = rng.standard_normal((n, d_in))
    W_true = rng.standard_normal((d_out, d_in))
    Y = X @ W_true.T + 0.1 * rng.standard_normal((n, d_out))
    return Objective(X, Y, loss)


def _deep_step(obj, factors, lr):
    _, grads = obj.value_and_grads(factors)
    return [W - lr * g for W, g in zip(factors, grads)]


BALANCED_DIMS = [[6, 5, 4, 2], [6, 3, 2], [6, 8, 8, 1], [6, 1, 1], [6, 2, 7, 3, 1]]


@pytest.mark.parametrize("dims", BALANCED_DIMS, ids=str)
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("loss", ["l2", "l4"])
def test_one_deep_step_matches_theorem_1_to_second_order(rng, dims, weight_decay, loss):
    obj = _problem(rng, d_in=dims[0], d_out=dims[-1], loss=loss)
    obj.weight_decay = weight_decay
    factors = balanced(dims, scale=0.5, rng=rng)
    assert balancedness(factors) < 1e-12
    W_e = end_to_end(factors)
    _, grad_e = obj.value_and_grad_e(W_e)
    gaps = []
    for lr in [1e-2, 5e-3, 2.5e-3, 1.25e-3]:
        deep = end_to_end(_deep_step(obj, factors, lr))
        closed = e2e_update(W_e, grad_e, len(factors), lr, weight_decay)
        gaps.append(np.linalg.norm(deep - closed))
    ratios = np.array(gaps[:-1]) / np.array(gaps[1:])
    # An O(lr^2) gap divides by 4 per halving; 3.5 leaves room for the O(lr^3) terms.
    assert np.all(ratios >= 3.5), f"gaps {gaps} shrink by {ratios}, not like lr^2"


@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e-8, 1e-14, 0.0])
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_single_output_form_agrees_with_general_form(rng, scale, depth, weight_decay):
    W_e = scale * rng.standard_normal((1, 7))
    grad_e = rng.standard_normal((1, 7))
    general = e2e_update(W_e, grad_e, depth, 0.1, weight_decay)
    single = e2e_update_single_output(W_e, grad_e, depth, 0.1, weight_decay)
    # Both are a handful of float64 operations on the same numbers: 1e-10 relative.
    assert_allclose(single, general, rtol=1e-10, atol=1e-10 * np.abs(general).max(),
                    err_msg=f"single-output form differs at scale {scale}, depth {depth}")


def test_single_output_at_zero_does_not_move_for_depth_two_or_more(rng):
    g = rng.standard_normal((1, 4))
    assert np.all(e2e_update_single_output(np.zeros((1, 4)), g, 2, 0.1) == 0.0)
    assert_allclose(e2e_update_single_output(np.zeros((1, 4)), g, 1, 0.1), -0.1 * g)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (1, 4)])
def test_depth_one_is_plain_gradient_descent_exactly(rng, shape):
    W = rng.standard_normal(shape)
    G = rng.standard_normal(shape)
    assert np.array_equal(e2e_update(W, G, 1, 0.01), W - 0.01 * G)
    assert np.array_equal(e2e_update(W, G, 1, 0.01, 0.5), (1 - 0.01 * 0.5) * W - 0.01 * G)
    # Deep training with one factor: the factor gradient is grad_e itself.
    assert np.array_equal(factor_gradients([W], G)[0], G)


@pytest.mark.parametrize("rank", [0, 1, 2, 3])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_svd_form_matches_literal_psd_powers_for_any_rank(rng, rank, depth):
    W_e = rng.standard_normal((3, rank)) @ rng.standard_normal((rank, 5))
    grad_e = rng.standard_normal((3, 5))
    fast = e2e_update(W_e, grad_e, depth, 0.1)
    # Theorem 1 written literally, with eigendecompositions of the Gram matrices.
    N = depth
    step = sum(psd_power(W_e @ W_e.T, (j - 1) / N) @ grad_e @ psd_power(W_e.T @ W_e, (N - j) / N)
               for j in range(1, N + 1))
    literal = W_e - 0.1 * step
    # Both forms are exact on the range of W_e; eigh on the Gram matrices
    # carries errors ~ m * eps * ||W_e||^2 into the powers: 1e-10 is ample.
    assert_allclose(fast, literal, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(literal).max()),
                    err_msg=f"rank-{rank} W_e at depth {depth}")


def test_rank_deficient_powers_are_exact_zeros():
    # W_e of rank 1: [W_e^T W_e]^(1/3) must vanish on the complement of e_1,
    # so the step of a depth-3 net from W_e = e_1 e_1^T keeps that structure.
    W_e = np.zeros((2, 3))
    W_e[0, 0] = 1.0
    G = np.zeros((2, 3))
    G[1, 2] = 1.0  # orthogonal to W_e on both sides
    step = e2e_update(W_e, G, 3, 1.0) - W_e
    # Only the power-0 ends see G: j=1 gives G (W^T W)^(2/3) = 0, j=3 gives (W W^T)^(2/3) G = 0,
    # j=2 gives (W W^T)^(1/3) G (W^T W)^(1/3) = 0. So the step is exactly zero.
    assert np.all(step == 0.0), step


@pytest.mark.parametrize("dims", [[6, 5, 4, 2], [6, 3, 3, 1]], ids=str)
def test_trajectory_gap_shrinks_linearly_with_lr(rng, dims):
    obj = _problem(rng, d_in=dims[0], d_out=dims[-1])
    factors0 = balanced(dims, scale=0.3, rng=rng)
    gaps = []
    for lr in [4e-3, 2e-3, 1e-3]:
        factors, W_e, gap = [W.copy() for W in factors0], end_to_end(factors0), 0.0
        for _ in range(2000):
            _, grad_e = obj.value_and_grad_e(W_e)
            factors = _deep_step(obj, factors, lr)
            W_e = e2e_update(W_e, grad_e, len(factors), lr)
            gap = max(gap, np.linalg.norm(end_to_end(factors) - W_e) / np.linalg.norm(W_e))
        gaps.append(gap)
    ratios = np.array(gaps[:-1]) / np.array(gaps[1:])
    # Linear in lr means a ratio of 2 per halving (measured 2.00-2.02).
    assert np.all((ratios > 1.8) & (ratios < 2.3)), f"gaps {gaps}, ratios {ratios}"
    # At lr = 1e-3 the two trajectories stay within 0.5% of ||W_e|| (measured 0.06-0.1%).
    assert gaps[-1] < 5e-3


@pytest.mark.parametrize("dims", [[5, 4, 3, 2], [5, 1, 1], [3, 6, 6, 6, 2]], ids=str)
def test_balance_is_conserved_to_second_order(rng, dims):
    obj = _problem(rng, d_in=dims[0], d_out=dims[-1], loss="l4")
    factors = [0.7 * rng.standard_normal((dims[j + 1], dims[j])) for j in range(len(dims) - 1)]

    def imbalance(fs):
        return [fs[j + 1].T @ fs[j + 1] - fs[j] @ fs[j].T for j in range(len(fs) - 1)]

    _, grads = obj.value_and_grads(factors)
    before = imbalance(factors)
    for lr in [1e-2, 1e-3]:
        after = imbalance([W - lr * g for W, g in zip(factors, grads)])
        for j in range(len(factors) - 1):
            # First-order terms cancel exactly, leaving lr^2 (G_{j+1}^T G_{j+1} - G_j G_j^T).
            second = lr**2 * (grads[j + 1].T @ grads[j + 1] - grads[j] @ grads[j].T)
            scale = max(np.abs(second).max(), 1e-300)
            assert_allclose(after[j] - before[j], second, rtol=0,
                            atol=1e-12 * np.abs(before[j]).max() + 1e-6 * scale,
                            err_msg=f"imbalance {j} moved by more than O(lr^2) at lr={lr}")


# --- Theorem 1's update is not a gradient field (so no regularizer gives it) --------

def _direction(obj, depth):
    """F(w) = (W_e - W_e_new) / lr of the single-output update (lr 1, no weight decay)."""
    def F(w):
        W = w[None, :]
        return (W - e2e_update_single_output(W, obj.value_and_grad_e(W)[1], depth, 1.0))[0]
    return F


def _fd_jacobian(F, w, h=1e-5):
    """J[i, k] = dF_i / dw_k by central differences, one column per coordinate."""
    return np.column_stack([(F(w + h * e) - F(w - h * e)) / (2 * h) for e in np.eye(w.size)])


def _asymmetry(J):
    return np.linalg.norm(J - J.T) / np.linalg.norm(J)


@pytest.mark.parametrize("loss", ["l2", "l4"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_update_jacobian_is_asymmetric_for_depth_two_or_more(rng, loss, depth):
    # A gradient field has a symmetric Jacobian (the Hessian of its potential),
    # so a depth >= 2 asymmetry far above the finite-difference error means no
    # function L + R has F as its gradient. At depth 1, F = grad L exactly.
    obj = _problem(rng, d_in=6, d_out=1, loss=loss)
    F = _direction(obj, depth)
    asym = [_asymmetry(_fd_jacobian(F, w)) for w in rng.standard_normal((4, 6))]
    if depth == 1:
        # Finite-difference error relative to ||J||: rounding ~ eps ||F|| / h
        # (about 1e-11 at h = 1e-5), and for l4 truncation ~ h^2 (the third
        # derivatives of a quartic): measured <= 5e-11. 1e-8 leaves a margin of 200.
        assert max(asym) < 1e-8, asym
    else:
        # Measured 0.04-0.35 at these points: 1e-2 is a factor of 4 below the
        # least and 1e8 above the depth-1 (finite-difference) level.
        assert min(asym) > 1e-2, asym


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_update_jacobian_skew_part_matches_closed_form(rng, depth):
    # Differentiating F = r^p (g + (N-1) (g.u) u), r = ||w||, u = w / r,
    # p = 2 - 2/N, with the symmetric Hessian H of L gives
    #   J - J^T = r^(p-1) [(3 - N - 2/N) (g u^T - u g^T) + (N-1) r (u u^T H - H u u^T)],
    # zero for N = 1 (both coefficients vanish) and generically not for N >= 2.
    obj = _problem(rng, d_in=6, d_out=1, loss="l2")
    X = obj.X
    H = 2.0 * X.T @ X / X.shape[0]               # Hessian of mean((X w - y)^2)
    N, p = depth, 2.0 - 2.0 / depth
    for w in rng.standard_normal((3, 6)):
        g = obj.value_and_grad_e(w[None, :])[1][0]
        r = np.linalg.norm(w)
        u = w / r
        uuH = np.outer(u, u) @ H
        skew = r ** (p - 1) * ((3 - N - 2 / N) * (np.outer(g, u) - np.outer(u, g))
                               + (N - 1) * r * (uuH - uuH.T))
        J = _fd_jacobian(_direction(obj, depth), w)
        # l2 makes g affine in w, so the central differences of F carry
        # truncation ~ h^2 (from the norms) and rounding ~ eps ||F|| / h: both
        # below 1e-9 of ||J|| (measured <= 2e-11).
        assert_allclose(J - J.T, skew, rtol=0, atol=1e-8 * np.linalg.norm(J))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_update_has_work_around_a_closed_loop_for_depth_two_or_more(rng, depth):
    # The line integral of a gradient field around a closed loop is 0. Around a
    # circle of radius rho in the plane of orthonormal a, b, Stokes gives
    # pi rho^2 (b.J a - a.J b) + O(rho^4) for any smooth F.
    obj = _problem(rng, d_in=6, d_out=1, loss="l4")
    F = _direction(obj, depth)
    w = rng.standard_normal(6)
    a, b = np.linalg.qr(rng.standard_normal((6, 2)))[0].T
    rho, m = 1e-3 * np.linalg.norm(w), 64
    t = 2 * np.pi * np.arange(m) / m
    # The trapezoid rule on a periodic integrand: exact for a trigonometric
    # polynomial of degree < m (depth 1 with l4: degree 4), spectrally accurate otherwise.
    work = sum(F(w + rho * (np.cos(s) * a + np.sin(s) * b)) @ (np.cos(s) * b - np.sin(s) * a)
               for s in t) * rho * 2 * np.pi / m
    J = _fd_jacobian(F, w)
    scale = np.pi * rho**2 * np.linalg.norm(J)    # the size of a nonzero circulation
    if depth == 1:
        # Rounding of the sum: m terms of size ||F|| rho, eps each (measured 1e-14 of scale).
        assert abs(work) < 1e-8 * scale, (work, scale)
    else:
        stokes = np.pi * rho**2 * (b @ J @ a - a @ J @ b)
        # Measured 0.019 (depth 2) and 0.053 (depth 3) of scale: 1e-3 is a
        # factor of 19 below the least and 1e11 above depth 1's 1e-14.
        assert abs(stokes) > 1e-3 * scale, (stokes, scale)
        # The O(rho^4) remainder is ~ (rho / ||w||)^2 = 1e-6 of it (measured
        # 2e-6 to 4e-6); 1e-4 leaves room.
        assert_allclose(work, stokes, rtol=1e-4)
