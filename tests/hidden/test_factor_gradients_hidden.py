"""Hidden tests of part factor_gradients: deeper networks and awkward shapes.

* depth 4, rectangular and square;
* a width-1 bottleneck (``W_e`` of rank 1);
* fewer inputs than outputs (``d_0 < d_N``);
* a depth-5 network with a single input and a single output, checked against
  finite differences and the explicit formula.

As in the public tests, ``L = sum(G * (W_N ... W_1))`` and ``grad_e = G``.
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



def _run(rng, dims):
    from deeplinear import linalg

    factors = _random_factors(rng, dims)
    G = rng.standard_normal((dims[-1], dims[0]))
    yours = linalg.factor_gradients_reference([W.copy() for W in factors], G.copy())
    _check_factor_gradients(factors, G, yours)
    return factors, G, yours


@pytest.mark.points(1.5)  # per network
@pytest.mark.parametrize("dims", [[4, 3, 5, 2, 3], [3, 3, 3, 3, 3]], ids=["rect", "square"])
def test_depth_4(rng, dims):
    _run(rng, dims)


@pytest.mark.points(1)  # per network
@pytest.mark.parametrize("dims", [[4, 1, 3], [3, 5, 1, 4, 2]], ids=["depth2", "depth4"])
def test_width_one_bottleneck(rng, dims):
    _run(rng, dims)


@pytest.mark.points(2)
def test_fewer_inputs_than_outputs(rng):
    _run(rng, [2, 4, 3, 6])


@pytest.mark.points(1)
def test_depth_5_single_input_and_output(rng):
    dims = [1, 3, 2, 4, 2, 1]
    factors, G, yours = _run(rng, dims)
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
            f"dL/dW_{j}: yours {_first(yours[j - 1])} vs (W_N...W_{j+1})^T grad_e "
            f"(W_{j-1}...W_1)^T = {_first(expected)}")
