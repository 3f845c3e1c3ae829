"""Part 7, e2e_update: ``deeplinear.dynamics.e2e_update(W_e, grad_e, depth, lr,
weight_decay=0.0)`` and ``e2e_update_single_output`` (same arguments, one output).

One step of the end-to-end dynamics of Theorem 1 (Arora, Cohen & Hazan, 2018)::

    W_e <- (1 - lr wd N) W_e
           - lr sum_{j=1..N} [W_e W_e^T]^((j-1)/N) grad_e [W_e^T W_e]^((N-j)/N)

with the fractional powers of the PSD matrices from an SVD of ``W_e`` or from
``deeplinear.linalg.psd_power``; for a single output, Claim 1's closed form.

What is tested (public part; W_e = 0, rank-deficient W_e and more outputs
than inputs are tested when you hand in): depths 1, 2 and 3, several
outputs, a single output with both functions, and weight decay. Expected
values are stored arrays (cases.npz beside the tests; when you hand in, fresh inputs of the same
shapes and kinds).
"""

import pytest

from deeplinear.assignment.judge.checks.e2e_update import run_e2e

pytestmark = pytest.mark.part("e2e_update")


@pytest.mark.points(2)
def test_depth_1_is_gradient_descent(cases, student):
    run_e2e(student, cases("e2e/depth1"), "depth 1 (plain gradient descent)")
    run_e2e(student, cases("e2e/depth1-wd"), "depth 1 with weight decay")


@pytest.mark.points(3)
def test_depth_2_square(cases, student):
    run_e2e(student, cases("e2e/depth2"), "a 3x3 W_e")


@pytest.mark.points(3)
def test_depth_3_several_outputs(cases, student):
    run_e2e(student, cases("e2e/depth3"), "a 3x5 W_e (3 outputs)")


@pytest.mark.points(2)
def test_single_output_both_forms(cases, student):
    case = cases("e2e/single-output")
    run_e2e(student, case, "a single output, e2e_update")
    run_e2e(student, case, "a single output, e2e_update_single_output (Claim 1)", single=True)


@pytest.mark.points(2)
def test_weight_decay(cases, student):
    run_e2e(student, cases("e2e/weight-decay"), "a 3x3 W_e with weight decay "
            "(factor 1 - lr wd N)")
