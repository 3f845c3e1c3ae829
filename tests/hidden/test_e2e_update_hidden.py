"""Hidden tests of part e2e_update: W_e = 0, rank-deficient W_e, fewer inputs than
outputs with weight decay, and agreement with gradient descent on balanced factors.
"""

import numpy as np
import pytest

from gradelib import check_e2e_update, first, product, theorem1

pytestmark = pytest.mark.part("e2e_update")


@pytest.mark.points(2)
def test_zero_end_to_end(rng):
    from deeplinear.end_to_end import e2e_update_reference

    W_e, G = np.zeros((2, 3)), rng.standard_normal((2, 3))
    # Depth >= 2: every term has a positive power of W_e W_e^T or W_e^T W_e,
    # and 0^p = 0, so the step is exactly zero (also with weight decay).
    for N, wd in [(2, 0.0), (3, 0.0), (3, 0.2)]:
        yours = e2e_update_reference(W_e, G, N, 0.1, weight_decay=wd)
        assert isinstance(yours, np.ndarray) and yours.shape == W_e.shape and \
            np.all(np.isfinite(yours)), (
            f"e2e_update_reference at W_e = 0 (depth {N}) must return a finite array of "
            f"shape {W_e.shape}; got {first(yours, digits=8)}")
        # Rounding-level eigenvalues count as zero: nothing above ~1e-15 may survive.
        assert np.max(np.abs(yours)) <= 1e-12, (
            f"at W_e = 0 with depth {N} the step must be exactly zero (powers of the zero "
            f"matrix are 0 for p > 0 and I for p = 0); yours {first(yours, digits=8)}")
    # Depth 1 is plain gradient descent, also at 0.
    check_e2e_update(W_e, G, 1, 0.1, 0.0, -0.1 * G, "W_e = 0, depth 1")


@pytest.mark.points(2)
def test_rank_deficient_end_to_end(rng):
    # Rank 1 in a 3x4 matrix: W_e W_e^T and W_e^T W_e have eigenvalues of
    # rounding size (~1e-16) that must be treated as 0 (psd_power does).
    u, v = rng.standard_normal((3, 1)), rng.standard_normal((1, 4))
    W_e, G = u @ v, rng.standard_normal((3, 4))
    check_e2e_update(W_e, G, 3, 0.1, 0.0, theorem1(W_e, G, 3, 0.1), "a rank-1 3x4 W_e")
    W_e2 = rng.standard_normal((4, 2)) @ rng.standard_normal((2, 5))  # rank 2, 4x5
    G2 = rng.standard_normal((4, 5))
    check_e2e_update(W_e2, G2, 4, 0.05, 0.0, theorem1(W_e2, G2, 4, 0.05), "a rank-2 4x5 W_e")


@pytest.mark.points(2)
def test_fewer_inputs_than_outputs_with_weight_decay(rng):
    W_e, G = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    check_e2e_update(W_e, G, 4, 0.02, 0.1, theorem1(W_e, G, 4, 0.02, 0.1),
                     "a 5x3 W_e (more outputs than inputs) with weight decay")


def _haar(rng, n, k):
    Q, R = np.linalg.qr(rng.standard_normal((n, k)))
    return Q * np.sign(np.diag(R))


@pytest.mark.points(2)
def test_matches_gradient_descent_on_balanced_factors(rng):
    from deeplinear.end_to_end import e2e_update_reference

    # Balanced factors of W_e, built here: W_j = Q_j diag(s)^(1/N) Q_{j-1}^T.
    dims, N, lr = [4, 5, 3, 2], 3, 1e-4
    W_e, G = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    U, s, Vt = np.linalg.svd(W_e, full_matrices=False)
    Q = [Vt.T] + [_haar(rng, d, len(s)) for d in dims[1:-1]] + [U]
    factors = [(Q[j + 1] * s ** (1.0 / N)) @ Q[j].T for j in range(N)]
    # One gradient-descent step on every factor, for a loss whose gradient
    # with respect to W_e is G: dL/dW_j = (W_N...W_{j+1})^T G (W_{j-1}...W_1)^T.
    stepped = []
    for j in range(1, N + 1):
        above = np.eye(dims[j])
        for W in factors[j:]:
            above = W @ above
        below = np.eye(dims[0])
        for W in factors[: j - 1]:
            below = W @ below
        stepped.append(factors[j - 1] - lr * above.T @ G @ below.T)
    deep = product(stepped)
    yours = e2e_update_reference(W_e, G, N, lr)
    assert isinstance(yours, np.ndarray) and yours.shape == W_e.shape, (
        f"e2e_update_reference must return an array of shape {W_e.shape}")
    # Theorem 1 is exact to first order in lr: here the gap is about 5 lr
    # relative to the step; 1e-2 = 100 lr leaves a margin of 20.
    gap = float(np.linalg.norm(yours - deep)) / float(np.linalg.norm(deep - W_e))
    assert gap <= 1e-2, (
        f"one gradient-descent step on balanced depth-{N} factors moves W_e by "
        f"{first(deep - W_e, digits=8)}, yours by {first(yours - W_e, digits=8)}: "
        f"relative gap {gap:.1e}, "
        f"expected O(lr) = O({lr:g}) (tolerance 1e-2)")
