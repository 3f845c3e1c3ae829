"""Several learning rates in lockstep (``train_lrs``) against one run at a time.

``train_lrs`` runs all its lrs in one call of the compiled loop: each step
evaluates every active run, and for an lp loss with one output all of them in
one pass over the data (``loss.lp_batch_value_and_grad_e``, which takes the
runs two at a time so that they share the loads of X). Every run's sums are
the ones it makes alone, in the same order, so the claim is equality bit for
bit, not closeness: the tests compare with ``assert_array_equal``. A kernel
that mixed two runs' numbers, paired them in another order, skipped a row or
let a diverged run change the others would change a last bit somewhere, and
usually far more.

The shapes cover d_0 that is a multiple of 4, one that is not (6) and one
below 4 (3), n that is not a multiple of 4, several outputs (the transposed
chain), an odd and an even number of runs, and runs that diverge part way;
one narrow shape with many rows takes l4 from the fourth moments.
"""

import importlib

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from helpers import random_factors
from deeplinear._kernels import loss as kloss
from deeplinear.objective import Objective
from deeplinear.train import train_lrs, train_objective

pytestmark = pytest.mark.nojit

# (d_0, hidden widths, d_N, n)
SHAPES = {
    "d8-depth1": (8, [], 1, 41),
    "d6-depth2": (6, [5], 1, 38),
    "d3-depth3": (3, [4, 2], 1, 23),
    "d6-width1": (6, [1], 1, 40),
    "multi-out-depth2": (3, [5], 4, 30),
    # l4 from the fourth moments instead of a pass (_kernel_data.uses_fourth_moments)
    "d3-moments": (3, [4], 1, 400),
}
OPTIMIZERS = {
    "sgd": ("sgd", {}),
    "sgd-momentum": ("sgd", dict(momentum=0.9)),
    "adam": ("adam", {}),
    "adagrad": ("adagrad", {}),
    "adadelta": ("adadelta", dict(rho=0.95, eps=1e-8)),
}
# The last lr of each set diverges on these problems, above 50 times the
# initial loss (checked in the test).
LRS = {"sgd": (0.003, 0.01, 0.03, 3.0), "adam": (0.001, 0.01, 0.05, 30.0),
       "adagrad": (0.01, 0.05, 0.1, 50.0), "adadelta": (0.1, 1.0, 3.0, 1e5)}


def problem(shape, loss, seed=0):
    d0, hidden, dN, n = shape
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d0))
    Y = X @ rng.standard_normal((d0, dN)) / np.sqrt(d0) + 0.1 * rng.standard_normal((n, dN))
    return Objective(X, Y, loss), random_factors(rng, [d0, *hidden, dN], scale=0.5)


def assert_same_run(batched, alone, label):
    assert batched.diverged == alone.diverged, label
    assert_array_equal(batched.steps, alone.steps, err_msg=label)
    assert_array_equal(batched.loss, alone.loss, err_msg=label)
    for j, (A, B) in enumerate(zip(batched.final_factors, alone.final_factors)):
        assert_array_equal(A, B, err_msg=f"{label}: factor {j + 1}")


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
@pytest.mark.parametrize("loss", ["l2", "l4"])
@pytest.mark.parametrize("opt", list(OPTIMIZERS), ids=list(OPTIMIZERS))
@pytest.mark.parametrize("count", [3, 4], ids=["odd", "even"])
def test_lockstep_runs_are_the_runs_alone_bit_for_bit(opt, loss, shape, count):
    name, options = OPTIMIZERS[opt]
    objective, factors = problem(SHAPES[shape], loss)
    lrs = LRS[name][-count:]
    batched = train_lrs(factors, objective, optimizer=name, optimizer_options=options, lrs=lrs,
                        steps=60, record_every=7, divergence_factor=50.0, compiled=True)
    assert len(batched) == len(lrs)
    assert batched[-1].diverged and batched[-1].steps[-1] < 60, "the largest lr must diverge"
    for lr, h in zip(lrs, batched):
        alone = train_objective(factors, objective, optimizer=name, optimizer_options=options,
                                lr=lr, steps=60, record_every=7, divergence_factor=50.0,
                                compiled=True)
        assert_same_run(h, alone, f"{opt}, {loss}, {shape}, lr {lr}")


def test_python_loop_runs_the_lrs_one_after_the_other():
    objective, factors = problem(SHAPES["d6-depth2"], "l4")
    lrs = (0.01, 0.03)
    batched = train_lrs(factors, objective, optimizer="adam", lrs=lrs, steps=25,
                        compiled=False)
    for lr, h in zip(lrs, batched):
        alone = train_objective(factors, objective, optimizer="adam", lr=lr, steps=25,
                                compiled=False)
        assert not h.info["compiled"]
        assert_same_run(h, alone, f"python loop, lr {lr}")


def test_the_start_is_not_modified_and_runs_do_not_share_arrays():
    objective, factors = problem(SHAPES["d8-depth1"], "l4")
    before = [W.copy() for W in factors]
    a, b = train_lrs(factors, objective, lrs=(0.01, 0.02), steps=5)
    for W, W0 in zip(factors, before):
        assert_array_equal(W, W0)
    assert not np.shares_memory(a.final_factors[0], b.final_factors[0])
    assert not np.array_equal(a.final_factors[0], b.final_factors[0])


@pytest.mark.parametrize("bad, message", [
    ((), "lrs: expected a non-empty sequence"),
    (0.01, "lrs: expected a non-empty sequence"),
    ((0.01, -1.0), r"lrs\[1\]: expected"),
    ((0.01, float("nan")), r"lrs\[1\]: expected"),
    ((-1.0,), "lr: expected"),
])
def test_bad_lrs_are_refused_before_any_run(bad, message, monkeypatch):
    objective, factors = problem(SHAPES["d8-depth1"], "l4")
    train_module = importlib.import_module("deeplinear.train")

    def no_run(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr(train_module, "make_optimizer", no_run)
    with pytest.raises(ValueError, match=message):
        train_lrs(factors, objective, lrs=bad, steps=5, compiled=False)


def _misaligned(A, offset):
    """A copy of ``A`` whose data starts ``offset`` float64s into a fresh buffer."""
    buf = np.empty(A.size + offset)
    out = buf[offset:].reshape(A.shape)
    out[...] = A
    return out


def _alone(W_e, X, Y, p):
    """One run through the batched pass: (value, grad_e (k, d))."""
    grad, value = np.empty((1, *W_e.shape)), np.empty(1)
    kloss.lp_batch_value_and_grad_e(W_e[None], X, Y, p, grad, value, np.ones(1, dtype=bool))
    return value[0], grad[0]


@pytest.mark.parametrize("d", [3, 6, 8, 13])
@pytest.mark.parametrize("p", [2.0, 4.0, 3.0])
def test_batched_lp_pass_is_each_run_alone_at_any_alignment(d, p):
    rng = np.random.default_rng(int(d * p))
    n, B = 31, 5
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, 1))
    W_es = 0.5 * rng.standard_normal((B, 1, d))
    active = np.array([True, False, True, True, True])
    grads = np.full((B, 1, d), 7.0)
    values = np.full(B, 7.0)
    kloss.lp_batch_value_and_grad_e(W_es, X, Y, p, grads, values, active)
    assert_array_equal(grads[1], 7.0, err_msg="an inactive run's gradient was written")
    assert values[1] == 7.0, "an inactive run's value was written"
    for b in np.flatnonzero(active):
        for offset in (0, 1, 2, 3):  # data pointers at every 8-byte offset mod 32
            value, g = _alone(_misaligned(W_es[b], offset), _misaligned(X, (offset + 1) % 4),
                              _misaligned(Y, offset), p)
            assert value == values[b], f"run {b}, offset {offset}: value"
            assert_array_equal(g, grads[b], err_msg=f"run {b}, offset {offset}: gradient")
