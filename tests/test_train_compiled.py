"""The compiled training loop (``train(..., compiled=True)``, the default when
the kernels are present) against the step-by-step Python loop
(``compiled=False``), which runs the NumPy functions: ``end_to_end``,
``Loss.value_and_grad_e`` through the predictions, ``factor_gradients`` and
``Optimizer.update``.

The compiled loop runs the numba twins of those functions (tested equal to
them one by one in test_kernels.py and test_optim.py), so the two loops agree
to rounding: each step differs by a few ulps (sums in another order; for l2
the compiled loop works from the moments X^T X / n, which loses about
eps * ||Y||^2 / n absolutely). On these contracting problems that difference
does not grow: measured over 40 steps, at most 2.5e-14 relative on the loss
and 3.1e-13 entrywise on the factors (Adam, whose steps divide by sqrt(v),
amplifies most); over 300 steps with weight decay, below 1e-13 on the loss.
Hence rtol 1e-12 (loss and factors, plus atol 1e-14 for entries near zero)
and 1e-11 over 300 steps. A wrong formula in either loop changes the loss by
far more than that after one step.

Where gradient descent is chaotic (e.g. AdaDelta at lr 1 around an l2
minimum), rounding grows exponentially and no two implementations agree
beyond rounding for long; there a change of 1 ulp in the start alone moves
the loss by 3e-2 after 300 steps. The long test checks that its problems are
not of that kind.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from helpers import random_factors
from deeplinear import _compiled
from deeplinear.objective import Objective
from deeplinear.run_settings import RunSettings
from deeplinear.train import train, train_lrs, train_objective, train_runs

OPTIMIZERS = {
    "sgd": ("sgd", dict(lr=0.02)),
    "sgd-momentum": ("sgd", dict(lr=0.01, momentum=0.9, dampening=0.1)),
    "sgd-nesterov": ("sgd", dict(lr=0.01, momentum=0.8, nesterov=True)),
    "adam": ("adam", dict(lr=0.01)),
    "adam-amsgrad": ("adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True)),
    "adagrad": ("adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1)),
    "adadelta": ("adadelta", dict(lr=1.0, rho=0.95)),
}

# (d_0, hidden widths, d_N): single output, and d_0 < d_N (the transposed chain).
SHAPES = {
    "1-out-depth1": (6, [], 1),
    "1-out-depth2": (6, [5], 1),
    "1-out-depth3": (6, [5, 4], 1),
    "multi-out-depth1": (3, [], 4),
    "multi-out-depth2": (3, [5], 4),
    "multi-out-depth3": (3, [6, 2], 4),
}


def keywords(name, options):
    """The keywords of ``train`` for an entry of OPTIMIZERS: lr apart, the rest options."""
    options = dict(options)
    return dict(optimizer=name, lr=options.pop("lr"), optimizer_options=options)


def make_problem(shape, seed=0, n=40):
    d0, hidden, dN = shape
    rng = np.random.default_rng(seed)
    X = 0.5 * rng.standard_normal((n, d0))
    Y = X @ rng.standard_normal((d0, dN)) / np.sqrt(d0) + 0.1 * rng.standard_normal((n, dN))
    factors = random_factors(rng, [d0, *hidden, dN], scale=0.5)
    return factors, X, Y


def both(factors, X, Y, **kw):
    start = [W.copy() for W in factors]
    a = train(factors, X, Y, compiled=True, **kw)
    b = train(factors, X, Y, compiled=False, **kw)
    for W, W0 in zip(factors, start):  # the caller's factors are untouched
        assert_array_equal(W, W0)
    assert a.info["compiled"] and not b.info["compiled"]
    return a, b


def assert_same_run(a, b):
    assert a.diverged == b.diverged
    assert_array_equal(a.steps, b.steps)
    assert_allclose(a.loss, b.loss, rtol=1e-12)
    assert len(a.final_factors) == len(b.final_factors)
    for Wa, Wb in zip(a.final_factors, b.final_factors):
        assert Wa.shape == Wb.shape and Wa.flags.c_contiguous
        assert_allclose(Wa, Wb, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("loss", ["l2", "l4"])
@pytest.mark.parametrize("opt", list(OPTIMIZERS), ids=list(OPTIMIZERS))
def test_compiled_matches_python_loop(opt, loss, weight_decay, shape):
    name, options = OPTIMIZERS[opt]
    factors, X, Y = make_problem(SHAPES[shape])
    a, b = both(factors, X, Y, loss=loss, steps=40, weight_decay=weight_decay,
                **keywords(name, options))
    assert not a.diverged, "the agreement test should run on a converging problem"
    assert list(a.steps) == list(range(41))
    assert_same_run(a, b)


@pytest.mark.nojit
@pytest.mark.parametrize("opt", ["sgd-nesterov", "adam-amsgrad", "adagrad", "adadelta"])
def test_compiled_matches_python_loop_small(opt):
    """A JIT-free-friendly subset: l4, weight decay, transposed chain, depth 3."""
    name, options = OPTIMIZERS[opt]
    factors, X, Y = make_problem(SHAPES["multi-out-depth3"], seed=1, n=10)
    a, b = both(factors, X, Y, loss="l4", steps=8, weight_decay=0.01, **keywords(name, options))
    assert_same_run(a, b)


@pytest.mark.nojit
@pytest.mark.parametrize("record_every, expected", [(1, list(range(11))), (4, [0, 4, 8, 10]),
                                                    (5, [0, 5, 10]), (20, [0, 10])])
def test_record_every(record_every, expected):
    factors, X, Y = make_problem(SHAPES["1-out-depth2"], n=10)
    a, b = both(factors, X, Y, lr=0.01, steps=10, record_every=record_every)
    assert list(a.steps) == expected
    assert a.steps.dtype.kind == "i"
    assert_same_run(a, b)


@pytest.mark.nojit
@pytest.mark.parametrize("shape", ["1-out-depth2", "multi-out-depth2"])
def test_divergence_stops_and_is_marked(shape):
    factors, X, Y = make_problem(SHAPES[shape], n=10)
    factors = [3.0 * W for W in factors]
    a, b = both(factors, X, Y, loss="l4", lr=10.0, steps=50, record_every=7)
    assert a.diverged and b.diverged
    assert a.final_loss == float("inf")
    assert a.steps[-1] < 50
    assert_array_equal(a.steps, b.steps)  # recorded up to and including the stop
    finite = np.isfinite(b.loss)
    assert_array_equal(np.isfinite(a.loss), finite)
    assert_allclose(a.loss[finite], b.loss[finite], rtol=1e-12)


@pytest.mark.nojit
def test_divergence_factor_is_honoured():
    # With a tiny factor a run that merely increases its loss counts as diverged.
    factors, X, Y = make_problem(SHAPES["1-out-depth1"], n=10)
    a, b = both(factors, X, Y, lr=2.0, steps=30, divergence_factor=1.5)
    assert a.diverged and b.diverged
    assert a.loss[-1] > 1.5 * a.loss[0]
    assert_same_run(a, b)


@pytest.mark.nojit
def test_track_uses_the_python_loop():
    factors, X, Y = make_problem(SHAPES["1-out-depth2"], n=10)
    h = train(factors, X, Y, lr=0.01, steps=5, track=True)
    assert not h.info["compiled"]
    assert h.balancedness.shape == h.loss.shape == h.norm_e.shape


@pytest.mark.nojit
def test_compiled_rejects_bad_options_like_python():
    factors, X, Y = make_problem(SHAPES["1-out-depth2"], n=10)
    for compiled in (True, False):
        with pytest.raises(ValueError, match="optimizer"):
            train(factors, X, Y, lr=0.1, steps=3, optimizer="lbfgs", compiled=compiled)
        with pytest.raises(ValueError, match="nesterov"):
            train(factors, X, Y, lr=0.1, steps=3, optimizer_options={"nesterov": True},
                  compiled=compiled)
        with pytest.raises(ValueError, match="optimizer_options: 'betas' not accepted by "
                                             "optimizer 'adagrad'"):
            train(factors, X, Y, lr=0.1, steps=3, optimizer="adagrad",
                  optimizer_options={"betas": (0.9, 0.9)}, compiled=compiled)


LONG = {
    "sgd-nesterov": ("sgd", dict(lr=0.01, momentum=0.8, nesterov=True)),
    "adam-amsgrad": ("adam", dict(lr=0.003, betas=(0.8, 0.99), amsgrad=True)),
    "adagrad": ("adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1)),
    "adadelta": ("adadelta", dict(lr=0.1, rho=0.95)),
}


@pytest.mark.parametrize("shape", ["1-out-depth3", "multi-out-depth3"])
@pytest.mark.parametrize("loss", ["l2", "l4"])
@pytest.mark.parametrize("opt", list(LONG))
def test_compiled_matches_python_loop_over_300_steps(opt, loss, shape):
    name, options = LONG[opt]
    factors, X, Y = make_problem(SHAPES[shape], seed=2)
    kw = dict(loss=loss, steps=300, weight_decay=0.01, **keywords(name, options))
    a, b = both(factors, X, Y, **kw)
    # Guard: the problem is not chaotic, so a rounding-level difference stays one.
    c = train([np.nextafter(W, np.inf) for W in factors], X, Y, compiled=True, **kw)
    assert_allclose(c.loss, a.loss, rtol=1e-12, err_msg="1 ulp in the start moved the run")
    assert_allclose(a.loss, b.loss, rtol=1e-11,
                    err_msg=f"{opt}, {loss}, {shape}: compiled and Python loops part over 300 steps")
    for j, (Wa, Wb) in enumerate(zip(a.final_factors, b.final_factors), start=1):
        assert_allclose(Wa, Wb, rtol=1e-11, atol=1e-13, err_msg=f"W_{j} after 300 steps")


@pytest.mark.nojit
@pytest.mark.parametrize("compiled", [True, False])
def test_each_path_is_bit_for_bit_deterministic(compiled):
    factors, X, Y = make_problem(SHAPES["multi-out-depth3"], n=10)
    runs = [train(factors, X, Y, loss="l4", optimizer="adam", lr=0.01, steps=15,
                  weight_decay=0.01, compiled=compiled) for _ in range(2)]
    assert runs[0].info["compiled"] is compiled
    assert_array_equal(runs[0].loss, runs[1].loss)
    for Wa, Wb in zip(runs[0].final_factors, runs[1].final_factors):
        assert_array_equal(Wa, Wb)


@pytest.mark.nojit
def test_compiled_none_means_compiled_when_the_kernels_are_present(monkeypatch):
    factors, X, Y = make_problem(SHAPES["1-out-depth2"], n=10)
    assert _compiled.available()
    h = train(factors, X, Y, lr=0.01, steps=3)
    assert h.info["compiled"] is True
    assert train(factors, X, Y, lr=0.01, steps=3, compiled=None, track=True).info["compiled"] \
        is False
    # Without the kernels (simulated here; test_without_kernels.py removes the
    # folder for real): None falls back to the NumPy loop, True is an error.
    monkeypatch.setattr(_compiled, "kernel_train", None)
    assert not _compiled.available()
    h = train(factors, X, Y, lr=0.01, steps=3)
    assert h.info["compiled"] is False
    with pytest.raises(ValueError, match="compiled: this copy of deeplinear has no compiled "
                                         "kernels"):
        train(factors, X, Y, lr=0.01, steps=3, compiled=True)


@pytest.mark.nojit
@pytest.mark.parametrize("bad", [1, "yes", 0.0])
def test_compiled_must_be_none_or_a_bool(bad):
    factors, X, Y = make_problem(SHAPES["1-out-depth2"], n=10)
    with pytest.raises(ValueError, match="compiled"):
        train(factors, X, Y, lr=0.01, steps=3, compiled=bad)


@pytest.mark.nojit
@pytest.mark.parametrize("loss", ["l2", "l4"])
@pytest.mark.parametrize("opt", ["sgd-momentum", "adam", "adagrad"])
def test_weight_decay_is_the_objectives_on_every_entry_point(opt, loss):
    """Issue 20: train_objective and train_lrs once sent weight_decay to the
    optimizer's own L2 term, which the recorded loss leaves out (1.054 against
    1.047 after 50 steps). Now the four entry points run one objective, and
    give the same recorded loss and factors bit for bit on each loop; the
    loops agree to rounding (rtol 1e-12, see the module docstring), and the
    first record is the objective's value with its penalty."""
    name, options = OPTIMIZERS[opt]
    kw = keywords(name, options)
    factors, X, Y = make_problem(SHAPES["multi-out-depth2"], n=12)
    objective = Objective(X, Y, loss, 0.1)
    settings = RunSettings(optimizer=name, optimizer_options=kw["optimizer_options"],
                           steps=12, record_every=5)
    loops = {}
    for compiled in (True, False):
        runs = [train(factors, X, Y, loss=loss, weight_decay=0.1, steps=12, record_every=5,
                      compiled=compiled, **kw),
                train_objective(factors, objective, steps=12, record_every=5,
                                compiled=compiled, **kw),
                train_lrs(factors, objective, lrs=[kw["lr"]], steps=12, record_every=5,
                          optimizer=name, optimizer_options=kw["optimizer_options"],
                          compiled=compiled)[0],
                train_runs(factors, objective, [kw["lr"]], settings, compiled=compiled)[0]]
        for h in runs[1:]:
            assert h.info["compiled"] is compiled
            assert_array_equal(h.loss, runs[0].loss)
            for Wa, Wb in zip(h.final_factors, runs[0].final_factors):
                assert_array_equal(Wa, Wb)
        loops[compiled] = runs[0]
    assert_same_run(loops[True], loops[False])
    assert loops[False].loss[0] == objective.value(factors)
    assert loops[False].loss[0] > Objective(X, Y, loss).value(factors), "no penalty recorded"


@pytest.mark.nojit
@pytest.mark.parametrize("key, where", [("weight_decay", "pass weight_decay to train"),
                                        ("lr", "pass lr to train")])
def test_optimizer_options_refuse_weight_decay_and_lr(key, where):
    factors, X, Y = make_problem(SHAPES["1-out-depth2"], n=10)
    objective = Objective(X, Y)
    for compiled in (True, False):
        with pytest.raises(ValueError, match=f"optimizer_options: '{key}' is not an "
                                             f"optimizer option here; {where}"):
            train(factors, X, Y, lr=0.1, steps=3, optimizer="adam",
                  optimizer_options={key: 0.1}, compiled=compiled)
        with pytest.raises(ValueError, match=f"'{key}'"):
            train_lrs(factors, objective, lrs=[0.1], steps=3, optimizer_options={key: 0.1},
                      compiled=compiled)
    with pytest.raises(TypeError):  # no keyword of that name any more
        train_objective(factors, objective, lr=0.1, steps=3, weight_decay=0.1)


@pytest.mark.nojit
def test_an_edit_of_the_callers_data_is_not_seen_on_either_path():
    """The objective holds read-only copies of X and Y: the moments the
    compiled loop caches per objective (l2) can never be stale, and both
    loops run on the data as they were when the objective was built."""
    factors, X, Y = make_problem(SHAPES["1-out-depth2"], n=10)
    for loss in ("l2", "l4"):
        mine_X, mine_Y = X.copy(), Y.copy()
        objective = Objective(mine_X, mine_Y, loss)
        # The first runs build the compiled loop's caches on this objective.
        before = {c: train_objective(factors, objective, lr=0.02, steps=5, compiled=c)
                  for c in (True, False)}
        mine_X *= 3.0
        mine_Y += 1.0
        for c in (True, False):
            after = train_objective(factors, objective, lr=0.02, steps=5, compiled=c)
            assert_array_equal(after.loss, before[c].loss, err_msg=f"{loss}, compiled={c}")
        edited = train_objective(factors, Objective(mine_X, mine_Y, loss), lr=0.02, steps=5)
        assert not np.array_equal(edited.loss, before[True].loss), "the edit changes nothing"
        with pytest.raises(ValueError, match="read-only"):
            objective.X[0, 0] = 1.0
        with pytest.raises(ValueError, match="read-only"):
            objective.Y[0, 0] = 1.0
    # train builds its objective per call: new data are seen.
    a = train(factors, X, Y, lr=0.02, steps=5)
    b = train(factors, 3.0 * X, Y, lr=0.02, steps=5)
    assert a.loss[0] != b.loss[0]
