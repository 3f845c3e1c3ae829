"""The training loop and the main command."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deeplinear import losses
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


@pytest.mark.nojit
@pytest.mark.parametrize("optimizer", ["sgd", "e2e"])
def test_the_python_loop_checks_the_data_once_not_per_step(data, monkeypatch, optimizer):
    """The objective checks X and Y (finite, shapes) when it is built; the
    loop's evaluations skip ``Loss.value_and_grad_e``'s O(n d) re-check."""
    checks = []
    real = losses.check_data
    monkeypatch.setattr(losses, "check_data", lambda *a, **k: checks.append(1) or real(*a, **k))
    h = train(balanced([5, 4, 1], scale=0.3, rng=1), data.X, data.Y, lr=0.01, steps=20,
              optimizer=optimizer, compiled=False)
    assert len(h.loss) == 21 and checks == []


def test_run_settings_are_checked_once_and_read_only():
    import dataclasses
    import pickle

    from deeplinear import RunSettings

    s = RunSettings(optimizer="Adam", optimizer_options={"betas": (0.8, 0.9)}, steps=np.int64(5))
    assert s.optimizer == "adam" and s.steps == 5 and type(s.steps) is int
    assert s.record_every == 1 and s.divergence_factor == 1e6
    with pytest.raises(TypeError):
        s.optimizer_options["amsgrad"] = True
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.steps = 6
    assert pickle.loads(pickle.dumps(s)) == s  # a grid sends it to its workers
    options = {"momentum": 0.9}
    sgd = RunSettings(optimizer_options=options, steps=3)
    options["momentum"] = -1.0  # a copy was kept
    assert sgd.optimizer_options == {"momentum": 0.9}
    assert RunSettings(optimizer="e2e", optimizer_options={"depth": np.int64(3)},
                       steps=1).optimizer_options == {"depth": 3}


@pytest.mark.parametrize("kw, message", [
    (dict(steps=0), "steps: expected an integer >= 1"),
    (dict(steps=2.0), "steps: expected an integer >= 1"),
    (dict(steps=True), "steps: expected an integer >= 1"),
    (dict(steps=3, record_every=0), "record_every: expected an integer >= 1"),
    (dict(steps=3, divergence_factor=-1.0), "divergence_factor"),
    (dict(steps=3, optimizer="lbfgs"), "optimizer: unknown name 'lbfgs'"),
    (dict(steps=3, optimizer_options=[("momentum", 0.9)]), "optimizer_options: expected a mapping"),
    (dict(steps=3, optimizer_options={"momentum": -0.5}), "momentum"),
    (dict(steps=3, optimizer="adam", optimizer_options={"betas": (0.9, 1.0)}), r"betas\[1\]"),
    (dict(steps=3, optimizer="adam", optimizer_options={"rho": 0.9}),
     r"optimizer_options: 'rho' not accepted by optimizer 'adam'; its options are \['betas'"),
    (dict(steps=3, optimizer="e2e", optimizer_options={"depth": 0}), "depth"),
])
def test_run_settings_name_what_is_wrong(kw, message):
    from deeplinear import RunSettings

    with pytest.raises(ValueError, match=message):
        RunSettings(**kw)


def test_train_runs_takes_an_objective_and_settings(data):
    from deeplinear import RunSettings, train_runs

    factors = balanced([5, 1], rng=0)
    settings = RunSettings(steps=3)
    with pytest.raises(ValueError, match="objective: expected a deeplinear.Objective"):
        train_runs(factors, (data.X, data.Y), [0.1], settings)
    with pytest.raises(ValueError, match="settings: expected a deeplinear.RunSettings"):
        train_runs(factors, Objective(data.X, data.Y), [0.1], {"steps": 3})
    a, b = train_runs(factors, Objective(data.X, data.Y), [0.1, 0.01], settings)
    assert list(a.steps) == list(b.steps) == [0, 1, 2, 3]
