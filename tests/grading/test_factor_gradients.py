"""Part 3, factor_gradients: ``deeplinear.linalg.factor_gradients_reference(factors, grad_e)``.

For ``W_e = W_N ... W_1`` (``W_j`` of shape ``(d_j, d_{j-1})``) and the
gradient ``grad_e = dL/dW_e``, it must return ``[dL/dW_1, ..., dL/dW_N]`` with

    dL/dW_j = (W_N ... W_{j+1})^T grad_e (W_{j-1} ... W_1)^T.

Each test takes the loss ``L(W_1, ..., W_N) = sum(G * (W_N ... W_1))``, whose
gradient with respect to ``W_e`` is exactly ``G``, passes ``grad_e = G`` and
compares every returned ``dL/dW_j`` with centred finite differences of ``L``
computed in this file. Points are per depth: depths 1, 2 and 3 here, each on
a rectangular and a square network (more depths and shapes are tested when
you hand in), and one test of the shapes.
"""

from functools import reduce

import numpy as np
import pytest

pytestmark = pytest.mark.part("factor_gradients")

# L is linear in each single factor, so centred differences have no truncation
# error; float64 rounding gives about eps*|L|/h ~ 1e-10 absolute with h = 1e-6
# and O(1) entries. 1e-6 relative to the largest gradient entry of the whole
# network is far above that and far below any wrong formula (a transpose or
# a product in the wrong order is off by O(1)).
FD_TOL = 1e-6
H = 1e-6


def _first(a, k=4):
    return "[" + ", ".join(f"{v:.6g}" for v in np.ravel(a)[:k]) + "]"


def _random_factors(rng, dims):
    return [rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j])
            for j in range(len(dims) - 1)]


def _product(factors):
    """W_N ... W_1, written out in this file."""
    return reduce(lambda acc, W: W @ acc, factors[1:], factors[0])


def _numeric_factor_gradients(factors, G, h=H):
    """Centred differences of L = sum(G * W_e) with respect to every entry of every factor."""
    factors = [W.copy() for W in factors]
    grads = []
    for W in factors:
        grad = np.zeros_like(W)
        for i in np.ndindex(W.shape):
            old = W[i]
            W[i] = old + h
            f_plus = float(np.sum(G * _product(factors)))
            W[i] = old - h
            f_minus = float(np.sum(G * _product(factors)))
            W[i] = old
            grad[i] = (f_plus - f_minus) / (2 * h)
        grads.append(grad)
    return grads


def _check_factor_gradients(factors, G, yours):
    N = len(factors)
    assert isinstance(yours, (list, tuple)), (
        f"factor_gradients_reference must return a list of N = {N} arrays, "
        f"got {type(yours).__name__}")
    assert len(yours) == N, (
        f"factor_gradients_reference returned {len(yours)} gradients for a depth-{N} "
        f"network; expected one per factor, [dL/dW_1, ..., dL/dW_{N}]")
    numeric = _numeric_factor_gradients(factors, G)
    scale = max(float(np.max(np.abs(g))) for g in numeric)
    for j, (dW, num, W) in enumerate(zip(yours, numeric, factors), start=1):
        name = f"dL/dW_{j}"
        assert isinstance(dW, np.ndarray), (
            f"{name}: expected a numpy array, got {type(dW).__name__}")
        assert dW.shape == W.shape, (
            f"{name} has shape {dW.shape}; expected the shape of W_{j}, {W.shape} "
            f"(d_{j}, d_{j - 1})")
        err = float(np.max(np.abs(dW - num))) / scale
        assert err <= FD_TOL, (
            f"{name} does not match centred finite differences: max relative error "
            f"{err:.1e} (tolerance {FD_TOL:.0e}); first entries yours {_first(dW)} vs "
            f"finite differences {_first(num)}")


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
    from deeplinear import linalg

    dims = NETWORKS[network]
    factors = _random_factors(rng, dims)
    G = rng.standard_normal((dims[-1], dims[0]))
    yours = linalg.factor_gradients_reference([W.copy() for W in factors], G.copy())
    _check_factor_gradients(factors, G, yours)


@pytest.mark.points(3)
def test_shapes_and_inputs_unchanged(rng):
    from deeplinear import linalg

    dims = [3, 7, 2, 5, 4]
    factors = _random_factors(rng, dims)
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
