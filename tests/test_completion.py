"""Completion and sensing problems and their objectives: the hand-derived
gradients against finite differences and against the library's l2 Objective."""

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import _compiled
from deeplinear.completion import (CompletionObjective, SensingObjective, gaussian_measurements,
                                   low_rank_matrix, measure, sample_entries)
from deeplinear.gradcheck import max_rel_error, numerical_gradient

from helpers import random_factors

pytestmark = pytest.mark.nojit

# Centred differences with h = 1e-6 err by ~1e-10 relative (see tests/test_gradcheck.py);
# a wrong derivation (a missing factor 2, a missing mask, a transpose) errs by O(1).
FD_TOL = 1e-6
# Two computations of the same float64 sums in different orders: agree to ~1e-15 relative.
ROUNDING = 1e-12

SHAPES = [(1, 1), (4, 3), (3, 5), (6, 6)]


def completion(rng, shape, fraction=0.5, weight_decay=0.0):
    target = rng.standard_normal(shape)
    m = max(1, int(fraction * shape[0] * shape[1]))
    return CompletionObjective(target, sample_entries(shape, m, rng), weight_decay)


def sensing(rng, shape, m=7, weight_decay=0.0):
    A = gaussian_measurements(shape, m, rng)
    return SensingObjective(A, measure(A, rng.standard_normal(shape)), weight_decay)


# --- problems -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape, rank, condition", [((7, 5), 3, 10.0), ((4, 9), 1, 1.0),
                                                     ((6, 6), 6, 2.0)])
def test_low_rank_matrix_has_the_asked_spectrum(shape, rank, condition):
    W = low_rank_matrix(shape, rank, condition=condition, scale=2.5, rng=3)
    s = np.linalg.svd(W, compute_uv=False)
    expected = 2.5 * condition ** (-np.arange(rank) / max(rank - 1, 1))
    assert W.shape == shape
    np.testing.assert_allclose(s[:rank], expected, rtol=ROUNDING)
    assert np.all(s[rank:] < ROUNDING)  # rank exactly `rank`, to rounding


def test_low_rank_matrix_is_seeded_and_random():
    a, b = low_rank_matrix((5, 4), 2, rng=1), low_rank_matrix((5, 4), 2, rng=1)
    assert np.array_equal(a, b)
    assert not np.allclose(a, low_rank_matrix((5, 4), 2, rng=2))


@pytest.mark.parametrize("kwargs, name", [
    ({"shape": (3, 0), "rank": 1}, "shape"), ({"shape": 5, "rank": 1}, "shape"),
    ({"shape": (3, 4), "rank": 4}, "rank"), ({"shape": (3, 4), "rank": 0}, "rank"),
    ({"shape": (3, 4), "rank": 2, "condition": 0.5}, "condition"),
    ({"shape": (3, 4), "rank": 1, "condition": 2.0}, "condition"),
    ({"shape": (3, 4), "rank": 2, "scale": -1.0}, "scale")])
def test_low_rank_matrix_refuses_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        low_rank_matrix(**kwargs)


def test_sample_entries_picks_m_distinct_entries():
    mask = sample_entries((6, 7), 20, rng=0)
    assert mask.dtype == np.bool_ and mask.shape == (6, 7) and mask.sum() == 20
    assert np.array_equal(mask, sample_entries((6, 7), 20, rng=0))
    assert sample_entries((6, 7), 42, rng=0).all()
    for m in (0, 43, 2.0):
        with pytest.raises(ValueError, match="^m:"):
            sample_entries((6, 7), m, rng=0)


def test_gaussian_measurements_are_isometric_in_mean(rng):
    # E <A, D>^2 = ||D||_F^2 for iid N(0, 1) entries. Over m = 20000 draws the mean of
    # <A_i, D>^2 (a scaled chi-square) has relative standard deviation sqrt(2/m) = 1%;
    # 5% is five of them. N(0, 1/m) entries, say, would miss by a factor m.
    A = gaussian_measurements((3, 4), 20000, rng)
    D = rng.standard_normal((3, 4))
    y = measure(A, D)
    assert A.shape == (20000, 3, 4)
    np.testing.assert_allclose(y, np.einsum("kab,ab->k", A, D), rtol=ROUNDING, atol=ROUNDING)
    assert abs(np.mean(y ** 2) / np.sum(D ** 2) - 1.0) < 0.05


# --- objectives: against the l2 Objective ------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_fully_observed_completion_is_the_l2_objective(rng, shape, depth):
    # Objective(X = I, Y = W*^T): predictions I W_e^T, mean over all entries.
    target = rng.standard_normal(shape)
    ours = CompletionObjective(target, np.ones(shape, dtype=bool), weight_decay=0.3)
    l2 = dl.Objective(np.eye(shape[1]), target.T.copy(), "l2", weight_decay=0.3)
    factors = random_factors(rng, [shape[1]] + [4] * (depth - 1) + [shape[0]])
    value, grads = ours.value_and_grads(factors)
    value_l2, grads_l2 = l2.value_and_grads(factors)
    assert value == pytest.approx(value_l2, rel=ROUNDING)
    for g, g_l2 in zip(grads, grads_l2):
        np.testing.assert_allclose(g, g_l2, rtol=ROUNDING, atol=ROUNDING * np.abs(g_l2).max())


def test_one_output_sensing_is_the_l2_objective(rng):
    # With d_N = 1, <A_i, W_e> = A_i[0] . W_e[0]: rows of X are the A_i, Y the y_i.
    A = gaussian_measurements((1, 5), 9, rng)
    y = rng.standard_normal(9)
    factors = random_factors(rng, [5, 3, 1])
    value, grads = SensingObjective(A, y, 0.2).value_and_grads(factors)
    value_l2, grads_l2 = dl.Objective(A[:, 0, :], y[:, None], "l2", 0.2).value_and_grads(factors)
    assert value == pytest.approx(value_l2, rel=ROUNDING)
    for g, g_l2 in zip(grads, grads_l2):
        np.testing.assert_allclose(g, g_l2, rtol=ROUNDING, atol=ROUNDING * np.abs(g_l2).max())


def test_sensing_with_entry_indicators_is_completion(rng):
    shape = (4, 5)
    target = rng.standard_normal(shape)
    mask = sample_entries(shape, 9, rng)
    rows, cols = np.nonzero(mask)
    A = np.zeros((9, *shape))
    A[np.arange(9), rows, cols] = 1.0
    W_e = rng.standard_normal(shape)
    v_c, g_c = CompletionObjective(target, mask).value_and_grad_e(W_e)
    v_s, g_s = SensingObjective(A, measure(A, target)).value_and_grad_e(W_e)
    assert v_s == pytest.approx(v_c, rel=ROUNDING)
    np.testing.assert_allclose(g_s, g_c, rtol=ROUNDING, atol=ROUNDING)


# --- objectives: finite differences -------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("make", [completion, sensing], ids=["completion", "sensing"])
def test_grad_e_matches_finite_differences(rng, shape, make):
    objective = make(rng, shape)
    W_e = rng.standard_normal(shape)
    _, grad_e = objective.value_and_grad_e(W_e)
    numeric = numerical_gradient(lambda W: objective.value_and_grad_e(W)[0], W_e)
    assert max_rel_error(grad_e, numeric) < FD_TOL


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
@pytest.mark.parametrize("depth", [1, 2, 4])
@pytest.mark.parametrize("make", [completion, sensing], ids=["completion", "sensing"])
def test_factor_gradients_match_finite_differences(rng, shape, depth, make):
    objective = make(rng, shape, weight_decay=0.3)
    dims = [shape[1]] + [3] * (depth - 1) + [shape[0]]
    factors = random_factors(rng, dims)
    _, grads = objective.value_and_grads(factors)
    numeric = [numerical_gradient(lambda _: objective.value(factors), W) for W in factors]
    scale = max(np.abs(g).max() for g in grads) + max(np.abs(g).max() for g in numeric)
    assert max(max_rel_error(g, n, scale) for g, n in zip(grads, numeric)) < FD_TOL


def test_unobserved_entries_do_not_matter(rng):
    target = rng.standard_normal((5, 4))
    mask = sample_entries((5, 4), 8, rng)
    other = np.where(mask, target, 1e3)
    W_e = rng.standard_normal((5, 4))
    a, b = CompletionObjective(target, mask), CompletionObjective(other, mask)
    assert a.value_and_grad_e(W_e)[0] == b.value_and_grad_e(W_e)[0]
    assert np.array_equal(a.value_and_grad_e(W_e)[1], b.value_and_grad_e(W_e)[1])
    assert np.all(a.value_and_grad_e(W_e)[1][~mask] == 0.0)


def test_objectives_keep_their_own_copies(rng):
    target, mask = rng.standard_normal((3, 3)), np.ones((3, 3), dtype=bool)
    objective = CompletionObjective(target, mask)
    before = objective.value([np.zeros((3, 3))])
    target[:] = 0.0
    mask[:] = False
    assert objective.value([np.zeros((3, 3))]) == before
    with pytest.raises(ValueError):
        objective.observed[0, 0] = 1.0


# --- training ---------------------------------------------------------------------------

@pytest.mark.parametrize("compiled", [False, None])
def test_train_objective_trains_completion(rng, compiled):
    """Either loop trains it (None, the default, takes the kernels where present:
    tests/test_kernels_completion.py compares the two)."""
    target = low_rank_matrix((8, 8), 2, rng=rng)
    objective = CompletionObjective(target, sample_entries((8, 8), 40, rng))
    start = dl.init.balanced([8, 8, 8], scale=0.1, rng=rng)
    history = dl.train_objective(start, objective, lr=5.0, steps=300, compiled=compiled)
    assert history.info["compiled"] == (compiled is None and _compiled.available())
    assert not history.diverged
    assert history.loss[-1] < 1e-3 * history.loss[0]
    assert history.loss[0] == pytest.approx(objective.value(start), rel=1e-13)


def test_sensing_takes_the_python_loop_by_default(rng):
    objective = sensing(rng, (3, 4))
    start = random_factors(rng, [4, 3])
    history = dl.train_objective(start, objective, lr=0.01, steps=3)
    assert not history.info["compiled"]


@pytest.mark.parametrize("call, match", [
    (lambda r: CompletionObjective(r.standard_normal((3, 3)), np.ones((3, 3))), "^mask:"),
    (lambda r: CompletionObjective(r.standard_normal((3, 3)), np.ones((3, 2), bool)), "^mask:"),
    (lambda r: CompletionObjective(r.standard_normal((3, 3)), np.zeros((3, 3), bool)), "^mask:"),
    (lambda r: CompletionObjective(r.standard_normal((3, 3)), np.ones((3, 3), bool), -1.0),
     "^weight_decay:"),
    (lambda r: SensingObjective(r.standard_normal((4, 3)), r.standard_normal(4)), "^A:"),
    (lambda r: SensingObjective(r.standard_normal((4, 2, 3)), r.standard_normal(5)), "^y:"),
    (lambda r: completion(r, (3, 4)).value([np.zeros((3, 3))]), r"^factors\[0\]"),
    (lambda r: completion(r, (3, 4)).value([np.zeros((2, 4))]), r"^factors\[0\]"),
    (lambda r: completion(r, (3, 4)).value_and_grad_e(np.zeros((4, 3))), "^W_e:"),
    (lambda r: measure(r.standard_normal((2, 3, 4)), np.zeros((4, 3))), "^W:")])
def test_bad_input_is_refused_naming_the_argument(rng, call, match):
    with pytest.raises(ValueError, match=match):
        call(rng)
