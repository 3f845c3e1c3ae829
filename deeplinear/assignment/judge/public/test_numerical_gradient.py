"""Part 1, numerical_gradient: ``deeplinear.gradcheck.numerical_gradient(f, x, h)``.

What is tested (public part; more tests are run when you hand in):

* the centred difference ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` of a
  quadratic and of a smooth function, on a vector and on a matrix;
* that ``f`` is called as ``f(x)`` on the array ``x`` itself, perturbed in
  place (so a function that reads ``x`` through a closure sees each step);
* that ``x`` is restored *exactly* (bit for bit) afterwards, and that the
  result is a new array with the shape of ``x``.

Your function runs in a separate process (tests/gradeworker.py holds the test
functions f); the exact derivatives are written out in this file.
"""

import numpy as np
import pytest

from deeplinear.assignment.judge.checks.common import changed
from deeplinear.assignment.judge.checks.numerical_gradient import check_gradient, run_numerical_gradient

pytestmark = pytest.mark.part("numerical_gradient")


@pytest.mark.points(2)
def test_quadratic_vector(rng, student):
    n = 6
    M = rng.standard_normal((n, n))
    A = M @ M.T + np.eye(n)
    b = rng.standard_normal(n)
    x = rng.standard_normal(n)
    # On a quadratic the centred difference is exact for any h (its error term
    # is h^2 f''' / 6 = 0), and h = 1e-4 keeps rounding at eps*|f|/h ~ 1e-11;
    # a one-sided difference would be off by h A_ii / 2 ~ 1e-4 relative.
    got = run_numerical_gradient(student, {"name": "quadratic", "A": A, "b": b}, x, h=1e-4)
    check_gradient(got["value"], A @ x + b,
                   "f(x) = x^T A x / 2 + b^T x (gradient A x + b), h = 1e-4")


@pytest.mark.points(2)
def test_smooth_function_of_a_matrix(rng, student):
    X = rng.standard_normal((3, 4))
    C = rng.standard_normal((3, 4))
    got = run_numerical_gradient(student, {"name": "sin_quartic", "C": C}, X, h=1e-5)
    check_gradient(got["value"], C * np.cos(X) + X ** 3,
                   "f(X) = sum(C sin X) + sum(X^4)/4 for a 3x4 matrix X")


@pytest.mark.points(2)
def test_perturbs_x_in_place_and_restores_it_exactly(student):
    # Values where x + h - h or x + h - 2h + h differ from x in floating point
    # (-7e-9, pi, 2.3): restoring by arithmetic would leave rounding errors,
    # so the original value must be saved and put back.
    x = np.array([[0.1, 1.0 / 3.0, -2.0 ** 0.5], [2.3, -7e-9, np.pi]])
    h = 1e-4
    # f reads x through its closure, not its argument: this only works if
    # numerical_gradient moves the entries of x itself.
    got = run_numerical_gradient(student, {"name": "cubes_of_x"}, x, h=h)
    calls, with_x = got["calls"], got["calls_with_x"]
    assert calls == with_x and calls >= 2 * x.size, (
        f"f should be called as f(x) with the array x itself, twice per entry "
        f"(at least {2 * x.size} calls); got {calls} calls, {calls - with_x} of them with "
        "another object")
    after = got["x_after"]
    assert np.array_equal(after, x), (
        f"x must be restored exactly (bit for bit) after numerical_gradient: "
        f"{changed(after, x)}. Save the old value and put it back.")
    assert not got["result_is_x"], (
        "numerical_gradient must return a new array, not x itself or a view of it")
    # d/dx sum(x^3) = 3 x^2; the centred difference of x^3 is exactly 3x^2 + h^2.
    check_gradient(got["value"], 3 * x ** 2 + h ** 2,
                   "f(x) = sum(x^3) read through a closure, h = 1e-4")
