"""Spectral diagnostics: effective rank, nuclear norm, completion errors, and the
spectrum recorded along a training run."""

import numpy as np
import pytest

import deeplinear as dl
from deeplinear.completion import CompletionObjective, low_rank_matrix, sample_entries
from deeplinear.spectral import (effective_rank, nuclear_norm, relative_error, singular_values,
                                 spectrum_trajectory, unobserved_error)

pytestmark = pytest.mark.nojit

# Closed forms against float64 SVDs and logs of O(1) numbers: ~1e-15 relative.
ROUNDING = 1e-12


def with_spectrum(rng, shape, s):
    """A matrix of ``shape`` with singular values ``s`` (padded with zeros)."""
    U = dl.init.near_identity([len(s), shape[0]], rng=rng)[0]
    V = dl.init.near_identity([len(s), shape[1]], rng=rng)[0]
    return (U * np.asarray(s, dtype=float)) @ V.T


@pytest.mark.parametrize("r", [1, 2, 5])
def test_effective_rank_of_equal_singular_values_is_the_rank(rng, r):
    W = with_spectrum(rng, (7, 6), [3.0] * r)
    assert effective_rank(W) == pytest.approx(r, rel=ROUNDING)


def test_effective_rank_of_one_nonzero_value_is_one(rng):
    assert effective_rank(np.array([2.0, 0.0, 0.0])) == 1.0
    assert effective_rank(with_spectrum(rng, (5, 8), [4.0])) == pytest.approx(1.0, abs=ROUNDING)


def test_effective_rank_by_hand():
    # p = (3/4, 1/4): exp(H) with H = -(3/4 ln 3/4 + 1/4 ln 1/4). Normalising s^2 instead
    # of s (p = (9/10, 1/10)) would give 1.384 instead of 1.755.
    H = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert effective_rank(np.array([3.0, 1.0])) == pytest.approx(np.exp(H), rel=ROUNDING)
    assert effective_rank(np.diag([3.0, -1.0])) == pytest.approx(np.exp(H), rel=ROUNDING)


def test_effective_rank_is_scale_invariant_and_bounded(rng):
    for _ in range(20):
        r = int(rng.integers(1, 6))
        W = with_spectrum(rng, (6, 5), rng.uniform(0.01, 10.0, size=r))
        e = effective_rank(W)
        assert 1.0 - ROUNDING <= e <= r + ROUNDING
        assert effective_rank(1e-5 * W) == pytest.approx(e, rel=1e-10)
        assert effective_rank(singular_values(W)) == pytest.approx(e, rel=ROUNDING)


def test_effective_rank_refuses_zero_and_negative_values():
    with pytest.raises(ValueError, match="^a:"):
        effective_rank(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="^a:"):
        effective_rank(np.array([1.0, -1.0]))


def test_nuclear_norm_and_singular_values(rng):
    assert nuclear_norm(np.diag([3.0, -2.0, 0.5])) == pytest.approx(5.5, rel=ROUNDING)
    s = singular_values(with_spectrum(rng, (4, 6), [5.0, 2.0, 1.0]))
    np.testing.assert_allclose(s, [5.0, 2.0, 1.0, 0.0], rtol=ROUNDING, atol=ROUNDING)


def test_errors_by_hand():
    target = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, False], [True, False]])
    guess = np.array([[9.0, 2.0], [9.0, 0.0]])  # wrong on the observed, 4 off on one hidden
    assert unobserved_error(guess, target, mask) == pytest.approx(4.0 / np.sqrt(20.0))
    assert relative_error(guess, target) == pytest.approx(np.sqrt(64 + 36 + 16) / np.sqrt(30.0))
    with pytest.raises(ValueError, match="^mask:"):
        unobserved_error(guess, target, np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="^target:"):
        unobserved_error(guess, np.zeros((2, 2)), mask)
    with pytest.raises(ValueError, match="^W_e:"):
        relative_error(guess[:1], target)


# --- the spectrum along training ---------------------------------------------------------

@pytest.fixture
def problem():
    target = low_rank_matrix((8, 7), 2, rng=0)
    return target, CompletionObjective(target, sample_entries((8, 7), 30, rng=1))


@pytest.mark.parametrize("optimizer", ["sgd", "e2e"])
def test_segments_are_one_run_bit_for_bit(problem, optimizer):
    _, objective = problem
    start = dl.init.balanced([7, 8, 8, 8], scale=0.1, rng=2)
    trajectory = spectrum_trajectory(start, objective, lr=5.0, steps=23, every=5,
                                     optimizer=optimizer)
    one = dl.train_objective(start, objective, lr=5.0, steps=23, record_every=5,
                             optimizer=optimizer, compiled=False)
    assert np.array_equal(trajectory.steps, [0, 5, 10, 15, 20, 23])
    assert np.array_equal(trajectory.steps, one.steps)
    assert np.array_equal(trajectory.loss, one.loss)
    assert all(np.array_equal(a, b) for a, b in zip(trajectory.final_factors, one.final_factors))
    assert trajectory.singular_values.shape == (6, 7)
    assert np.array_equal(trajectory.singular_values[0], singular_values(dl.end_to_end(start)))
    at_10 = dl.train_objective(start, objective, lr=5.0, steps=10, optimizer=optimizer,
                               compiled=False).final_factors
    assert np.array_equal(trajectory.singular_values[2], singular_values(dl.end_to_end(at_10)))


def test_a_diverging_run_stops_where_one_run_does(problem):
    _, objective = problem
    start = dl.init.balanced([7, 8, 8], scale=1.0, rng=2)
    trajectory = spectrum_trajectory(start, objective, lr=200.0, steps=60, every=7)
    one = dl.train_objective(start, objective, lr=200.0, steps=60, record_every=7, compiled=False)
    assert one.diverged and trajectory.diverged
    assert trajectory.steps[-1] == one.steps[-1]
    assert np.all(np.isnan(trajectory.singular_values[-1]))


def test_works_on_a_data_objective(rng):
    X, Y = rng.standard_normal((20, 4)), rng.standard_normal((20, 3))
    objective = dl.Objective(X, Y)
    start = dl.init.balanced([4, 5, 3], scale=0.1, rng=rng)
    trajectory = spectrum_trajectory(start, objective, lr=0.05, steps=12, every=4)
    one = dl.train_objective(start, objective, lr=0.05, steps=12, record_every=4, compiled=False)
    assert np.array_equal(trajectory.loss, one.loss)


@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": "adam"}, "^optimizer:"),
    ({"optimizer_options": {"momentum": 0.9}}, "^optimizer:"),
    ({"every": 0}, "^every:"), ({"steps": 2.0}, "^steps:")])
def test_refuses_what_would_not_be_one_run(problem, kwargs, match):
    _, objective = problem
    start = dl.init.balanced([7, 8], scale=0.1, rng=2)
    arguments = {"lr": 1.0, "steps": 10, "every": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        spectrum_trajectory(start, objective, **arguments)
