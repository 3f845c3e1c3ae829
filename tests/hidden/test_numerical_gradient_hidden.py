"""Hidden tests of part numerical_gradient: edge cases of ``numerical_gradient``.

* ``x`` is restored exactly even when ``f`` raises part-way (the error propagates);
* ``x`` may be a non-contiguous view (its base array must be left unchanged)
  or have any number of dimensions;
* the step ``h`` that is passed is the one used.
"""

import numpy as np
import pytest

from gradelib import changed, check_gradient

pytestmark = pytest.mark.part("numerical_gradient")


class _Boom(Exception):
    pass


@pytest.mark.points(1.5)
def test_restores_x_when_f_raises():
    from deeplinear import gradcheck

    x = np.array([[2.3, np.pi, -7e-9], [0.1, 1.0 / 3.0, 5.0]])
    original = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:  # on the -h evaluation of the second entry
            raise _Boom("f failed")
        return float(np.sum(v ** 2))

    with pytest.raises(_Boom):
        gradcheck.numerical_gradient(f, x, h=1e-4)
    restored = bool(np.array_equal(x, original))
    assert restored, (
        "when f raises, the exception must propagate and x must be restored exactly "
        f"(use try/finally): {changed(x, original)}")


@pytest.mark.points(1.5)
def test_non_contiguous_view_and_3d_array(rng):
    from deeplinear import gradcheck

    # A strided, transposed view: perturbing it must move the base array's
    # entries (f reads the base), and the base must be unchanged afterwards.
    base = rng.standard_normal((5, 6))
    base_before = base.copy()
    view = base[::2, 1::2].T  # shape (3, 3), not contiguous
    assert not view.flags.c_contiguous
    C = rng.standard_normal(base.shape)

    def f_base(_):
        return float(np.sum(C * np.sin(base)))

    yours = gradcheck.numerical_gradient(f_base, view)
    expected = (C * np.cos(base_before))[::2, 1::2].T
    restored = bool(np.array_equal(base, base_before))
    assert restored, (
        "numerical_gradient changed the array x is a view of: x must be restored "
        f"exactly, entry by entry, whatever its memory layout; {changed(base, base_before)}")
    check_gradient(yours, expected,
                   "sum(C sin B) with respect to a non-contiguous view x = B[::2, 1::2].T")

    # A 3-D array, read through the argument.
    T = rng.standard_normal((2, 3, 4))
    T_before = T.copy()
    D = rng.standard_normal((2, 3, 4))
    yours = gradcheck.numerical_gradient(lambda v: float(np.sum(D * v ** 2)), T)
    restored = bool(np.array_equal(T, T_before))
    assert restored, f"x (a 3-D array) was not restored exactly: {changed(T, T_before)}"
    check_gradient(yours, 2 * D * T_before, "sum(D x^2) for a 3-D array x of shape (2, 3, 4)")


@pytest.mark.points(1)
def test_uses_the_given_step(rng):
    from deeplinear import gradcheck

    x = rng.standard_normal(5)
    for h in (1e-2, 1e-1):
        yours = gradcheck.numerical_gradient(lambda v: float(np.sum(v ** 3)), x, h=h)
        # The centred difference of x^3 with step h is exactly 3x^2 + h^2; with
        # h = 0.1 the h^2 = 1e-2 term is far above float64 rounding (1e-14).
        check_gradient(yours, 3 * x ** 2 + h ** 2,
                       f"sum(x^3) with step h = {h:g} (centred difference: 3x^2 + h^2)",
                       tol=1e-9)
