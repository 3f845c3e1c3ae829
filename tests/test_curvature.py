"""Hessians, Hessian-vector products and sharpness against finite differences,
closed forms and ``numpy.linalg.eigvalsh``.

Tolerances are for float64. A centred difference of a gradient with step h
errs by O(h^2) (truncation, times the third derivative) plus O(eps |g| / h)
(rounding, eps = 2.2e-16): at h = 1e-5 on unit-scale data that is about 1e-10
and 1e-11, so we ask for 1e-7 relative to the largest Hessian entry. Measured:
at most 4e-10 for the factor Hessians and 1e-10 for the loss Hessians, except
l2.5 at 3e-8 (its third derivative has |r|^(-1/2), large at small residuals).
Exact formulas are held to rounding, 1e-12 relative (symmetry measured at
2e-16; power iteration against eigvalsh at 5e-16).
"""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import deeplinear as dl
from deeplinear import curvature
from helpers import random_factors

pytestmark = pytest.mark.nojit

FD_STEP = 1e-5
FD_RTOL = 1e-7      # of max |H|: truncation ~1e-10 + rounding ~1e-11 at h = 1e-5
EXACT_RTOL = 1e-12  # rounding of a few matrix products


def _problem(rng, n=30, dims=(4, 3, 5, 2)):
    X = rng.standard_normal((n, dims[0]))
    Y = rng.standard_normal((n, dims[-1]))
    return X, Y, random_factors(rng, list(dims))


_flat, _unflat = curvature.flatten, curvature.unflatten


def _fd_factor_hessian(objective, factors, h=FD_STEP):
    """Columns (g(theta + h e_i) - g(theta - h e_i)) / 2h of Objective.value_and_grads."""
    theta = _flat(factors)

    def grad(t):
        return _flat(objective.value_and_grads(_unflat(t, factors))[1])

    return np.column_stack([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h)
                            for e in np.eye(theta.size)])


def _fd_loss_hessian(W_e, X, Y, loss, h=FD_STEP):
    """Columns of the centred difference of Loss.value_and_grad_e over W_e.ravel()."""
    loss = dl.losses.get_loss(loss)

    def grad(w):
        return loss.value_and_grad_e(w.reshape(W_e.shape), X, Y)[1].ravel()

    w = W_e.ravel()
    return np.column_stack([(grad(w + h * e) - grad(w - h * e)) / (2 * h)
                            for e in np.eye(w.size)])


def _rel(A, B):
    return float(np.max(np.abs(A - B)) / np.max(np.abs(B)))


@pytest.mark.parametrize("p", [2, 2.5, 3, 4])
def test_loss_hessian_matches_finite_differences_of_the_gradient(rng, p):
    X, Y, factors = _problem(rng)
    W_e = dl.end_to_end(factors)
    H = curvature.loss_hessian(W_e, X, Y, dl.losses.lp(p))
    assert H.shape == (W_e.size, W_e.size)
    assert _rel(H, _fd_loss_hessian(W_e, X, Y, dl.losses.lp(p))) < FD_RTOL  # measured <= 3e-8
    assert_allclose(H, H.T, rtol=0, atol=EXACT_RTOL * np.abs(H).max())
    V = rng.standard_normal(W_e.shape)
    hv = curvature.loss_hvp(W_e, V, X, Y, dl.losses.lp(p))
    assert_allclose(hv.ravel(), H @ V.ravel(), rtol=0, atol=EXACT_RTOL * np.abs(H).max() * 10)


def test_l2_hessian_is_the_closed_form_with_the_mean_over_n_k_entries(rng):
    X, Y, factors = _problem(rng, n=25, dims=(4, 3, 3))
    n, k = Y.shape
    closed = np.kron(np.eye(k), 2 * X.T @ X / (n * k))   # L = mean over all n*k entries
    for W_e in (dl.end_to_end(factors), np.zeros((k, X.shape[1])), None):
        assert_allclose(curvature.loss_hessian(W_e, X, Y, "l2"), closed, rtol=EXACT_RTOL,
                        atol=0)
    assert curvature.loss_sharpness(None, X, Y) == pytest.approx(
        np.linalg.eigvalsh(closed).max(), rel=EXACT_RTOL)


@pytest.mark.parametrize("loss", ["l2", "l4"])
def test_loss_sharpness_and_its_power_iteration_against_eigvalsh(rng, loss):
    X, Y, factors = _problem(rng, n=40, dims=(5, 4, 3))
    W_e = dl.end_to_end(factors)
    top = np.linalg.eigvalsh(curvature.loss_hessian(W_e, X, Y, loss)).max()
    assert curvature.loss_sharpness(W_e, X, Y, loss) == pytest.approx(top, rel=EXACT_RTOL)
    value, vector = curvature.sharpness_e(W_e, X, Y, loss, rng=0, iters=5000, tol=1e-15)
    assert value == pytest.approx(top, rel=1e-9)            # converged power iteration
    u = vector / np.linalg.norm(vector)                      # the top eigenvector
    hv = curvature.loss_hvp(W_e, u.reshape(W_e.shape), X, Y, loss).ravel()
    assert_allclose(hv, top * u, atol=1e-6 * top)


@pytest.mark.parametrize("loss, weight_decay", [("l2", 0.0), ("l2", 0.1), ("l4", 0.0),
                                                ("l3", 0.05)])
@pytest.mark.parametrize("dims", [(4, 2), (4, 3, 2), (4, 3, 5, 2), (3, 2, 2, 2, 1)])
def test_exact_factor_hvp_matches_finite_differences_of_value_and_grads(rng, loss,
                                                                        weight_decay, dims):
    X, Y, factors = _problem(rng, dims=dims)
    objective = dl.Objective(X, Y, loss, weight_decay)
    H = curvature.factor_hessian(objective, factors)
    assert _rel(H, _fd_factor_hessian(objective, factors)) < FD_RTOL   # measured <= 4e-10
    assert_allclose(H, H.T, rtol=0, atol=EXACT_RTOL * np.abs(H).max())
    V = [rng.standard_normal(W.shape) for W in factors]
    assert_allclose(_flat(curvature.factor_hvp(objective, factors, V)), H @ _flat(V),
                    rtol=0, atol=EXACT_RTOL * 10 * np.abs(H).max() * np.abs(_flat(V)).sum())


def test_depth_1_factor_hessian_is_the_loss_hessian_plus_weight_decay(rng):
    X, Y, factors = _problem(rng, dims=(4, 3))
    objective = dl.Objective(X, Y, "l4", weight_decay=0.3)
    expected = curvature.loss_hessian(factors[0], X, Y, "l4") + 0.3 * np.eye(factors[0].size)
    assert_allclose(curvature.factor_hessian(objective, factors), expected, rtol=EXACT_RTOL,
                    atol=EXACT_RTOL * np.abs(expected).max())


def test_difference_hvp_is_the_centred_difference_of_value_and_grads(rng):
    """eps given: exactly (grad(W + eps V) - grad(W - eps V)) / (2 eps), the
    product tutorial 9 uses; it agrees with the exact one to O(eps^2)."""
    X, Y, factors = _problem(rng)
    objective = dl.Objective(X, Y, "l2")
    V = [rng.standard_normal(W.shape) for W in factors]
    eps = 1e-4
    plus = objective.value_and_grads([W + eps * D for W, D in zip(factors, V)])[1]
    minus = objective.value_and_grads([W - eps * D for W, D in zip(factors, V)])[1]
    manual = [(a - b) / (2 * eps) for a, b in zip(plus, minus)]
    difference = curvature.factor_hvp(objective, factors, V, eps=eps)
    for got, want in zip(difference, manual):
        assert_array_equal(got, want)
    exact = _flat(curvature.factor_hvp(objective, factors, V))
    assert _rel(_flat(difference), exact) < 1e-6                       # measured 2e-8
    assert _rel(_flat(difference), exact) > 0                           # not the same code


@pytest.mark.parametrize("eps", [None, 1e-4])
def test_factor_sharpness_by_power_iteration_against_eigvalsh(rng, eps):
    X, Y, factors = _problem(rng, n=40, dims=(4, 3, 2))
    objective = dl.Objective(X, Y, "l2")
    eigs = np.linalg.eigvalsh(curvature.factor_hessian(objective, factors))
    assert eigs[-1] > 2 * abs(eigs[0])     # the top eigenvalue dominates: power iteration finds it
    value, vector = curvature.sharpness(objective, factors, rng=1, iters=5000, tol=1e-15, eps=eps)
    assert value == pytest.approx(eigs[-1], rel=1e-9 if eps is None else 1e-6)
    assert vector.shape == (eigs.size,)
    warm = curvature.sharpness(objective, factors, v0=vector, iters=1, eps=eps)
    assert warm.value == pytest.approx(value, rel=1e-8)


def test_power_iteration_runs_exactly_iters_without_tol():
    A = np.diag([3.0, 1.0, -0.5])
    calls = []
    result = curvature.power_iteration(lambda v: calls.append(1) or A @ v, np.ones(3), iters=7)
    assert len(calls) == 7
    a = np.diag(A)       # the 7th Rayleigh quotient is that of A^6 v0: sum a^13 / sum a^12
    assert result.value == pytest.approx(np.sum(a ** 13) / np.sum(a ** 12), rel=1e-14)
    assert_allclose(result.vector / np.linalg.norm(result.vector), [1, 0, 0], atol=1e-3)


def test_preconditioner_of_balanced_factors_is_theorem_1_and_moves_W_e(rng):
    d, N = 5, 3
    factors = dl.init.balanced([d, 4, 4, 1], scale=1.0, rng=rng)
    W_e = dl.end_to_end(factors)
    norm = np.linalg.norm(W_e)
    u = W_e.ravel() / norm
    M = curvature.end_to_end_preconditioner(factors)
    theorem = norm ** (2 - 2 / N) * (np.eye(d) + (N - 1) * np.outer(u, u))
    assert_allclose(M, theorem, atol=1e-12 * np.abs(theorem).max())
    assert_allclose(curvature.end_to_end_preconditioner([W_e]), np.eye(d), atol=0)
    # One SGD step on the factors moves vec(W_e) by -lr M vec(grad_e) + O(lr^2).
    X, Y, _ = _problem(rng, dims=(d, 1))
    _, grads = dl.value_and_grads(factors, X, Y)
    grad_e = dl.Objective(X, Y).value_and_grad_e(W_e)[1].ravel()
    errors = []
    for lr in (1e-3, 5e-4):
        moved = dl.end_to_end([W - lr * G for W, G in zip(factors, grads)]).ravel() - W_e.ravel()
        errors.append(np.abs(moved + lr * M @ grad_e).max())
    assert 3.5 < errors[0] / errors[1] < 4.5                            # second order in lr


def test_gauss_newton_sharpness_is_the_sharpness_at_a_minimum(rng):
    """Where dL/dW_e = 0 the factor Hessian is J^T H_e J + wd I exactly."""
    X = rng.standard_normal((40, 4))
    W_star = rng.standard_normal((1, 4))
    factors = dl.init.balanced([4, 3, 3, 1], rng=rng, end_to_end=W_star)
    objective = dl.Objective(X, X @ W_star.T, "l2", weight_decay=0.0)
    top = np.linalg.eigvalsh(curvature.factor_hessian(objective, factors)).max()
    assert curvature.gauss_newton_sharpness(objective, factors) == pytest.approx(top, rel=1e-9)
    # Theorem 1's preconditioner lies between ||W_e||^(2-2/N) I and N times that:
    lower = curvature.balanced_sharpness(W_star, 3, curvature.loss_sharpness(None, X, X @ W_star.T))
    assert lower <= top * (1 + 1e-12) and top <= 3 * lower * (1 + 1e-12)


def test_effective_lr_and_balanced_sharpness():
    W_e = np.array([[3.0, 4.0]])                    # ||W_e|| = 5
    assert curvature.effective_lr(0.1, W_e, 1) == 0.1
    assert curvature.effective_lr(0.1, W_e, 2) == pytest.approx(0.5, rel=1e-15)
    assert curvature.effective_lr(0.1, W_e, 3) == pytest.approx(0.1 * 5 ** (4 / 3), rel=1e-15)
    assert curvature.balanced_sharpness(W_e, 2, 7.0) == pytest.approx(35.0, rel=1e-15)
    assert curvature.balanced_sharpness(W_e, 2, 7.0, lr=0.01) == pytest.approx(0.35, rel=1e-15)
    assert curvature.balanced_sharpness(W_e, 1, 7.0, lr=0.01) == pytest.approx(0.07, rel=1e-15)


def test_bad_inputs_name_the_argument(rng):
    X, Y, factors = _problem(rng, dims=(4, 3, 1))
    objective = dl.Objective(X, Y)
    W_e = dl.end_to_end(factors)
    cases = [
        (lambda: curvature.loss_hessian(None, X, Y, "l4"), "W_e"),
        (lambda: curvature.loss_hessian(W_e, X.astype(int), Y), "X"),
        (lambda: curvature.loss_hessian(W_e[:, :3], X, Y), "X"),
        (lambda: curvature.loss_hessian(W_e, X, Y, "l1"), "loss"),
        (lambda: curvature.loss_hvp(W_e, np.ones((1, 3)), X, Y), "V"),
        (lambda: curvature.loss_hvp(None, np.ones((1, 4)), X, Y), "W_e"),
        (lambda: curvature.loss_hessian(np.zeros((1, 4)), X, X @ np.zeros((4, 1)), "l1.5"),
         "W_e"),
        (lambda: curvature.factor_hvp(objective, factors, [np.ones((3, 4))]), "V"),
        (lambda: curvature.factor_hvp(objective, factors, np.ones(5)), "V"),
        (lambda: curvature.factor_hvp(objective, factors,
                                      [np.ones((3, 4)), np.ones((2, 3))]), "V[1]"),
        (lambda: curvature.factor_hvp(objective, factors, np.ones(15), eps=-1.0), "eps"),
        (lambda: curvature.factor_hvp((X, Y), factors, np.ones(15)), "objective"),
        (lambda: curvature.sharpness(objective, factors[:1]), "factors[0] (W_N)"),
        (lambda: curvature.sharpness(objective, factors, iters=0), "iters"),
        (lambda: curvature.sharpness(objective, factors, v0=np.ones(3)), "v0"),
        (lambda: curvature.sharpness(objective, factors, v0=np.zeros(15)), "v0"),
        (lambda: curvature.sharpness(objective, factors, tol=0), "tol"),
        (lambda: curvature.sharpness(objective, factors, rng="seed"), "rng"),
        (lambda: curvature.gauss_newton_sharpness(None, factors), "objective"),
        (lambda: curvature.end_to_end_preconditioner(W_e), "factors"),
        (lambda: curvature.effective_lr(0.1, np.ones((2, 3)), 2), "W_e"),
        (lambda: curvature.effective_lr(0.0, W_e, 2), "lr"),
        (lambda: curvature.effective_lr(0.1, W_e, 0), "depth"),
        (lambda: curvature.balanced_sharpness(W_e, 2, "big"), "sharpness_e"),
    ]
    for call, name in cases:     # every message starts with the argument's name
        with pytest.raises(ValueError, match="^" + re.escape(name) + r"[:\[ ]"):
            call()
