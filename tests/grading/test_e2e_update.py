"""Part 7, e2e_update: ``deeplinear.e2e_update_reference(W_e, grad_e, depth, lr,
weight_decay=0.0)``.

One step of the end-to-end dynamics of Theorem 1 (Arora, Cohen & Hazan, 2018)::

    W_e <- (1 - lr wd N) W_e
           - lr sum_{j=1..N} [W_e W_e^T]^((j-1)/N) grad_e [W_e^T W_e]^((N-j)/N)

with the fractional powers of the PSD matrices from ``deeplinear.linalg.psd_power``.

What is tested (public part; W_e = 0, rank-deficient W_e and agreement with
gradient descent on balanced factors are tested when you hand in): depths 1,
2 and 3, several outputs, a single output against the closed form of Claim 1,
and weight decay. Expected values are computed in tests/gradelib.py from
``numpy.linalg.eigh``.
"""

import numpy as np
import pytest

from gradelib import check_e2e_update, theorem1

pytestmark = pytest.mark.part("e2e_update")


@pytest.mark.points(2)
def test_depth_1_is_gradient_descent(rng):
    W_e, G = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check_e2e_update(W_e, G, 1, 0.1, 0.0, W_e - 0.1 * G, "depth 1 (plain gradient descent)")
    check_e2e_update(W_e, G, 1, 0.1, 0.5, (1 - 0.05) * W_e - 0.1 * G,
                     "depth 1 with weight decay")


@pytest.mark.points(3)
def test_depth_2_square(rng):
    W_e, G = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    check_e2e_update(W_e, G, 2, 0.1, 0.0, theorem1(W_e, G, 2, 0.1), "a 3x3 W_e")


@pytest.mark.points(3)
def test_depth_3_several_outputs(rng):
    W_e, G = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    check_e2e_update(W_e, G, 3, 0.05, 0.0, theorem1(W_e, G, 3, 0.05), "a 3x5 W_e (3 outputs)")


@pytest.mark.points(2)
def test_single_output_matches_claim_1(rng):
    # Claim 1: for a row vector W_e the step is
    # ||W_e||^(2-2/N) (g + (N-1) (g.u) u) with u = W_e / ||W_e||.
    N, lr = 3, 0.1
    W_e, G = rng.standard_normal((1, 6)), rng.standard_normal((1, 6))
    norm = np.linalg.norm(W_e)
    u = W_e / norm
    expected = W_e - lr * norm ** (2 - 2 / N) * (G + (N - 1) * np.sum(G * u) * u)
    check_e2e_update(W_e, G, N, lr, 0.0, expected, "a single output (Claim 1's closed form)")


@pytest.mark.points(2)
def test_weight_decay(rng):
    W_e, G = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    check_e2e_update(W_e, G, 2, 0.1, 0.3, theorem1(W_e, G, 2, 0.1, 0.3),
                     "a 3x3 W_e with weight decay (factor 1 - lr wd N)")
