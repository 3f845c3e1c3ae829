"""Hand-derived factor gradients against centred finite differences."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeplinear import check_factor_gradients, value_and_grads, numerical_gradient, rel_error
from deeplinear.gradcheck import max_rel_error

from helpers import random_factors

pytestmark = pytest.mark.nojit

# With h = 1e-6 centred differences err by O(h^2) ~ 1e-12 from truncation and
# O(eps |F| / h) ~ 1e-10 from rounding; the errors we reach are <= 2e-9. A
# wrong derivation (a missing transpose or factor) gives errors of order 1.
TOL = 1e-6


@st.composite
def networks(draw):
    depth = draw(st.integers(1, 5))
    dims = draw(st.lists(st.integers(1, 6), min_size=depth + 1, max_size=depth + 1))
    n = draw(st.integers(3, 12))
    loss = draw(st.sampled_from(["l2", "l4"]))
    weight_decay = draw(st.sampled_from([0.0, 0.3]))
    seed = draw(st.integers(0, 2**32 - 1))
    return dims, n, loss, weight_decay, seed


# derandomize: the same examples on every run, so CI is reproducible.
@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_factor_gradients_match_finite_differences(case):
    dims, n, loss, weight_decay, seed = case
    rng = np.random.default_rng(seed)
    factors = random_factors(rng, dims)
    X = rng.standard_normal((n, dims[0]))
    Y = rng.standard_normal((n, dims[-1]))
    errors = check_factor_gradients(factors, X, Y, loss, weight_decay)
    assert len(errors) == len(factors)
    assert max(errors) < TOL, f"dims {dims}, {loss}, wd {weight_decay}: errors {errors}"


@pytest.mark.parametrize("dims", [
    # 20k entries checked one by one: seconds with the JIT, minutes without it.
    pytest.param([10, 100, 100, 1], marks=pytest.mark.slow),
    [8, 1, 1], [3, 4, 5, 6, 7, 2]], ids=str)
@pytest.mark.parametrize("loss", ["l2", "l4"])
def test_named_architectures_match_finite_differences(rng, dims, loss):
    factors = random_factors(rng, dims)
    X = rng.standard_normal((30, dims[0]))
    Y = rng.standard_normal((30, dims[-1]))
    assert max(check_factor_gradients(factors, X, Y, loss, 0.1)) < TOL


def test_check_detects_a_transposed_factor(rng):
    # The checker must flag a classic bug: using W^T where W belongs.
    dims = [3, 3, 3, 1]
    factors = random_factors(rng, dims)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 1))
    _, grads = value_and_grads(factors, X, Y)
    W2 = factors[1]
    numeric = numerical_gradient(lambda _: value_and_grads(factors, X, Y)[0], W2)
    assert max_rel_error(grads[1], numeric) < TOL
    assert max_rel_error(grads[1].T, numeric) > 1e-2


def test_numerical_gradient_restores_entries_and_is_centred():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    original = x.copy()
    g = numerical_gradient(lambda v: float(np.sum(v**3)), x, h=1e-3)
    assert np.array_equal(x, original)
    # Centred differences are exact for the cubic up to the h^2 term: 3x^2 + h^2.
    np.testing.assert_allclose(g, 3 * original**2 + 1e-6, rtol=1e-9)


def test_numerical_gradient_restores_entry_when_f_raises():
    x = np.array([1.0, 2.0])

    def f(v):
        if v[0] != 1.0:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    assert np.array_equal(x, [1.0, 2.0])


def test_rel_error_floor_and_symmetry():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([1e-9], [0.0]) == pytest.approx(0.1)  # floor 1e-8 in the denominator
    assert rel_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    assert rel_error([1.0, 3.0], [1.1, 3.0]) == rel_error([1.1, 3.0], [1.0, 3.0])


def test_numerical_gradient_rejects_non_float_x():
    with pytest.raises(ValueError, match="x"):
        numerical_gradient(lambda v: 0.0, np.array([1, 2]))
    with pytest.raises(ValueError, match="h"):
        numerical_gradient(lambda v: 0.0, np.array([1.0]), h=0.0)
