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
