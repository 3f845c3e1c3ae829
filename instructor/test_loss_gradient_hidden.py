"""Hidden tests of part loss_gradient: other exponents, several outputs, zeros.

* ``value_and_grad_e`` for l4 and for lp(3);
* ``grad_pred`` for odd and fractional exponents (``lp(3)``, ``lp(2.5)``),
  where the sign of the residual matters;
* residuals that are exactly zero, and the normalisation by ``n * k``.

As in the public tests, every case is wide (``gradereference.WIDE_LOSS``: pred
and X of shape (500, 200)): there only a formula finishes in time;
differentiating entry by entry, by finite differences or the complex step,
does not (the policy of the student guide: the part asks for the formula).
"""

import numpy as np
import pytest
from gradereference import lp_grad_pred, wide_loss_case

from deeplinear.assignment.judge.checks.loss_gradient import run_grad_pred, run_value_and_grad_e

pytestmark = pytest.mark.part("loss_gradient")


@pytest.mark.points(1.5)
def test_value_and_grad_e_l4_several_outputs(student):
    for seed, p in ((111, 4.0), (112, 3.0)):
        case = wide_loss_case(seed, p)
        run_value_and_grad_e(student, case, f"lp({p:g}), W_e of shape {case['W_e'].shape}")


@pytest.mark.points(0.75)  # per exponent
@pytest.mark.parametrize("p", [3.0, 2.5])
def test_grad_pred_odd_and_fractional_p(student, p):
    case = wide_loss_case(113, p)
    assert np.any(case["pred"] < case["Y"]) and np.any(case["pred"] > case["Y"])
    run_grad_pred(student, case, f"lp({p:g}), residuals of both signs")


@pytest.mark.points(1)
def test_zero_residuals_and_mean_over_all_entries(student):
    base = wide_loss_case(114, 2.0)
    pred, Y = base["pred"].copy(), base["Y"]
    n, k = pred.shape
    pred[0, :] = Y[0, :]  # a whole row of exactly zero residuals
    pred[2, 1] = Y[2, 1]
    pred[::7, 3] = Y[::7, 3]  # and every seventh entry of a column
    # For p = 3 and p = 1.5 the derivative at r = 0 is 0 (|r|^(p-1) -> 0).
    for p in (2.0, 3.0, 1.5):
        case = {"pred": pred, "Y": Y, "expect_grad_pred": lp_grad_pred(pred, Y, p),
                "params": {"p": p}}
        run_grad_pred(student, case, f"lp({p:g}), some residuals exactly 0, mean over "
                      f"n*k = {n * k} entries")
