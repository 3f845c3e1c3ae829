"""Part 7, e2e_update: ``deeplinear.e2e_update_reference(W_e, grad_e, depth, lr,
weight_decay=0.0)``.

One step of the end-to-end dynamics of Theorem 1 (Arora, Cohen & Hazan, 2018)::

    W_e <- (1 - lr wd N) W_e
           - lr sum_{j=1..N} [W_e W_e^T]^((j-1)/N) grad_e [W_e^T W_e]^((N-j)/N)

with the fractional powers of the PSD matrices from ``deeplinear.linalg.psd_power``.

What is tested (public part; W_e = 0, rank-deficient W_e and agreement with
gradient descent on balanced factors are tested when you hand in): depths 1,
2 and 3, several outputs, a single output against the closed form of Claim 1,
and weight decay. Expected values are computed in this file from
``numpy.linalg.eigh``.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.part("e2e_update")

# The step is a sum of products of eigendecompositions of O(1) float64
# matrices: two correct implementations agree to ~1e-14 relative to the size
# of the step. 1e-9 leaves a wide margin; a wrong power (e.g. j/N instead of
# (j-1)/N) or a swapped side changes the step by O(1).
TOL = 1e-9


def _first(a, k=4):
    return "[" + ", ".join(f"{v:.8g}" for v in np.ravel(a)[:k]) + "]"


def _psd_power(A, power):
    """A^power for a symmetric PSD A, via eigh; rounding-level eigenvalues count as 0."""
    if power == 0:
        return np.eye(A.shape[0])
    lam, Q = np.linalg.eigh(0.5 * (A + A.T))
    keep = lam > 1e-10 * max(lam.max(), 0.0)  # true eigenvalues here are O(1) or exactly 0
    return (Q * np.where(keep, np.abs(lam), 0.0) ** power) @ Q.T


def _theorem1(W_e, G, N, lr, wd=0.0):
    left, right = W_e @ W_e.T, W_e.T @ W_e
    step = sum(_psd_power(left, (j - 1) / N) @ G @ _psd_power(right, (N - j) / N)
               for j in range(1, N + 1))
    return (1.0 - lr * wd * N) * W_e - lr * step


def _check(W_e, G, N, lr, wd, expected, what):
    # Not "from deeplinear import end_to_end": the package exports a function of
    # that name (deeplinear.linalg.end_to_end) that hides the submodule.
    from deeplinear.end_to_end import e2e_update_reference

    W_before, G_before = W_e.copy(), G.copy()
    if wd:
        yours = e2e_update_reference(W_e, G, N, lr, weight_decay=wd)
    else:
        yours = e2e_update_reference(W_e, G, N, lr)
    assert isinstance(yours, np.ndarray) and yours.shape == W_e.shape, (
        f"e2e_update_reference must return the next W_e, an array of shape {W_e.shape}; "
        f"got {type(yours).__name__} of shape {np.shape(yours)}")
    assert np.array_equal(W_e, W_before) and np.array_equal(G, G_before), (
        "e2e_update_reference must not modify W_e or grad_e: return a new array")
    step_size = max(float(np.max(np.abs(expected - W_e))), 1e-300)
    err = float(np.max(np.abs(yours - expected))) / step_size
    assert err <= TOL, (
        f"{what} (depth {N}, lr {lr}, weight_decay {wd}): the next W_e differs from "
        f"Theorem 1 by {err:.1e} relative to the size of the step (tolerance {TOL:.0e}); "
        f"first entries of the step (next W_e - W_e) yours {_first(yours - W_e)} vs "
        f"expected {_first(expected - W_e)}"
        + (". An error this small usually means rounding-level eigenvalues (~1e-16) were "
           "raised to a fractional power: treat them as 0, as psd_power does"
           if 1e-9 < err < 1e-3 else ""))


@pytest.mark.points(2)
def test_depth_1_is_gradient_descent(rng):
    W_e, G = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    _check(W_e, G, 1, 0.1, 0.0, W_e - 0.1 * G, "depth 1 (plain gradient descent)")
    _check(W_e, G, 1, 0.1, 0.5, (1 - 0.05) * W_e - 0.1 * G,
           "depth 1 with weight decay")


@pytest.mark.points(3)
def test_depth_2_square(rng):
    W_e, G = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    _check(W_e, G, 2, 0.1, 0.0, _theorem1(W_e, G, 2, 0.1), "a 3x3 W_e")


@pytest.mark.points(3)
def test_depth_3_several_outputs(rng):
    W_e, G = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    _check(W_e, G, 3, 0.05, 0.0, _theorem1(W_e, G, 3, 0.05), "a 3x5 W_e (3 outputs)")


@pytest.mark.points(2)
def test_single_output_matches_claim_1(rng):
    # Claim 1: for a row vector W_e the step is
    # ||W_e||^(2-2/N) (g + (N-1) (g.u) u) with u = W_e / ||W_e||.
    N, lr = 3, 0.1
    W_e, G = rng.standard_normal((1, 6)), rng.standard_normal((1, 6))
    norm = np.linalg.norm(W_e)
    u = W_e / norm
    expected = W_e - lr * norm ** (2 - 2 / N) * (G + (N - 1) * np.sum(G * u) * u)
    _check(W_e, G, N, lr, 0.0, expected, "a single output (Claim 1's closed form)")


@pytest.mark.points(2)
def test_weight_decay(rng):
    W_e, G = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    _check(W_e, G, 2, 0.1, 0.3, _theorem1(W_e, G, 2, 0.1, 0.3),
           "a 3x3 W_e with weight decay (factor 1 - lr wd N)")
