"""Hidden tests of part numerical_gradient: edge cases of ``numerical_gradient``.

* ``x`` is restored exactly even when ``f`` raises part-way, and the error
  propagates at once (then a second call on the same ``x`` must be right);
* ``x`` may be a non-contiguous view (its base array must be left unchanged,
  and only x's own entries move), or have any number of dimensions;
* the step ``h`` that is passed is the one used, and the default is 1e-6.

As in the public tests, ``f`` is the judge's oracle: every point where it was
evaluated, and every value it returned, is checked by the judge
(``checks/numerical_gradient.py``).
"""

import pytest

from deeplinear.assignment.judge.checks.numerical_gradient import (
    check_call, check_raise, run_numerical_gradient, sin_quartic, unrestorable, weighted_cubes)

pytestmark = pytest.mark.part("numerical_gradient")


@pytest.mark.points(1.5)
def test_restores_x_when_f_raises(rng, student):
    h = 1e-4
    x = unrestorable(rng, (2, 3), h)
    f = weighted_cubes(rng, x.shape)
    # f (reading x through its closure) raises LookupError on one call in the
    # middle, + or - side; then nothing may happen before the exception
    # reaches the caller but restoring x. The recipe then calls
    # numerical_gradient again on the same x, which must give the full result.
    raise_at = int(rng.integers(3, 2 * x.size - 2))
    run = run_numerical_gradient(student, f, rng, x=x, h=h, reads="x", raise_at=raise_at)
    check_raise(run, f"{f.what}, h = 1e-4 (centred difference D (3x^2 + h^2))")


@pytest.mark.points(1.5)
def test_non_contiguous_view_and_3d_array(rng, student):
    # A strided, transposed view x = B[::2, 1::2].T of shape (3, 3) with the
    # default step: perturbing x must move the base array's entries (f reads
    # B), no other entry of B may move, and B must be unchanged afterwards.
    base = rng.standard_normal((5, 6))
    f = sin_quartic(rng, base.shape)
    run = run_numerical_gradient(student, f, rng, view_base=base, reads="base")
    check_call(run, f"{f.what} of the base B, with respect to the view x = B[::2, 1::2].T, "
                    "default h = 1e-6")

    T = rng.standard_normal((2, 3, 4))
    f = sin_quartic(rng, T.shape)
    run = run_numerical_gradient(student, f, rng, x=T, h=1e-5)
    check_call(run, f"{f.what} for a 3-D array x of shape (2, 3, 4), h = 1e-5")


@pytest.mark.points(1)
def test_uses_the_given_step(rng, student):
    x = rng.standard_normal(6)
    f = weighted_cubes(rng, x.shape)
    for h in (1e-2, 1e-1):
        run = run_numerical_gradient(student, f, rng, x=x, h=h)
        # The centred difference of x^3 with step h is exactly 3x^2 + h^2;
        # with h = 0.1 the h^2 = 1e-2 term is far above float64 rounding
        # (eps |f| / h ~ 1e-14) and the judge's noise (~1e-12 here).
        check_call(run, f"{f.what} with step h = {h:g} (centred difference D (3x^2 + h^2))",
                   tol=1e-9)
