"""Hidden tests of part numerical_gradient: edge cases of ``numerical_gradient``.

* ``x`` is restored exactly even when ``f`` raises part-way (the error propagates);
* ``x`` may be a non-contiguous view (its base array must be left unchanged)
  or have any number of dimensions;
* the step ``h`` that is passed is the one used.
"""

import numpy as np
import pytest

from deeplinear.assignment.judge.checks.common import changed
from deeplinear.assignment.judge.checks.numerical_gradient import check_gradient, run_numerical_gradient

pytestmark = pytest.mark.part("numerical_gradient")


@pytest.mark.points(1.5)
def test_restores_x_when_f_raises(student):
    x = np.array([[2.3, np.pi, -7e-9], [0.1, 1.0 / 3.0, 5.0]])
    # f raises on its 4th call: the -h evaluation of the second entry.
    got = run_numerical_gradient(student, {"name": "squares", "raise_on_call": 4}, x, h=1e-4)
    assert got["raised"] == "LookupError", (
        "when f raises, numerical_gradient must let the exception propagate")
    assert np.array_equal(got["x_after"], x), (
        "when f raises, the exception must propagate and x must be restored exactly "
        f"(use try/finally): {changed(got['x_after'], x)}")


@pytest.mark.points(1.5)
def test_non_contiguous_view_and_3d_array(rng, student):
    # A strided, transposed view x = B[::2, 1::2].T of shape (3, 3): perturbing
    # it must move the base array's entries (f reads B), and B must be
    # unchanged afterwards.
    base = rng.standard_normal((5, 6))
    C = rng.standard_normal(base.shape)
    got = run_numerical_gradient(student, {"name": "sin_of_base", "C": C}, view_base=base)
    assert np.array_equal(got["base_after"], base), (
        "numerical_gradient changed the array x is a view of: x must be restored "
        f"exactly, entry by entry, whatever its memory layout; "
        f"{changed(got['base_after'], base)}")
    check_gradient(got["value"], (C * np.cos(base))[::2, 1::2].T,
                   "sum(C sin B) with respect to a non-contiguous view x = B[::2, 1::2].T")

    T = rng.standard_normal((2, 3, 4))
    D = rng.standard_normal((2, 3, 4))
    got = run_numerical_gradient(student, {"name": "weighted_squares", "D": D}, T)
    assert np.array_equal(got["x_after"], T), (
        f"x (a 3-D array) was not restored exactly: {changed(got['x_after'], T)}")
    check_gradient(got["value"], 2 * D * T, "sum(D x^2) for a 3-D array x of shape (2, 3, 4)")


@pytest.mark.points(1)
def test_uses_the_given_step(rng, student):
    x = rng.standard_normal(5)
    for h in (1e-2, 1e-1):
        got = run_numerical_gradient(student, {"name": "cubes"}, x, h=h)
        # The centred difference of x^3 with step h is exactly 3x^2 + h^2; with
        # h = 0.1 the h^2 = 1e-2 term is far above float64 rounding (1e-14).
        check_gradient(got["value"], 3 * x ** 2 + h ** 2,
                       f"sum(x^3) with step h = {h:g} (centred difference: 3x^2 + h^2)",
                       tol=1e-9)
