"""Checks of part loss_gradient: ``losses.Loss.grad_pred`` and ``Loss.value_and_grad_e``."""

from __future__ import annotations

import numpy as np

from .common import (
    StudentError,
    as_array,
    as_float,
    assert_relative_error,
    call,
    describe,
)

# Yours and the judge's are both exact formulas in float64; a different order
# of the sums and products moves the result by a few eps times the number of
# terms, ~1e-15..1e-14 relative to the largest entry. 1e-11 leaves a margin of
# 1000. Centred differences cannot pass for a formula: with h = 1e-6 they err
# by eps*|L|/h ~ 2e-10 |L|, at least 20 times the tolerance here, and a wrong
# formula (a missing p, 1/n instead of 1/(nk), a transpose) is off by 10% or more.
GRADIENT_TOL = 1e-11

#: Added to the message of a call cut short. The cases are wide (pred and X
#: of shape (500, 200)): the formula takes a few milliseconds, while
#: differentiating entry by entry re-evaluates the loss for every entry of
#: pred or W_e and runs for minutes (measured in gradereference.py).
WIDE_NOTE = ("at this size the formula takes a few milliseconds, while differentiating "
             "entry by entry (finite differences or the complex step) evaluates the loss once "
             "or twice per entry and does not finish: the part asks for the formula")


def _call(student, *args, **kwargs):
    try:
        return call(student, *args, **kwargs)
    except StudentError as exc:
        if "cut short" not in str(exc):
            raise
        raise StudentError(f"{exc} ({WIDE_NOTE})") from None


def run_grad_pred(student, case, what):
    p = case["params"]["p"]
    value, after = _call(student, "deeplinear.losses:lp", case["pred"], case["Y"],
                        construct=[p], method="grad_pred")
    yours = as_array(value, f"lp({p:g}).grad_pred", case["pred"].shape)
    assert_relative_error(yours, case["expect_grad_pred"], GRADIENT_TOL, f"dL/dpred ({what})")
    assert np.array_equal(after[0], case["pred"]) and np.array_equal(after[1], case["Y"]), (
        f"lp({p:g}).grad_pred must not modify pred or Y")


def run_value_and_grad_e(student, case, what):
    p = case["params"]["p"]
    value, after = _call(student, "deeplinear.losses:lp", case["W_e"], case["X"], case["Y"],
                        construct=[p], method="value_and_grad_e")
    ok = isinstance(value, tuple) and len(value) == 2
    assert ok, f"lp({p:g}).value_and_grad_e must return a pair (value, grad_e), got " \
        f"{describe(value)}"
    loss = as_float(value[0], f"lp({p:g}).value_and_grad_e: the value")
    expected = float(case["expect_value"])
    # One mean of n*k powers: float64 rounding is ~1e-15 relative.
    assert abs(loss - expected) <= 1e-12 * abs(expected), (
        f"loss value ({what}): yours {loss!r} vs expected {expected!r}")
    grad_e = as_array(value[1], f"lp({p:g}).value_and_grad_e: grad_e", case["W_e"].shape)
    assert_relative_error(grad_e, case["expect_grad_e"], GRADIENT_TOL, f"dL/dW_e ({what})")
    assert all(np.array_equal(a, case[k]) for a, k in zip(after, ("W_e", "X", "Y"))), (
        f"lp({p:g}).value_and_grad_e must not modify W_e, X or Y")
