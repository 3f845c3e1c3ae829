"""``train(..., optimizer="e2e")``: the closed-form end-to-end dynamics
(Theorem 1 of Arora, Cohen & Hazan 2018) against deep training.

From balanced factors, gradient descent on the factors and the e2e update
are two first-order discretizations of the same gradient flow of ``W_e``, so
at equal training time ``lr * steps`` their loss curves differ by O(lr); at
depth 1 the e2e update *is* gradient descent. With one output and no weight
decay the e2e run is compiled (the kernel ``_kernels.optim.e2e_update`` on
the one-factor chain ``[W_e]``); section 6 checks it against the NumPy rule
and the NumPy loop, and which loop runs when.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from deeplinear.datasets import load_synthetic
from deeplinear.dynamics import e2e_update, e2e_update_single_output
from deeplinear.init import balanced
from deeplinear.network import end_to_end
from deeplinear.objective import Objective
from deeplinear.train import train


def problem(k, depth, n=100, scale=0.3, seed=1):
    """Synthetic data (d_0 = 5, k outputs) and balanced factors of width 4."""
    data = load_synthetic(n=n, d=5, k=k, noise=0.1, seed=3)
    factors = balanced([5] + [4] * (depth - 1) + [k], scale=scale, rng=seed)
    return factors, data.X, data.Y


def penalty_of_balanced(W_e, depth, wd):
    """wd/2 * N * sum_i s_i^(2/N): the weight decay of balanced factors of W_e."""
    s = np.linalg.svd(W_e, compute_uv=False)
    return 0.5 * wd * depth * np.sum(s ** (2.0 / depth))


# --- 1. depth 1 is plain gradient descent -------------------------------------

@pytest.mark.nojit
@pytest.mark.parametrize("loss", ["l2", "l4"])
@pytest.mark.parametrize("k, d0", [(1, 5), (3, 2)], ids=["1-out", "d0<dN"])
def test_depth1_is_sgd_bit_for_bit(loss, k, d0):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, d0))
    Y = X @ rng.standard_normal((d0, k)) + 0.1 * rng.standard_normal((30, k))
    W = [0.3 * rng.standard_normal((k, d0))]
    sgd = train(W, X, Y, loss=loss, lr=0.02, steps=25, compiled=False)
    e2e = train(W, X, Y, loss=loss, lr=0.02, steps=25, optimizer="e2e", compiled=False)
    assert e2e.info == {"compiled": False, "optimizer": "e2e", "depth": 1}
    # Without weight decay the NumPy loop of SGD and the e2e loop compute the
    # same loss function at the same W_e, the factor gradient of depth 1 is
    # grad_e itself (I grad_e I, exact), and the step ``1.0 * W - lr * g``
    # equals ``W - lr * g`` exactly.
    assert_array_equal(e2e.loss, sgd.loss)
    assert_array_equal(e2e.final_factors[0], sgd.final_factors[0])
    if k == 1:  # compiled: the same loop on [W_e], e2e_update's depth-1 branch is p - lr g
        sgd = train(W, X, Y, loss=loss, lr=0.02, steps=25, compiled=True)
        e2e = train(W, X, Y, loss=loss, lr=0.02, steps=25, optimizer="e2e", compiled=True)
        assert e2e.info == {"compiled": True, "optimizer": "e2e", "depth": 1}
        assert_array_equal(e2e.loss, sgd.loss)
        assert_array_equal(e2e.final_factors[0], sgd.final_factors[0])


@pytest.mark.nojit
def test_depth_option_overrides_len_factors():
    # depth=1 on depth-3 factors is plain gradient descent on their product.
    factors, X, Y = problem(k=2, depth=3)
    e2e = train(factors, X, Y, loss="l4", lr=0.05, steps=20, optimizer="e2e",
                optimizer_options={"depth": 1})
    sgd = train([end_to_end(factors)], X, Y, loss="l4", lr=0.05, steps=20, compiled=False)
    assert e2e.info["depth"] == 1
    assert_array_equal(e2e.loss, sgd.loss)
    assert_array_equal(e2e.final_factors[0], sgd.final_factors[0])


@pytest.mark.nojit
def test_depth1_with_weight_decay_matches_sgd():
    # With weight decay the two paths round differently: SGD takes
    # W - lr (g + wd W), e2e (1 - lr wd) W - lr g; the penalty is
    # sum W^2 versus sum s_i^2 from an SVD. Both are ~1e-16 relative per
    # step on a contracting run, so 1e-13 leaves room for 25 steps.
    factors, X, Y = problem(k=2, depth=1)
    sgd = train(factors, X, Y, loss="l2", lr=0.05, steps=25, weight_decay=0.1)
    e2e = train(factors, X, Y, loss="l2", lr=0.05, steps=25, weight_decay=0.1,
                optimizer="e2e")
    assert_allclose(e2e.loss, sgd.loss, rtol=1e-13)
    assert_allclose(e2e.final_factors[0], sgd.final_factors[0], rtol=1e-13, atol=1e-16)


# --- the loop is e2e_update, and the recorded value its documented objective --

@pytest.mark.nojit
@pytest.mark.parametrize("k", [1, 2])
def test_matches_hand_written_e2e_loop(k):
    factors, X, Y = problem(k=k, depth=3)
    start = [W.copy() for W in factors]
    wd, lr, steps = 0.05, 0.05, 12
    h = train(factors, X, Y, loss="l4", lr=lr, steps=steps, weight_decay=wd,
              optimizer="e2e", compiled=True)  # weight decay: the NumPy loop all the same
    assert h.info == {"compiled": False, "optimizer": "e2e", "depth": 3}
    data = Objective(X, Y, "l4")
    W_e, expected = end_to_end(start), []
    for t in range(steps + 1):
        value, grad_e = data.value_and_grad_e(W_e)
        expected.append(value + penalty_of_balanced(W_e, 3, wd))
        if t < steps:
            W_e = e2e_update(W_e, grad_e, 3, lr, wd)
    # Same operations in the same order (the SVD of the penalty is called on
    # the same matrix): equal to rounding.
    assert_allclose(h.loss, expected, rtol=1e-12)
    assert len(h.final_factors) == 1
    assert_allclose(h.final_factors[0], W_e, rtol=1e-12, atol=1e-15)
    assert list(h.steps) == list(range(steps + 1))
    for a, b in zip(factors, start):  # the caller's factors are untouched
        assert_array_equal(a, b)


# --- 3. the weight-decay penalty of balanced factors ---------------------------

@pytest.mark.nojit
@pytest.mark.parametrize("depth", [2, 3, 5])
@pytest.mark.parametrize("k", [1, 3])
def test_balanced_weight_decay_identity(depth, k):
    """wd/2 sum_j ||W_j||^2 = wd/2 N sum_i s_i(W_e)^(2/N) for balanced factors,
    and train's e2e run records exactly the deep objective at step 0."""
    rng = np.random.default_rng(depth * 10 + k)
    X = rng.standard_normal((20, 4))
    Y = rng.standard_normal((20, k))
    # Singular values far from 1 and from each other, so that s^(2/N),
    # s^2 (the penalty of W_e alone) and N s^(2/N)/N differ clearly.
    U, _ = np.linalg.qr(rng.standard_normal((k, k)))
    V, _ = np.linalg.qr(rng.standard_normal((4, k)))
    s = np.array([3.0, 0.4, 0.05])[:k]
    W_e = (U * s) @ V.T
    factors = balanced([4] + [5] * (depth - 1) + [k], rng=rng, end_to_end=W_e)
    wd = 0.3
    direct = 0.5 * wd * sum(np.sum(W ** 2) for W in factors)
    # Balanced factors from an SVD: both sides exact up to ~10 roundings.
    assert_allclose(penalty_of_balanced(W_e, depth, wd), direct, rtol=1e-12)
    assert abs(direct - 0.5 * wd * np.sum(W_e ** 2)) > 1e-3 * direct  # not trivial

    deep0 = Objective(X, Y, "l2", wd).value(factors)
    h = train(factors, X, Y, lr=1e-3, steps=1, weight_decay=wd, optimizer="e2e")
    assert_allclose(h.loss[0], deep0, rtol=1e-12)


# --- 2 and 3. deep SGD versus its closed form: the gap is O(lr) ----------------

@pytest.mark.parametrize("loss", ["l2", "l4"])
@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("k", [1, 2], ids=["1-out", "2-out"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_deep_sgd_and_e2e_curves_differ_by_order_lr(loss, depth, k, weight_decay):
    """Max relative gap between the deep and e2e loss curves, at equal
    training time lr * steps = 6: halving lr halves it.

    Measured (n=100, d_0=5, width 4, balanced scale 0.3) over these 16
    cases: ratios 2.015-2.155 for lr 0.03 -> 0.015 (2.008-2.068 for
    0.015 -> 0.0075, 2.01-2.09 for 0.02 -> 0.01), gaps 3.4e-3 to 3.3e-2 at
    lr = 0.03. The ratio tends to 2 from above as lr -> 0 (the O(lr^2)
    remainder), hence the asymmetric band [1.8, 2.3]. A wrong depth, a
    missing weight-decay shrink or a wrong penalty leaves an O(1) gap that
    does not shrink, ratio ~1.
    """
    factors, X, Y = problem(k=k, depth=depth)
    gaps = []
    for lr, steps in [(0.03, 200), (0.015, 400)]:
        kw = dict(loss=loss, lr=lr, steps=steps, weight_decay=weight_decay)
        deep = train(factors, X, Y, optimizer="sgd", **kw)
        e2e = train(factors, X, Y, optimizer="e2e", **kw)
        assert not deep.diverged and not e2e.diverged
        assert_array_equal(deep.steps, e2e.steps)
        assert deep.loss[-1] < 0.1 * deep.loss[0]  # it did train
        assert e2e.loss[0] == pytest.approx(deep.loss[0], rel=1e-12)  # same start
        gaps.append(np.max(np.abs(deep.loss - e2e.loss) / deep.loss))
    assert gaps[0] < 0.05  # close already: ~lr in relative terms
    assert 1.8 <= gaps[0] / gaps[1] <= 2.3, gaps


# --- 4. bad input ---------------------------------------------------------------

@pytest.mark.nojit
@pytest.mark.parametrize("options, name", [
    ({"depth": 0}, "depth"),
    ({"depth": -2}, "depth"),
    ({"depth": "2"}, "depth"),
    ({"depth": 2.0}, "depth"),
    ({"depth": True}, "depth"),
    ({"momentum": 0.9}, "momentum"),
    ({"depth": 2, "betas": (0.9, 0.99)}, "betas"),
])
def test_bad_options_name_the_culprit(options, name):
    factors, X, Y = problem(k=1, depth=2, n=10)
    start = [W.copy() for W in factors]
    with pytest.raises(ValueError, match=name):
        train(factors, X, Y, lr=0.1, steps=3, optimizer="e2e", optimizer_options=options)
    for a, b in zip(factors, start):
        assert_array_equal(a, b)


@pytest.mark.nojit
def test_name_is_case_insensitive_and_factors_untouched():
    factors, X, Y = problem(k=2, depth=2, n=10)
    start = [W.copy() for W in factors]
    a = train(factors, X, Y, lr=0.1, steps=5, optimizer="E2E")
    b = train(factors, X, Y, lr=0.1, steps=5, optimizer="e2e",
              optimizer_options={"depth": 2}, compiled=False)
    assert_array_equal(a.loss, b.loss)
    assert a.final_factors[0] is not factors[-1]
    for W, W0 in zip(factors, start):
        assert_array_equal(W, W0)


# --- 5. divergence, tracking, recording ------------------------------------------

@pytest.mark.nojit
@pytest.mark.parametrize("k, compiled", [(1, True), (1, False), (2, None)])
def test_divergence_is_marked(k, compiled):
    factors, X, Y = problem(k=k, depth=2, n=10, scale=1.0)
    h = train(factors, X, Y, loss="l4", lr=10.0, steps=50, record_every=7, optimizer="e2e",
              compiled=compiled)
    assert h.info["compiled"] is (compiled is True)
    assert h.diverged
    assert h.final_loss == float("inf")
    assert h.steps[-1] < 50
    assert not (np.isfinite(h.loss[-1]) and h.loss[-1] <= 1e6 * h.loss[0])


@pytest.mark.nojit
@pytest.mark.parametrize("compiled", [True, False])
def test_divergence_factor_is_honoured(compiled):
    # A tiny factor: a run whose loss merely grows is stopped.
    factors, X, Y = problem(k=1, depth=2, n=10)
    h = train(factors, X, Y, lr=3.0, steps=30, divergence_factor=1.5, optimizer="e2e",
              compiled=compiled)
    assert h.info["compiled"] is compiled
    assert h.diverged and h.steps[-1] < 30
    assert h.loss[-1] > 1.5 * h.loss[0]
    assert np.all(h.loss[:-1] <= 1.5 * h.loss[0])


@pytest.mark.nojit
def test_track_and_record_every():
    factors, X, Y = problem(k=2, depth=3, n=10)
    h = train(factors, X, Y, lr=0.05, steps=10, record_every=4, track=True, optimizer="e2e")
    plain = train(factors, X, Y, lr=0.05, steps=10, record_every=4, optimizer="e2e")
    assert list(h.steps) == [0, 4, 8, 10] and h.steps.dtype.kind == "i"
    assert_array_equal(h.loss, plain.loss)  # tracking does not change the run
    assert_array_equal(h.balancedness, np.zeros(4))  # one matrix: balanced by definition
    assert h.norm_e[0] == pytest.approx(np.linalg.norm(end_to_end(factors)), rel=1e-14)
    assert h.norm_e[-1] == np.linalg.norm(h.final_factors[0])
    assert plain.balancedness is None and plain.norm_e is None


# --- 6. the compiled loop: one output, no weight decay ---------------------------
#
# ``train(..., optimizer="e2e")`` with one output and no weight decay runs the
# compiled loop on the one-factor chain [W_e] with the kernel
# ``_kernels.optim.e2e_update``, the twin of ``e2e_update_single_output``.

@pytest.mark.nojit
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
@pytest.mark.parametrize("d0", [1, 7, 128])
def test_e2e_kernel_matches_the_single_output_rule(rng, depth, d0):
    from deeplinear._kernels import optim as kernel_optim

    for _ in range(20):
        W = rng.standard_normal((1, d0)) * 10.0 ** rng.uniform(-2, 1)
        g = rng.standard_normal((1, d0)) * 10.0 ** rng.uniform(-2, 1)
        lr = 10.0 ** rng.uniform(-3, -1)
        expected = e2e_update_single_output(W, g, depth, lr)
        p = W.ravel().copy()
        kernel_optim.e2e_update(p, g.ravel().copy(), lr=lr, depth=float(depth))
        if depth == 1:  # p - lr g, as W - lr g (shrink 1.0 * W is exact)
            assert_array_equal(p, expected.ravel())
            continue
        # Only the two sums (||W_e||^2 and g.u, d_0 terms each) run in another
        # order than NumPy's (BLAS dot, pairwise sum): each is off by at most
        # ~d_0 eps = 1.4e-14 relative to its terms, which moves the step by
        # less than a few times that of its size bound, lr ||W||^(2-2/N)
        # (max|g| + (N-1) ||g||); plus eps |W| for the subtraction. A wrong
        # power or projection changes the step by O(1) of itself, which is
        # more than 1e-6 of |W| here (checked).
        norm = np.linalg.norm(W)
        bound = lr * norm ** (2 - 2 / depth) * (np.abs(g).max() + (depth - 1) * np.linalg.norm(g))
        assert np.abs(expected - W).max() > 1e-6 * np.abs(W).max()
        assert_allclose(p, expected.ravel(), rtol=0, atol=1e-13 * (bound + np.abs(W).max()))
    # W_e = 0: no step for depth >= 2, exactly as the rule.
    zero = np.zeros(d0)
    kernel_optim.e2e_update(zero, np.ones(d0), lr=0.1, depth=float(depth))
    assert_array_equal(zero, e2e_update_single_output(np.zeros((1, d0)), np.ones((1, d0)),
                                                      depth, 0.1).ravel())


@pytest.mark.nojit
def test_optimizer_args_pack_the_e2e_rule_by_name(rng):
    """``_compiled.EndToEndRule`` packed like an optimizer: its code, ``lr`` per
    run, ``depth``, no state; stepped by the loop's ``optimizer_step``, each
    run is ``e2e_update_single_output`` with its own lr (to the tolerance of
    the kernel test above)."""
    from deeplinear import _compiled
    from deeplinear._kernels import train as kernel_train
    from deeplinear._kernels.interface import Hyper

    lrs = [0.05, 0.02]
    args, states = _compiled.optimizer_args(_compiled.EndToEndRule(3), lrs)
    assert args.code == kernel_train.E2E == kernel_train.CODES["e2e"]
    assert list(args.hyper.lr) == lrs and list(args.hyper.depth) == [3.0, 3.0]
    for field in Hyper._fields:  # 0 where the rule does not take the field
        if field not in _compiled.EndToEndRule.kernel_fields:
            assert not np.any(getattr(args.hyper, field)), field
    assert all(s.shape == (2, 0) for s in states)
    W = rng.standard_normal((2, 6))
    expected = [W[b:b + 1].copy() for b in range(2)]
    for t in range(1, 4):
        for b, lr in enumerate(lrs):
            g = rng.standard_normal((1, 6))
            expected[b] = e2e_update_single_output(expected[b], g, 3, lr)
            kernel_train.optimizer_step(W[b], g.ravel(), states, args, b, t)
            assert_allclose(W[b], expected[b].ravel(), rtol=1e-13, atol=1e-15)


def _shaped(name, loss):
    """Synthetic data of a real data set's shape, and a start W_e (1, d_0)
    of balanced depth-2 factors, at an lr that trains without diverging."""
    n, d = {"abalone": (4177, 10), "ethanol": (1316, 128)}[name]
    data = load_synthetic(n=n, d=d, k=1, noise=0.3, seed=5)
    factors = balanced([d, 1, 1], scale=0.3 / np.sqrt(d), rng=2)
    lr = {"abalone": {"l2": 0.05, "l4": 0.005}, "ethanol": {"l2": 0.05, "l4": 0.002}}[name][loss]
    return factors, data.X, data.Y, lr


@pytest.mark.parametrize("loss", ["l2", "l4"])
@pytest.mark.parametrize("name", ["abalone", "ethanol"])
@pytest.mark.parametrize("depth", [2, 3])
def test_compiled_e2e_follows_the_python_e2e(name, loss, depth):
    """200 steps of the compiled loop against the NumPy loop, from one start.

    The two compute the loss differently (l2 from X^T X / n, l4 from the
    fourth moments on the Abalone shape, the fused pass on Ethanol's,
    against the NumPy loss of ``Objective``) and the step's two sums in
    another order: rounding, ~1e-15 relative per step, which 200 steps of a
    contracting descent carry along without growing much. Measured over
    these 8 cases: at most 3.7e-13 relative on the loss (Abalone l4, whose
    fourth moments round differently from the pass near a good fit; 3e-15
    to 3e-14 elsewhere) and 2.3e-14 of max|W_e| on W_e. 1e-10 leaves a
    margin of 300x; the NumPy run at depth N + 1 instead of N is off by
    0.26-0.82 relative on the loss.
    """
    factors, X, Y, lr = _shaped(name, loss)
    kw = dict(loss=loss, lr=lr, steps=200, optimizer="e2e", optimizer_options={"depth": depth})
    fast = train(factors, X, Y, compiled=True, **kw)
    slow = train(factors, X, Y, compiled=False, **kw)
    assert fast.info == {"compiled": True, "optimizer": "e2e", "depth": depth}
    assert slow.info == {"compiled": False, "optimizer": "e2e", "depth": depth}
    assert not fast.diverged and fast.loss[-1] < 0.5 * fast.loss[0]  # it trained
    assert_array_equal(fast.steps, slow.steps)
    assert_allclose(fast.loss, slow.loss, rtol=1e-10)
    W_fast, W_slow = fast.final_factors[0], slow.final_factors[0]
    assert W_fast.shape == (1, X.shape[1])
    assert_allclose(W_fast, W_slow, rtol=0, atol=1e-10 * np.abs(W_slow).max())


@pytest.mark.nojit
@pytest.mark.parametrize("case", ["2 outputs", "weight decay", "track", "compiled=False"])
@pytest.mark.parametrize("compiled", [None, True])
def test_which_loop_runs_e2e(monkeypatch, case, compiled):
    """One output without weight decay: the compiled loop (no call of
    ``dynamics.e2e_update``); several outputs, weight decay, tracking or
    ``compiled=False``: the NumPy loop, one ``e2e_update`` per step."""
    import sys

    train_module = sys.modules["deeplinear.train"]  # the package exports the function train
    calls = []
    real = train_module.e2e_update
    monkeypatch.setattr(train_module, "e2e_update",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    factors, X, Y = problem(k=2 if case == "2 outputs" else 1, depth=2, n=20)
    kw = dict(lr=0.05, steps=6, optimizer="e2e",
              weight_decay=0.01 if case == "weight decay" else 0.0, track=case == "track",
              compiled=False if case == "compiled=False" else compiled)
    h = train(factors, X, Y, **kw)
    assert h.info == {"compiled": False, "optimizer": "e2e", "depth": 2} and len(calls) == 6
    calls.clear()
    one = problem(k=1, depth=2, n=20)
    h = train(*one, lr=0.05, steps=6, optimizer="e2e", compiled=compiled)
    assert h.info == {"compiled": True, "optimizer": "e2e", "depth": 2} and calls == []


@pytest.mark.nojit
def test_compiled_e2e_runs_lrs_in_lockstep_bit_for_bit():
    from deeplinear.train import train_lrs

    factors, X, Y = problem(k=1, depth=3, n=30)
    objective = Objective(X, Y, "l4")
    lrs = [0.02, 0.05, 0.1]
    together = train_lrs(factors, objective, lrs=lrs, steps=15, record_every=4, optimizer="e2e")
    for lr, h in zip(lrs, together):
        alone = train(factors, X, Y, loss="l4", lr=lr, steps=15, record_every=4, optimizer="e2e")
        assert h.info == alone.info == {"compiled": True, "optimizer": "e2e", "depth": 3}
        assert_array_equal(h.loss, alone.loss)
        assert_array_equal(h.steps, alone.steps)
        assert_array_equal(h.final_factors[0], alone.final_factors[0])


@pytest.mark.nojit
def test_the_cost_model_charges_e2e_the_loop_that_runs():
    """``plan.step_cost`` of e2e: one output, no weight decay, the compiled
    loop on [W_e] (the hidden layers cost nothing); else the Python loop."""
    from deeplinear.experiments import plan

    rate = plan.KERNEL_MADDS_PER_SECOND
    sgd1 = plan.step_cost([128, 1], 1316, "l4", "sgd")
    e2e = plan.step_cost([128, 64, 64, 1], 1316, "l4", "e2e")
    assert e2e == pytest.approx(sgd1 + 4 * 128 / rate, rel=1e-12)  # 5 P against P
    python = plan.step_cost([128, 64, 64, 1], 1316, "l4", "e2e", weight_decay=0.1)
    assert python == pytest.approx(plan.step_cost([128, 64, 64, 1], 1316, "l4", "sgd",
                                                  compiled=False) + 4 * (128 * 64 + 64 * 64 + 64)
                                   / rate, rel=1e-12)
    assert python > 3 * e2e
