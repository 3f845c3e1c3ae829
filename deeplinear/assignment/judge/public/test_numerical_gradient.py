"""Part 1, numerical_gradient: ``deeplinear.gradcheck.numerical_gradient(f, x, h)``.

What is tested (public part; more tests are run when you hand in):

* the centred difference ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` of a
  quadratic and of a smooth function, on a vector and on a matrix;
* that ``f`` is called as ``f(x)`` on the array ``x`` itself, perturbed in
  place (so a function that reads ``x`` through a closure sees each step);
* that ``x`` is restored *exactly* (bit for bit) afterwards, and that the
  result is a new array with the shape of ``x``.

The function ``f`` is a black box: your code runs in a separate process, and
each call of ``f`` sends the array it reads to the tests, which evaluate the
function and send the value back (``checks/numerical_gradient.py`` holds the
functions and their exact gradients). The tests see every point where ``f``
was evaluated: each must be ``x`` with one entry moved to ``x[i] + h`` or
``x[i] - h``, both for every entry, and each entry of your result must be the
centred difference of the values ``f`` returned there. The values carry a
tiny noise (about 1e-14 of ``f``), so only a result computed from them
passes; it is also compared with the exact gradient.
"""

import pytest

from deeplinear.assignment.judge.checks.numerical_gradient import (
    check_call, quadratic, run_numerical_gradient, sin_quartic, unrestorable, weighted_cubes)

pytestmark = pytest.mark.part("numerical_gradient")


@pytest.mark.points(2)
def test_quadratic_vector(rng, student):
    # On a quadratic the centred difference is exact for any h (its error term
    # is h^2 f''' / 6 = 0), and h = 1e-4 keeps rounding at eps*|f|/h ~ 1e-11;
    # a one-sided difference would be off by h A_ii / 2 ~ 1e-4 relative.
    f = quadratic(rng, 6)
    run = run_numerical_gradient(student, f, rng, x=rng.standard_normal(6), h=1e-4)
    check_call(run, f"{f.what}, x of shape (6,), h = 1e-4")


@pytest.mark.points(2)
def test_smooth_function_of_a_matrix(rng, student):
    f = sin_quartic(rng, (3, 4))
    run = run_numerical_gradient(student, f, rng, x=rng.standard_normal((3, 4)), h=1e-5)
    check_call(run, f"{f.what}, a 3x4 matrix X, h = 1e-5")


@pytest.mark.points(2)
def test_perturbs_x_in_place_and_restores_it_exactly(rng, student):
    # Entries where x + h - h (and every other arithmetic way back) differs
    # from x in floating point: the original value must be saved and put back.
    h = 1e-4
    x = unrestorable(rng, (2, 3), h)
    # f reads x through its closure, not its argument: this only works if
    # numerical_gradient moves the entries of x itself. The centred difference
    # of x^3 is exactly 3x^2 + h^2, the value compared with.
    f = weighted_cubes(rng, x.shape)
    run = run_numerical_gradient(student, f, rng, x=x, h=h, reads="x")
    check_call(run, f"{f.what} read through a closure, h = 1e-4 (centred difference "
                    "D (3x^2 + h^2))")
