"""Part 2, loss_gradient: ``Loss.grad_pred`` and ``Loss.value_and_grad_e_reference``.

The loss is ``L = mean(|pred - Y|^p)`` over all ``n * k`` entries, with
predictions ``pred = X @ W_e.T`` (``losses.l2``, ``losses.get_loss("l4")``,
``losses.lp(p)``).

What is tested (public part; more tests are run when you hand in):

* ``grad_pred(pred, Y)`` for l2 and l4 against centred finite differences of
  the loss, computed with plain NumPy in tests/gradelib.py;
* ``value_and_grad_e_reference(W_e, X, Y)`` for l2: the value, and the
  gradient with respect to ``W_e`` (shape ``(k, d)``) against finite differences.
"""

import numpy as np
import pytest

from gradelib import centred_differences, check_against_fd, lp_loss

pytestmark = pytest.mark.part("loss_gradient")


@pytest.mark.points(2)
def test_grad_pred_l2(rng):
    from deeplinear import losses

    n, k = 7, 2
    pred, Y = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    yours = losses.l2.grad_pred(pred.copy(), Y)
    numeric = centred_differences(lambda: lp_loss(pred, Y, 2), pred)
    check_against_fd("dL/dpred (l2, pred of shape (7, 2))", yours, numeric)


@pytest.mark.points(2)
def test_grad_pred_l4_several_outputs(rng):
    from deeplinear import losses

    n, k = 6, 3
    pred, Y = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    yours = losses.get_loss("l4").grad_pred(pred.copy(), Y)
    numeric = centred_differences(lambda: lp_loss(pred, Y, 4), pred)
    check_against_fd("dL/dpred (l4, pred of shape (6, 3))", yours, numeric)


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
    expected_value = lp_loss(X @ W_e.T, Y, 2)
    # The value is one mean of n*k squares: float64 rounding is ~1e-15 relative.
    assert np.isscalar(value) or np.ndim(value) == 0, (
        f"the value must be a scalar, got {type(value).__name__} of shape {np.shape(value)}")
    assert abs(float(value) - expected_value) <= 1e-12 * abs(expected_value), (
        f"loss value: yours {float(value)!r} vs mean(|X W_e^T - Y|^2) = {expected_value!r}")
    numeric = centred_differences(lambda: lp_loss(X @ W_e.T, Y, 2), W_e)
    check_against_fd("dL/dW_e (l2, W_e of shape (2, 4))", grad_e, numeric)
