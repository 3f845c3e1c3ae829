"""Part 2, loss_gradient: ``Loss.grad_pred`` and ``Loss.value_and_grad_e_reference``.

The loss is ``L = mean(|pred - Y|^p)`` over all ``n * k`` entries, with
predictions ``pred = X @ W_e.T`` (``losses.l2``, ``losses.get_loss("l4")``,
``losses.lp(p)``).

What is tested (public part; more tests are run when you hand in):

* ``grad_pred(pred, Y)`` for l2 and l4 against centred finite differences of
  the loss, computed in this file with plain NumPy;
* ``value_and_grad_e_reference(W_e, X, Y)`` for l2: the value, and the
  gradient with respect to ``W_e`` (shape ``(k, d)``) against finite differences.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.part("loss_gradient")

# Centred differences in float64 with h = 1e-6 err by about eps*|L|/h ~ 1e-10
# (rounding; L is O(1)) and h^2 |L'''| / 6 ~ 1e-12 (truncation; zero for l2,
# which is quadratic). Relative to the largest gradient entry, 1e-6 leaves a
# wide margin; a wrong formula (a missing factor p, 1/n instead of 1/(nk), a
# lost sign) is off by 10% or more.
FD_TOL = 1e-6
H = 1e-6


def _first(a, k=4):
    return "[" + ", ".join(f"{v:.6g}" for v in np.ravel(a)[:k]) + "]"


def _loss(pred, Y, p):
    """L = mean(|pred - Y|^p), written out independently of the package."""
    return float(np.mean(np.abs(pred - Y) ** p))


def _centred_differences(f, x, h=H):
    """Centred differences of the scalar f() with respect to every entry of x (in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def _check_against_fd(name, yours, numeric, tol=FD_TOL):
    assert isinstance(yours, np.ndarray), (
        f"{name}: expected a numpy array, got {type(yours).__name__}")
    assert yours.shape == numeric.shape, (
        f"{name} has shape {yours.shape}; expected {numeric.shape}")
    assert np.all(np.isfinite(yours)), f"{name} has NaN or infinite entries: {_first(yours)}"
    scale = max(float(np.max(np.abs(numeric))), 1e-12)
    err = float(np.max(np.abs(yours - numeric))) / scale
    assert err <= tol, (
        f"{name} does not match centred finite differences: max relative error {err:.1e} "
        f"(tolerance {tol:.0e}); first entries yours {_first(yours)} vs finite "
        f"differences {_first(numeric)}")


@pytest.mark.points(2)
def test_grad_pred_l2(rng):
    from deeplinear import losses

    n, k = 7, 2
    pred, Y = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    yours = losses.l2.grad_pred(pred.copy(), Y)
    numeric = _centred_differences(lambda: _loss(pred, Y, 2), pred)
    _check_against_fd("dL/dpred (l2, pred of shape (7, 2))", yours, numeric)


@pytest.mark.points(2)
def test_grad_pred_l4_several_outputs(rng):
    from deeplinear import losses

    n, k = 6, 3
    pred, Y = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    yours = losses.get_loss("l4").grad_pred(pred.copy(), Y)
    numeric = _centred_differences(lambda: _loss(pred, Y, 4), pred)
    _check_against_fd("dL/dpred (l4, pred of shape (6, 3))", yours, numeric)


@pytest.mark.points(2)
def test_value_and_grad_e_l2(rng):
    from deeplinear import losses

    n, d, k = 9, 4, 2
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    W_e = rng.standard_normal((k, d))
    result = losses.l2.value_and_grad_e_reference(W_e.copy(), X, Y)
    assert isinstance(result, tuple) and len(result) == 2, (
        "value_and_grad_e_reference must return a pair (value, grad_e)")
    value, grad_e = result
    expected_value = _loss(X @ W_e.T, Y, 2)
    # The value is one mean of n*k squares: float64 rounding is ~1e-15 relative.
    assert np.isscalar(value) or np.ndim(value) == 0, (
        f"the value must be a scalar, got {type(value).__name__} of shape {np.shape(value)}")
    assert abs(float(value) - expected_value) <= 1e-12 * abs(expected_value), (
        f"loss value: yours {float(value)!r} vs mean(|X W_e^T - Y|^2) = {expected_value!r}")
    numeric = _centred_differences(lambda: _loss(X @ W_e.T, Y, 2), W_e)
    _check_against_fd("dL/dW_e (l2, W_e of shape (2, 4))", grad_e, numeric)
