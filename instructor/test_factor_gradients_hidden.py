"""Hidden tests of part factor_gradients: deeper networks and awkward shapes.

* depth 4, rectangular and square;
* a width-1 bottleneck (``W_e`` of rank 1);
* fewer inputs than outputs (``d_0 < d_N``);
* a depth-5 network with a single input and a single output.

As in the public tests, ``L = sum(G * (W_N ... W_1))`` and ``grad_e = G``;
expected values come from the judge's reference (products written out).
Each test also needs the wide depth-4 network of the public tests
(``cases("factors/wide")``, run once per grading): there only a formula
finishes in time, and differentiating entry by entry, by finite differences
or the complex step, does not (the policy of the student guide: the part asks
for the formula).
"""

import pytest
from gradereference import factor_case

from deeplinear.assignment.judge.checks.factor_gradients import (
    run_factor_gradients, run_wide_factor_gradients)

pytestmark = pytest.mark.part("factor_gradients")


@pytest.mark.points(1.5)  # per network
@pytest.mark.parametrize("dims", [[4, 3, 5, 2, 3], [3, 3, 3, 3, 3]], ids=["rect", "square"])
def test_depth_4(cases, student, dims):
    run_factor_gradients(student, factor_case(201, dims))
    run_wide_factor_gradients(student, cases("factors/wide"))


@pytest.mark.points(1)  # per network
@pytest.mark.parametrize("dims", [[4, 1, 3], [3, 5, 1, 4, 2]], ids=["depth2", "depth4"])
def test_width_one_bottleneck(cases, student, dims):
    run_factor_gradients(student, factor_case(202, dims))
    run_wide_factor_gradients(student, cases("factors/wide"))


@pytest.mark.points(2)
def test_fewer_inputs_than_outputs(cases, student):
    run_factor_gradients(student, factor_case(203, [2, 4, 3, 6]))
    run_wide_factor_gradients(student, cases("factors/wide"))


@pytest.mark.points(1)
def test_depth_5_single_input_and_output(cases, student):
    run_factor_gradients(student, factor_case(204, [1, 3, 2, 4, 2, 1]))
    run_wide_factor_gradients(student, cases("factors/wide"))
