"""The training loop and the main command."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deeplinear.datasets import load_synthetic
from deeplinear.init import balanced
from deeplinear.objective import Objective
from deeplinear.train import train


@pytest.fixture
def data():
    return load_synthetic(n=200, d=5, k=1, noise=0.1, seed=3)


@pytest.mark.nojit
@pytest.mark.parametrize("loss", ["l2", "l4"])
def test_sgd_matches_hand_written_loop(data, loss):
    factors = balanced([5, 4, 3, 1], scale=0.3, rng=1)
    start = [W.copy() for W in factors]
    h = train(factors, data.X, data.Y, loss=loss, lr=0.05, steps=30, weight_decay=0.01)
    obj = Objective(data.X, data.Y, loss, 0.01)
    W = [A.copy() for A in start]
    expected = []
    for _ in range(30):
        value, grads = obj.value_and_grads(W)
        expected.append(value)
        W = [A - 0.05 * g for A, g in zip(W, grads)]
    expected.append(obj.value(W))
    # Same operations in the same order: equal to rounding (1e-12).
    assert_allclose(h.loss, expected, rtol=1e-12)
    for a, b in zip(h.final_factors, W):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    for a, b in zip(factors, start):  # the caller's factors are untouched
        assert np.array_equal(a, b)


@pytest.mark.nojit
def test_divergence_is_reported_not_nan(data):
    h = train(balanced([5, 4, 1], scale=1.0, rng=0), data.X, data.Y, loss="l4", lr=10.0, steps=50)
    assert h.diverged
    assert h.final_loss == float("inf")
    assert h.steps[-1] < 50


@pytest.mark.nojit
def test_record_every(data):
    h = train(balanced([5, 1], rng=0), data.X, data.Y, lr=0.01, steps=10, record_every=4)
    assert list(h.steps) == [0, 4, 8, 10]


@pytest.mark.parametrize("kw, name", [({"lr": 0.0, "steps": 3}, "lr"), ({"lr": 0.1, "steps": 0}, "steps"),
                                      ({"lr": 0.1, "steps": 3, "optimizer": "lbfgs"}, "optimizer")])
def test_train_bad_input(data, kw, name):
    with pytest.raises(ValueError, match=name):
        train(balanced([5, 1], rng=0), data.X, data.Y, **kw)
