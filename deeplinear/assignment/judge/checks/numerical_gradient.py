"""Checks of part numerical_gradient: ``gradcheck.numerical_gradient(f, x, h)``."""

from __future__ import annotations


from .common import as_array, assert_relative_error, request

# Float64 centred differences with h ~ 1e-4..1e-6 err by about eps*|f|/h <=
# 1e-10 (rounding) plus h^2 |f^(3)| / 6 <= 1e-9 (truncation); 1e-6 relative to
# the gradient's scale leaves a wide margin and still catches any wrong formula
# (a one-sided difference errs by h|f''|/2 ~ 1e-4, a missing 1/2 by 100%).
GRADCHECK_TOL = 1e-6


def run_numerical_gradient(student, function, x=None, h=None, view_base=None):
    """numerical_gradient(f, x[, h]) in a worker with the named test function.

    Returns the worker's answer: ``value`` (the result), ``x_after``,
    ``base_after``, ``calls``, ``calls_with_x``, ``raised``, ``result_is_x``.
    """
    fields = {"function": function, "h": h}
    if view_base is not None:
        fields["view"] = {"base": view_base}
    else:
        fields["x"] = x
    return request(student, "numerical_gradient", "numerical_gradient", **fields)


def check_gradient(yours, expected, what, tol=GRADCHECK_TOL):
    """``yours`` (from numerical_gradient) is an array of x's shape close to ``expected``."""
    as_array(yours, "numerical_gradient", expected.shape)
    assert_relative_error(yours, expected, tol,
                          f"numerical_gradient does not match the exact gradient of {what}")
