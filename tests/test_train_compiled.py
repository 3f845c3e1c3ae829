"""The compiled training loop (``train(..., compiled=True)``, the default)
against the step-by-step Python loop (``compiled=False``).

Both call the same loss, gradient and update kernels in the same order, so
they agree to rounding; the only reordered sum is the weight-decay penalty
(``squared_norm_sum`` versus ``np.sum``), about 1e-16 relative.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from conftest import random_factors
from deeplinear.train import train

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
    a, b = both(factors, X, Y, loss=loss, optimizer=name, steps=40,
                weight_decay=weight_decay, **options)
    assert not a.diverged, "the agreement test should run on a converging problem"
    assert list(a.steps) == list(range(41))
    assert_same_run(a, b)


@pytest.mark.nojit
@pytest.mark.parametrize("opt", ["sgd-nesterov", "adam-amsgrad", "adagrad", "adadelta"])
def test_compiled_matches_python_loop_small(opt):
    """A JIT-free-friendly subset: l4, weight decay, transposed chain, depth 3."""
    name, options = OPTIMIZERS[opt]
    factors, X, Y = make_problem(SHAPES["multi-out-depth3"], seed=1, n=10)
    a, b = both(factors, X, Y, loss="l4", optimizer=name, steps=8, weight_decay=0.01,
                **options)
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
            train(factors, X, Y, lr=0.1, steps=3, nesterov=True, compiled=compiled)
        with pytest.raises(ValueError, match="options"):
            train(factors, X, Y, lr=0.1, steps=3, optimizer="adagrad", betas=(0.9, 0.9),
                  compiled=compiled)
