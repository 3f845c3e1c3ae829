"""Hidden tests of part loss_gradient: other exponents, several outputs, zeros.

* ``value_and_grad_e`` for l4 with several outputs, and for lp(3);
* ``grad_pred`` for odd and fractional exponents (``lp(3)``, ``lp(2.5)``),
  where the sign of the residual matters;
* residuals that are exactly zero, and the normalisation by ``n * k``.
"""

import numpy as np
import pytest
from gradereference import loss_case, lp_grad_pred

from deeplinear.assignment.judge.checks.loss_gradient import run_grad_pred, run_value_and_grad_e

pytestmark = pytest.mark.part("loss_gradient")


@pytest.mark.points(1.5)
def test_value_and_grad_e_l4_several_outputs(student):
    run_value_and_grad_e(student, loss_case(111, 4.0, 8, 5, 3, scale=0.5),
                         "l4, W_e of shape (3, 5)")
    run_value_and_grad_e(student, loss_case(112, 3.0, 9, 4, 2), "lp(3), W_e of shape (2, 4)")


@pytest.mark.points(0.75)  # per exponent
@pytest.mark.parametrize("p", [3.0, 2.5])
def test_grad_pred_odd_and_fractional_p(student, p):
    case = loss_case(113, p, 5, 2, 4)
    assert np.any(case["pred"] < case["Y"]) and np.any(case["pred"] > case["Y"])
    run_grad_pred(student, case, f"lp({p:g}), residuals of both signs")


@pytest.mark.points(1)
def test_zero_residuals_and_mean_over_all_entries(student):
    n, k = 5, 4
    base = loss_case(114, 2.0, n, 2, k)
    pred, Y = base["pred"].copy(), base["Y"]
    pred[0, :] = Y[0, :]  # a whole row of exactly zero residuals
    pred[2, 1] = Y[2, 1]
    # For p = 3 and p = 1.5 the derivative at r = 0 is 0 (|r|^(p-1) -> 0).
    for p in (2.0, 3.0, 1.5):
        case = {"pred": pred, "Y": Y, "expect_grad_pred": lp_grad_pred(pred, Y, p),
                "params": {"p": p}}
        run_grad_pred(student, case, f"lp({p:g}), some residuals exactly 0, mean over "
                      f"n*k = {n * k} entries")
