"""Hidden tests of part e2e_update: W_e = 0, rank-deficient W_e, more outputs than
inputs with weight decay, Claim 1 for several depths, and agreement with
gradient descent on balanced factors.
"""

import numpy as np
import pytest
from gradereference import e2e_case, factor_gradients, product

from deeplinear.assignment.judge.checks.common import as_array, call, first
from deeplinear.assignment.judge.checks.e2e_update import run_e2e

pytestmark = pytest.mark.part("e2e_update")


@pytest.mark.points(2)
def test_zero_end_to_end(student):
    # Depth >= 2: every term has a positive power of W_e W_e^T or W_e^T W_e,
    # and 0^p = 0, so the step is exactly zero (also with weight decay).
    for N, wd in [(2, 0.0), (3, 0.0), (3, 0.2)]:
        case = e2e_case(501, (2, 3), N, 0.1, wd, zero=True)
        value, _ = call(student, "deeplinear.dynamics:e2e_update", case["W_e"], case["G"], N,
                        0.1, weight_decay=wd)
        yours = as_array(value, f"e2e_update at W_e = 0 (depth {N})", (2, 3))
        # Rounding-level eigenvalues count as zero: nothing above ~1e-15 may survive.
        assert np.all(np.isfinite(yours)) and np.max(np.abs(yours)) <= 1e-12, (
            f"at W_e = 0 with depth {N} the step must be exactly zero (powers of the zero "
            f"matrix are 0 for p > 0 and I for p = 0); yours {first(yours, digits=8)}")
    run_e2e(student, e2e_case(501, (2, 3), 1, 0.1, zero=True), "W_e = 0, depth 1")


@pytest.mark.points(2)
def test_rank_deficient_end_to_end(student):
    # Rank 1 in a 3x4 matrix: W_e W_e^T and W_e^T W_e have eigenvalues of
    # rounding size (~1e-16) that must be treated as 0.
    run_e2e(student, e2e_case(502, (3, 4), 3, 0.1, rank=1), "a rank-1 3x4 W_e")
    run_e2e(student, e2e_case(503, (4, 5), 4, 0.05, rank=2), "a rank-2 4x5 W_e")


@pytest.mark.points(1.5)
def test_fewer_inputs_than_outputs_with_weight_decay(student):
    run_e2e(student, e2e_case(504, (5, 3), 4, 0.02, 0.1),
            "a 5x3 W_e (more outputs than inputs) with weight decay")


@pytest.mark.points(1.5)
def test_single_output_depths_and_weight_decay(student):
    for N, wd in [(2, 0.0), (4, 0.1)]:
        case = e2e_case(505 + N, (1, 5), N, 0.05, wd)
        run_e2e(student, case, f"a single output, depth {N}, e2e_update_single_output",
                single=True)


def _haar(rng, n, k):
    Q, R = np.linalg.qr(rng.standard_normal((n, k)))
    return Q * np.sign(np.diag(R))


@pytest.mark.points(1)
def test_matches_gradient_descent_on_balanced_factors(rng, student):
    # Balanced factors of W_e, built here: W_j = Q_j diag(s)^(1/N) Q_{j-1}^T,
    # then one gradient-descent step on every factor for a loss whose
    # gradient with respect to W_e is G.
    dims, N, lr = [4, 5, 3, 2], 3, 1e-4
    W_e, G = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    U, s, Vt = np.linalg.svd(W_e, full_matrices=False)
    Q = [Vt.T] + [_haar(rng, d, len(s)) for d in dims[1:-1]] + [U]
    factors = [(Q[j + 1] * s ** (1.0 / N)) @ Q[j].T for j in range(N)]
    deep = product([W - lr * dW for W, dW in zip(factors, factor_gradients(factors, G))])
    value, _ = call(student, "deeplinear.dynamics:e2e_update", W_e, G, N, lr)
    yours = as_array(value, "e2e_update", W_e.shape)
    # Theorem 1 is exact to first order in lr: here the gap is about 5 lr
    # relative to the step; 1e-2 = 100 lr leaves a margin of 20.
    gap = float(np.linalg.norm(yours - deep)) / float(np.linalg.norm(deep - W_e))
    assert gap <= 1e-2, (
        f"one gradient-descent step on balanced depth-{N} factors moves W_e by "
        f"{first(deep - W_e, digits=8)}, yours by {first(yours - W_e, digits=8)}: "
        f"relative gap {gap:.1e}, expected O(lr) = O({lr:g}) (tolerance 1e-2)")
