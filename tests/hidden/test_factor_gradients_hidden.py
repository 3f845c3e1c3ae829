"""Hidden tests of part factor_gradients: deeper networks and awkward shapes.

* depth 4, rectangular and square;
* a width-1 bottleneck (``W_e`` of rank 1);
* fewer inputs than outputs (``d_0 < d_N``);
* a depth-5 network with a single input and a single output, checked against
  finite differences and the explicit formula.

As in the public tests, ``L = sum(G * (W_N ... W_1))`` and ``grad_e = G``
(tests/gradelib.py).
"""

import numpy as np
import pytest

from gradelib import first, run_factor_gradients

pytestmark = pytest.mark.part("factor_gradients")


@pytest.mark.points(1.5)  # per network
@pytest.mark.parametrize("dims", [[4, 3, 5, 2, 3], [3, 3, 3, 3, 3]], ids=["rect", "square"])
def test_depth_4(rng, dims):
    run_factor_gradients(rng, dims)


@pytest.mark.points(1)  # per network
@pytest.mark.parametrize("dims", [[4, 1, 3], [3, 5, 1, 4, 2]], ids=["depth2", "depth4"])
def test_width_one_bottleneck(rng, dims):
    run_factor_gradients(rng, dims)


@pytest.mark.points(2)
def test_fewer_inputs_than_outputs(rng):
    run_factor_gradients(rng, [2, 4, 3, 6])


@pytest.mark.points(1)
def test_depth_5_single_input_and_output(rng):
    dims = [1, 3, 2, 4, 2, 1]
    factors, G, yours = run_factor_gradients(rng, dims)
    N = len(factors)
    for j in range(1, N + 1):
        above = np.eye(dims[j])
        for W in factors[j:]:
            above = W @ above        # W_N ... W_{j+1}, shape (d_N, d_j)
        below = np.eye(dims[0])
        for W in factors[: j - 1]:
            below = W @ below        # W_{j-1} ... W_1, shape (d_{j-1}, d_0)
        expected = np.linalg.multi_dot([above.T, G, below.T])
        # A handful of float64 products of O(1) numbers: agreement to ~1e-15.
        assert np.allclose(yours[j - 1], expected, rtol=1e-10, atol=1e-12), (
            f"dL/dW_{j}: yours {first(yours[j - 1])} vs (W_N...W_{j+1})^T grad_e "
            f"(W_{j-1}...W_1)^T = {first(expected)}")
