"""Exact learning dynamics (deeplinear.modes): the whitened problem, the aligned start, the
closed-form and integrated mode curves, plateau lengths, and gradient descent against them.

Setting of the gradient-descent tests: s = (3, 1, 0.3), d_in = 4, d_out = 3 (so c = 2/3),
a0 = 1e-2 for every mode, hidden widths 5, horizon t = lr * steps = 25.
"""

from functools import lru_cache

import numpy as np
import pytest
from numpy.testing import assert_allclose

from _modes_helpers import simulate_modes
from deeplinear import Objective, balancedness, end_to_end
from deeplinear.modes import (aligned_start, integrate_dopri5, integrate_rk4, mode_curve,
                              mode_rate, mode_strengths, plateau_time, whitened_problem)

S = np.array([3.0, 1.0, 0.3])
C = 2.0 / 3.0  # 2 / d_out with d_out = 3
A0 = 1e-2
HORIZON = 25.0
LRS = (0.02, 0.01, 0.005)

pytestmark = pytest.mark.nojit


@lru_cache(maxsize=None)
def _problem():
    return whitened_problem(S, 4, 3, rng=1)


@lru_cache(maxsize=None)
def _gd_run(depth, lr):
    """GD from the aligned start, recorded every t = 0.2 (shared by the tests below)."""
    factors = aligned_start(_problem(), [5] * (depth - 1), A0, rng=2)
    return simulate_modes(factors, _problem(), lr=lr, steps=round(HORIZON / lr),
                          record_every=round(0.2 / lr))


# ---------------------------------------------------------------- problem and start


def test_whitened_problem_is_whitened_and_has_the_chosen_target():
    p = whitened_problem([2.0, 0.5], 5, 3, n=9, rng=0)
    assert p.X.shape == (9, 5) and p.Y.shape == (9, 3) and p.W_star.shape == (3, 5)
    # Products of orthonormal columns: rounding of a few eps, so 1e-13 absolute.
    assert_allclose(p.X.T @ p.X / 9, np.eye(5), atol=1e-13, err_msg="X^T X / n is not I")
    assert_allclose(p.U.T @ p.U, np.eye(2), atol=1e-13, err_msg="U is not orthonormal")
    assert_allclose(p.V.T @ p.V, np.eye(2), atol=1e-13, err_msg="V is not orthonormal")
    assert_allclose(np.linalg.svd(p.W_star, compute_uv=False)[:2], [2.0, 0.5], rtol=1e-13,
                    err_msg="W_star has other singular values")
    assert_allclose(p.Y, p.X @ p.W_star.T, rtol=1e-13, atol=1e-13, err_msg="Y is not X W*^T")
    assert p.c == 2.0 / 3.0
    assert not p.X.flags.writeable and not p.s.flags.writeable
    again, other = whitened_problem([2.0, 0.5], 5, 3, n=9, rng=0), whitened_problem(
        [2.0, 0.5], 5, 3, n=9, rng=1)
    assert np.array_equal(again.X, p.X) and np.array_equal(again.U, p.U), "not seeded"
    assert not np.allclose(other.U, p.U), "the seed is ignored"


def test_l2_gradient_is_c_times_the_error_with_whitened_inputs(rng):
    """The constant of every curve: grad_e = (2/k)(W_e - W*), L = ||W_e - W*||^2 / k."""
    p = whitened_problem([3.0, 1.0], 4, 3, n=7, rng=rng)
    W_e = rng.standard_normal((3, 4))
    value, grad_e = Objective(p.X, p.Y, "l2").value_and_grad_e(W_e)
    # Both sides are O(1) sums of a few dozen products: 1e-12 relative.
    assert_allclose(grad_e, p.c * (W_e - p.W_star), rtol=1e-12, atol=1e-12,
                    err_msg="grad_e is not c (W_e - W*) with c = 2 / d_out")
    assert_allclose(value, np.sum((W_e - p.W_star) ** 2) / 3, rtol=1e-12,
                    err_msg="the l2 loss is not ||W_e - W*||^2 / d_out")


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_aligned_start_is_balanced_and_aligned(depth):
    p = _problem()
    a0 = np.array([1e-2, 3e-3, 2e-2])
    factors = aligned_start(p, [5] * (depth - 1), a0, rng=3)
    assert len(factors) == depth
    sigma, off = mode_strengths(end_to_end(factors), p)
    # W_e(0) is a product of N factors of size ~a0^(1/N): rounding ~1e-16 * a0.
    assert_allclose(sigma, a0, rtol=1e-12, err_msg="the start is not U diag(a0) V^T")
    assert off < 1e-14 * a0.max(), f"the start is not aligned: off {off}"
    assert balancedness(factors) < 1e-14, "the start is not balanced"


def test_mode_strengths_match_their_definition(rng):
    p = _problem()
    W = rng.standard_normal((5, 3, 4))
    sigma, off = mode_strengths(W, p)
    for Wt, st, ot in zip(W, sigma, off):
        want = np.diag(p.U.T @ Wt @ p.V)
        # O(1) entries, sums of 12 products: 1e-13.
        assert_allclose(st, want, rtol=1e-13, atol=1e-13, err_msg="sigma is not diag(U^T W V)")
        assert_allclose(ot, np.linalg.norm(Wt - p.U @ np.diag(want) @ p.V.T), rtol=1e-13,
                        err_msg="off is not ||W - U diag(sigma) V^T||_F")
    assert mode_strengths(W[0], p)[0].shape == (3,) and isinstance(mode_strengths(W[0], p)[1],
                                                                     float)


# ---------------------------------------------------------------- the curves


@pytest.mark.parametrize("depth", [1, 2])
def test_closed_form_solves_the_mode_equation(depth):
    t = np.linspace(0.1, 6.0, 40)
    h = 1e-5
    dsdt = (mode_curve(t + h, S, A0, depth, C) - mode_curve(t - h, S, A0, depth, C)) / (2 * h)
    rate = mode_rate(mode_curve(t, S, A0, depth, C), S, depth, C)
    # Central differences: truncation h^2 |sigma'''| / 6 <= 1e-10 * 200 / 6 ~ 3e-9 (sigma'''
    # <= (2 c s)^3 s ~ 200) and rounding eps * s / h ~ 7e-11, against max |rate| ~ 3: 1e-6.
    assert_allclose(dsdt, rate, atol=1e-6 * np.abs(rate).max(),
                    err_msg=f"the depth-{depth} closed form does not solve the mode equation")
    # s - (s - a0) cancels at depth 1: an absolute rounding of a few eps * s.
    assert_allclose(mode_curve([0.0], S, A0, depth, C)[0], A0, rtol=0,
                    atol=4 * np.finfo(float).eps * S.max(), err_msg="sigma(0) is not a0")
    # t = 60 / (c s_min): e^{-c s t} and e^{-c t} below e^{-60} ~ 1e-26, so sigma = s to rounding.
    assert_allclose(mode_curve([60 / (C * S.min())], S, A0, depth, C)[0], S, rtol=1e-14,
                    err_msg="sigma(t) does not tend to s")


@pytest.mark.parametrize("depth", [1, 2])
def test_rk4_error_shrinks_as_h_to_the_fourth(depth):
    T, counts = 5.0, np.array([20, 40, 80, 160])
    exact = mode_curve([T], S, A0, depth, C)
    errors = [np.abs(integrate_rk4([T], S, A0, depth, C, T / n) - exact).max() for n in counts]
    slopes = -np.diff(np.log(errors)) / np.diff(np.log(counts))
    # Errors from 3e-5 down to 6e-10, far above rounding (1e-15): the slope is the order, 4,
    # up to the o(h^4) terms (measured 3.89-4.10).
    assert np.all((slopes > 3.5) & (slopes < 4.5)), f"errors {errors}, slopes {slopes}"
    # Richardson: |sigma_h - sigma_{h/2}| / 15 estimates the error of sigma_{h/2} (within 2x).
    coarse, fine = (integrate_rk4([T], S, A0, depth, C, T / n) for n in (40, 80))
    estimate, actual = np.abs(coarse - fine).max() / 15, np.abs(fine - exact).max()
    assert 0.5 < estimate / actual < 2, f"Richardson estimate {estimate}, error {actual}"


@pytest.mark.parametrize("depth", [1, 2])
def test_dopri5_meets_its_tolerance_against_the_closed_form(depth):
    t = np.linspace(0.0, 30.0, 61)
    exact = mode_curve(t, S, A0, depth, C)
    errors = {rtol: np.abs(integrate_dopri5(t, S, A0, depth, C, rtol=rtol) - exact).max()
              for rtol in (1e-6, 1e-10)}
    for rtol, error in errors.items():
        # Each step keeps its local error below rtol |sigma|; over this horizon the global
        # error measured 0.1-0.3 rtol * max(s): bound 10 rtol * max(s).
        assert error < 10 * rtol * S.max(), f"rtol {rtol}: error {error}"
    # Tolerance proportionality: 4 decades of rtol must buy at least 2 of error.
    assert errors[1e-10] < 1e-2 * errors[1e-6], f"errors {errors} do not follow rtol"


@pytest.mark.parametrize("depth", [3, 4])
def test_dopri5_agrees_with_fine_rk4_beyond_depth_two(depth):
    t = np.linspace(0.0, 30.0, 31)
    # RK4 at h = 2e-3: its error at h = 0.03 was ~1e-8, so (15)^-4 of that: ~1e-13.
    reference = integrate_rk4(t, S, A0, depth, C, 2e-3)
    sigma = integrate_dopri5(t, S, A0, depth, C, rtol=1e-10)
    # Measured 2e-10 and 4e-10; 10 rtol max(s) as above.
    assert_allclose(sigma, reference, atol=10 * 1e-10 * S.max(),
                    err_msg=f"the two integrators disagree at depth {depth}")
    assert_allclose(mode_curve(t, S, A0, depth, C), sigma, atol=10 * 1e-10 * S.max(),
                    err_msg="mode_curve at depth >= 3 is not the integrated curve")


# ---------------------------------------------------------------- plateaus


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_plateau_time_quadrature_equals_the_closed_form(depth, fraction):
    closed = plateau_time(S, A0, depth, C, fraction, method="closed")
    numeric = plateau_time(S, A0, depth, C, fraction, method="quadrature")
    # Gauss-Legendre on an analytic integrand: rounding-level, 1e-12 relative.
    assert_allclose(numeric, closed, rtol=1e-12, err_msg="quadrature and closed form differ")
    # And the closed form is the time at which the closed-form curve crosses fraction * s.
    at = np.array([mode_curve([tk], [sk], A0, depth, C)[0, 0] for tk, sk in zip(closed, S)])
    assert_allclose(at, fraction * S, rtol=1e-12, err_msg="sigma(t_f) is not fraction * s")


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_plateau_time_is_where_the_integrated_curve_crosses(depth):
    t_half = plateau_time(S, A0, depth, C)
    at = np.array([integrate_dopri5([tk], [sk], A0, depth, C, rtol=1e-12)[0, 0]
                   for tk, sk in zip(t_half, S)])
    # Integrator error ~1e-12 relative (measured 1e-12): 1e-9.
    assert_allclose(at, S / 2, rtol=1e-9, err_msg="sigma(t_half) is not s / 2")


@pytest.mark.parametrize("depth", [3, 4])
def test_plateau_time_follows_its_small_a0_asymptote(depth):
    a0 = 1e-8
    asymptote = a0 ** -(1 - 2 / depth) / ((depth - 2) * C * S)
    # The next term is O((a0 / s)^(1 - 2/N)) relative: bound ten times that.
    tol = 10 * (a0 / S.min()) ** (1 - 2 / depth)
    assert_allclose(plateau_time(S, a0, depth, C), asymptote, rtol=tol,
                    err_msg="the plateau does not grow like a0^-(1 - 2/N) / ((N - 2) c s)")


# ---------------------------------------------------------------- gradient descent


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_gradient_descent_follows_the_curves_within_order_lr(depth):
    gaps, offs = [], []
    for lr in LRS:
        times, sigma, off = _gd_run(depth, lr)
        gaps.append(np.abs(sigma - mode_curve(times, S, A0, depth, C)).max())
        offs.append(off.max())
    slopes = np.diff(np.log(gaps)) / np.diff(np.log(LRS))
    # GD is the Euler method of each mode's scalar flow: global error O(lr) over a fixed
    # horizon (measured slopes 0.95-1.00).
    assert np.all((slopes > 0.8) & (slopes < 1.2)), f"gaps {gaps}, slopes {slopes}"
    # Alignment is exact in exact arithmetic; rounding leaves ~1e-15 (measured 2e-15).
    assert max(offs) < 1e-12 * S.max(), f"gradient descent left the modes: off {max(offs)}"


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_modes_are_learnt_in_stages_in_order_of_decreasing_strength(depth):
    times, sigma, _ = _gd_run(depth, 0.01)
    crossed = sigma >= S / 2
    assert crossed[-1].all(), f"not every mode reached s / 2 by t = {HORIZON}"
    t_half = times[np.argmax(crossed, axis=0)]
    # Stages: each weaker mode takes at least twice as long as the stronger one (theory:
    # ratios 2.4 to 3.1 here), in the simulation and in plateau_time.
    predicted = plateau_time(S, A0, depth, C)
    for name, t in (("simulated", t_half), ("predicted", predicted)):
        assert np.all(t[1:] > 2 * t[:-1]), f"{name} times to half {t} are not in stages"
    # The simulated crossing is the predicted one up to the record spacing 0.2 and O(lr).
    assert_allclose(t_half, predicted, atol=0.2 + 0.1,
                    err_msg="GD reaches s / 2 away from plateau_time")


# ---------------------------------------------------------------- bad input


BAD = [
    (lambda: whitened_problem([1.0, -1.0], 3, 3), "singular_values"),
    (lambda: whitened_problem([[1.0]], 3, 3), "singular_values"),
    (lambda: whitened_problem([1.0, 1.0, 1.0], 2, 3), "singular_values"),
    (lambda: whitened_problem(["a"], 2, 3), "singular_values"),
    (lambda: whitened_problem([1.0], 2.0, 3), "d_in"),
    (lambda: whitened_problem([1.0], 2, 0), "d_out"),
    (lambda: whitened_problem([1.0], 4, 3, n=3), "n"),
    (lambda: whitened_problem([1.0], 4, 3, rng="seed"), "rng"),
    (lambda: aligned_start("problem", [5]), "problem"),
    (lambda: aligned_start(_problem(), [2]), r"hidden\[0\]"),
    (lambda: aligned_start(_problem(), 5), "hidden"),
    (lambda: aligned_start(_problem(), [5], scale=0.0), "scale"),
    (lambda: aligned_start(_problem(), [5], scale=[1e-2, 1e-2]), "scale"),
    (lambda: aligned_start(_problem(), [5], scale=[1.0, 1.0, 1e-12]), "scale"),
    (lambda: mode_strengths(np.zeros((4, 3)), _problem()), "W_e"),
    (lambda: mode_strengths([[0.0] * 4] * 3, _problem()), "W_e"),
    (lambda: mode_strengths(np.zeros((3, 4)), None), "problem"),
    (lambda: mode_curve([1.0, 0.5], S, A0, 2, C), "times"),
    (lambda: mode_curve([-1.0], S, A0, 2, C), "times"),
    (lambda: mode_curve(["1"], S, A0, 2, C), "times"),
    (lambda: mode_curve([1.0], S, 0.0, 2, C), "a0"),
    (lambda: mode_curve([1.0], S, [A0, A0], 2, C), "a0"),
    (lambda: mode_curve([1.0], S, A0, 0, C), "depth"),
    (lambda: mode_curve([1.0], S, A0, 2, -1.0), "c"),
    (lambda: integrate_rk4([1.0], S, A0, 2, C, 0.0), "step"),
    (lambda: integrate_dopri5([1.0], S, A0, 3, C, rtol=0.0), "rtol"),
    (lambda: plateau_time(S, A0, 2, C, fraction=1.0), "fraction"),
    (lambda: plateau_time(S, 0.2, 2, C), "a0"),
    (lambda: plateau_time(S, A0, 3, C, method="closed"), "method"),
    (lambda: plateau_time(S, A0, 2, C, method="exact"), "method"),
]


@pytest.mark.parametrize("call, name", BAD, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD)])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()
