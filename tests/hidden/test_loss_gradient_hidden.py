"""Hidden tests of part loss_gradient: other exponents, several outputs, zeros.

* ``value_and_grad_e_reference`` for l4 with several outputs;
* ``grad_pred`` for odd and fractional exponents (``lp(3)``, ``lp(2.5)``),
  where the sign of the residual matters;
* residuals that are exactly zero, and the normalisation by ``n * k``.
"""

import numpy as np
import pytest

from gradelib import centred_differences, check_against_fd, first, lp_loss

pytestmark = pytest.mark.part("loss_gradient")


@pytest.mark.points(1.5)
def test_value_and_grad_e_l4_several_outputs(rng):
    from deeplinear import losses

    n, d, k = 8, 5, 3
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    W_e = 0.5 * rng.standard_normal((k, d))
    value, grad_e = losses.get_loss("l4").value_and_grad_e_reference(W_e.copy(), X, Y)
    expected_value = lp_loss(X @ W_e.T, Y, 4)
    # One mean of n*k fourth powers: float64 rounding is ~1e-15 relative.
    assert abs(float(value) - expected_value) <= 1e-12 * abs(expected_value), (
        f"l4 loss value: yours {float(value)!r} vs mean(|X W_e^T - Y|^4) = {expected_value!r}")
    numeric = centred_differences(lambda: lp_loss(X @ W_e.T, Y, 4), W_e)
    check_against_fd("dL/dW_e (l4, W_e of shape (3, 5))", grad_e, numeric)


@pytest.mark.points(0.75)  # per exponent
@pytest.mark.parametrize("p", [3.0, 2.5])
def test_grad_pred_odd_and_fractional_p(rng, p):
    from deeplinear import losses

    n, k = 5, 4
    pred, Y = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    assert np.any(pred < Y) and np.any(pred > Y)  # both signs of the residual
    yours = losses.lp(p).grad_pred(pred.copy(), Y)
    numeric = centred_differences(lambda: lp_loss(pred, Y, p), pred)
    check_against_fd(f"dL/dpred (lp({p:g}), residuals of both signs)", yours, numeric)


@pytest.mark.points(1)
def test_zero_residuals_and_mean_over_all_entries(rng):
    from deeplinear import losses

    n, k = 5, 4
    Y = rng.standard_normal((n, k))
    pred = Y + rng.standard_normal((n, k))
    pred[0, :] = Y[0, :]  # a whole row of exactly zero residuals
    pred[2, 1] = Y[2, 1]
    # For p = 3 and p = 1.5 the derivative at r = 0 is 0 (|r|^(p-1) -> 0).
    for p in (2.0, 3.0, 1.5):
        yours = losses.lp(p).grad_pred(pred.copy(), Y)
        assert isinstance(yours, np.ndarray) and yours.shape == (n, k), (
            f"lp({p:g}).grad_pred: expected an array of shape {(n, k)}")
        assert np.all(np.isfinite(yours)), (
            f"lp({p:g}).grad_pred has NaN or infinite entries where pred == Y: "
            f"{first(yours[0])}")
        # At r = 0 the centred difference is exactly 0 too (|h|^p is even in h).
        numeric = centred_differences(lambda: lp_loss(pred, Y, p), pred)
        check_against_fd(f"dL/dpred (lp({p:g}), some residuals exactly 0, "
                          f"mean over n*k = {n * k} entries)", yours, numeric)
