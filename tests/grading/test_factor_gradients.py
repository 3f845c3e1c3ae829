"""Part 3, factor_gradients: ``deeplinear.linalg.factor_gradients_reference(factors, grad_e)``.

For ``W_e = W_N ... W_1`` (``W_j`` of shape ``(d_j, d_{j-1})``) and the
gradient ``grad_e = dL/dW_e``, it must return ``[dL/dW_1, ..., dL/dW_N]`` with

    dL/dW_j = (W_N ... W_{j+1})^T grad_e (W_{j-1} ... W_1)^T.

Each test takes the loss ``L(W_1, ..., W_N) = sum(G * (W_N ... W_1))``, whose
gradient with respect to ``W_e`` is exactly ``G``, passes ``grad_e = G`` and
compares every returned ``dL/dW_j`` with centred finite differences of ``L``
computed in tests/gradelib.py. Points are per depth: depths 1, 2 and 3 here,
each on a rectangular and a square network (more depths and shapes are tested
when you hand in), and one test of the shapes.
"""

import numpy as np
import pytest

from gradelib import random_factors, run_factor_gradients

pytestmark = pytest.mark.part("factor_gradients")


# Per depth: a rectangular network (a wrong transpose or order usually breaks
# the shapes) and a square one (where it silently gives wrong values).
NETWORKS = {
    "depth1": [4, 3], "depth1-square": [3, 3],
    "depth2": [4, 5, 3], "depth2-square": [3, 3, 3],
    "depth3": [5, 4, 6, 2], "depth3-square": [3, 3, 3, 3],
}


@pytest.mark.parametrize("network", [
    pytest.param(name, marks=pytest.mark.points(1.5), id=name) for name in NETWORKS
])
def test_depth(rng, network):
    run_factor_gradients(rng, NETWORKS[network])


@pytest.mark.points(3)
def test_shapes_and_inputs_unchanged(rng):
    from deeplinear import linalg

    dims = [3, 7, 2, 5, 4]
    factors = random_factors(rng, dims)
    G = rng.standard_normal((dims[-1], dims[0]))
    before = [W.copy() for W in factors], G.copy()
    yours = linalg.factor_gradients_reference(factors, G)
    assert isinstance(yours, (list, tuple)) and len(yours) == 4, (
        "factor_gradients_reference must return a list of 4 arrays for a depth-4 network")
    expected_shapes = [(dims[j + 1], dims[j]) for j in range(4)]
    shapes = [np.shape(dW) for dW in yours]
    assert shapes == expected_shapes, (
        f"gradient shapes {shapes}; expected the factor shapes {expected_shapes} "
        "(dL/dW_j has the shape of W_j, (d_j, d_{j-1}))")
    assert all(np.array_equal(W, W0) for W, W0 in zip(factors, before[0])) and \
        np.array_equal(G, before[1]), "factor_gradients_reference must not modify its inputs"
    assert all(np.all(np.isfinite(dW)) for dW in yours), "a gradient has NaN or inf entries"
