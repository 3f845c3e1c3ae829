"""Part 3, factor_gradients: ``deeplinear.network.factor_gradients(factors, grad_e)``.

For ``W_e = W_N ... W_1`` (``W_j`` of shape ``(d_j, d_{j-1})``) and the
gradient ``grad_e = dL/dW_e``, it must return ``[dL/dW_1, ..., dL/dW_N]`` with

    dL/dW_j = (W_N ... W_{j+1})^T grad_e (W_{j-1} ... W_1)^T.

Each test takes the loss ``L(W_1, ..., W_N) = sum(G * (W_N ... W_1))``, whose
gradient with respect to ``W_e`` is exactly ``G``, passes ``grad_e = G`` and
compares every returned ``dL/dW_j`` with stored expected arrays to 1e-11
relative to the largest entry (finite differences are the way to debug, but
they cannot reach that). Points are per depth: depths 1, 2 and 3 here, each on
a rectangular and a square network (more depths and shapes are tested when
you hand in), and one test of a depth-4 network.

Each test also needs the wide depth-4 network (dims ``[140, 160, 150, 170,
130]``, run once and shared by every test of the part): there the formula
takes milliseconds, and anything that differentiates entry by entry (finite
differences, the complex step) runs past the 10 s a call may take. The part
asks for the formula.
"""

import pytest

from deeplinear.assignment.judge.checks.factor_gradients import (
    run_factor_gradients, run_wide_factor_gradients)

pytestmark = pytest.mark.part("factor_gradients")

# Per depth: a rectangular network (a wrong transpose or order usually breaks
# the shapes) and a square one (where it silently gives wrong values).
NETWORKS = ["depth1", "depth1-square", "depth2", "depth2-square", "depth3", "depth3-square"]


@pytest.mark.parametrize("network", [
    pytest.param(name, marks=pytest.mark.points(1.5), id=name) for name in NETWORKS
])
def test_depth(cases, student, network):
    run_factor_gradients(student, cases(f"factors/{network}"))
    run_wide_factor_gradients(student, cases("factors/wide"))


@pytest.mark.points(3)
def test_depth_4_shapes_and_inputs_unchanged(cases, student):
    run_factor_gradients(student, cases("factors/shapes"))
    run_wide_factor_gradients(student, cases("factors/wide"))
