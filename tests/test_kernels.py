"""Each numba kernel against the NumPy function it is the twin of, on random inputs.

The library's Python path is NumPy (``linalg``, ``losses``, ``optim``,
``objective``); ``deeplinear/_kernels`` holds twins that only the compiled
training loop runs. Here: the chain kernels against ``network.end_to_end`` and
``network.factor_gradients`` (in both orientations, through the layout of
``_chain.Chain`` and called directly), the loss kernels against
``Loss.value_and_grad_e``, and one objective evaluation by the kernels the
loop runs (``end_to_end_into``, ``losses_into``, ``gradients_from_grad_e``)
against ``Objective.value_and_grads``.
The optimizer kernels are checked against ``Optimizer.update`` in
``test_optim.py``, the compiled loop against the Python loop in
``test_train_compiled.py``.

Tolerance 1e-12 of the largest entry (float64): a kernel sums the same
products as NumPy/BLAS in another order (``matmul_bt`` and the loss pass may
also reassociate), which changes results by a few ulps times the number of
terms (<= 60 here), i.e. ~1e-14; the l2 moment form loses about
eps * ||Y||^2 / n absolutely, ~1e-15 with O(1) data. A wrong formula (a
missing factor, a transpose, a wrong scale) is off by O(1).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deeplinear import _chain, _compiled, _kernel_data, end_to_end, factor_gradients, losses
from deeplinear._kernels import chain, loss
from deeplinear._kernels import train as kernel_train
from deeplinear._kernels.interface import Workspace
from deeplinear.objective import Objective

from helpers import random_factors

pytestmark = pytest.mark.nojit

SHAPES = [(1, 1, 1), (1, 7, 5), (4, 3, 6), (9, 12, 2)]
# d_N < d_0 (kernels on the network as it is), d_0 < d_N (on the transposed
# network), d_0 == d_N, depth 1, width-1 bottlenecks.
DIMS = [[4, 3, 1], [2, 5, 5, 3], [3, 1, 4, 2], [1, 4, 6], [2, 7, 4, 9], [5, 3], [1, 1, 1],
        [3, 3, 3], [6, 1, 1, 6]]


def _close(actual, expected, what):
    assert_allclose(actual, expected, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(expected).max()),
                    err_msg=what)


def _one_run(ch):
    """Run 0's ``Workspace`` (views) of a batch workspace of one run, as the loop takes it."""
    work = ch.batch_workspace(1)
    return Workspace(*(a if name == "kd" else a[0] for name, a in zip(Workspace._fields, work)))


def _loop_loss(objective, W_e):
    """The loss and grad_e at W_e (d_N, d_0) by ``losses_into``, on the loop's Data."""
    data = _kernel_data.kernel_data(objective, transposed=False)
    k, d = W_e.shape
    grad_e, value = np.full((1, k, d), np.nan), np.full(1, np.nan)
    kernel_train.losses_into(W_e.reshape((1, k, d)), grad_e, value, np.ones(1, dtype=np.bool_),
                             data, data.X, data.C, data.M4, data.omega_rows)
    return value[0], grad_e[0]


def _loop_objective(objective, factors):
    """The objective and its factor gradients by the kernels of one step of the loop."""
    ch = _kernel_data.chain(objective, factors)
    work, data = _one_run(ch), _kernel_data.kernel_data(objective, ch.transposed)
    params = ch.pack(factors)
    kernel_train.end_to_end_into(params, work, data)
    k, d = work.W_e.shape
    values = np.empty(1)
    kernel_train.losses_into(work.W_e.reshape((1, k, d)), work.grad_e.reshape((1, k, d)), values,
                             np.ones(1, dtype=np.bool_), data, data.X, data.C, data.M4,
                             data.omega_rows)
    value = kernel_train.gradients_from_grad_e(params, work, data, values[0])
    return float(value), ch.unkernel(ch.views(work.dW))


@pytest.mark.parametrize("m, p, q", SHAPES)
def test_matmul_kernels(rng, m, p, q):
    A, B = rng.standard_normal((m, p)), rng.standard_normal((p, q))
    out = np.full((m, q), np.nan)  # stale contents must be overwritten
    chain.matmul(A, B, out)
    _close(out, A @ B, "matmul")
    Bt = np.ascontiguousarray(B.T)
    out = np.full((m, q), np.nan)
    chain.matmul_bt(A, Bt, out)
    _close(out, A @ B, "matmul_bt")
    At = np.ascontiguousarray(A.T)
    out = np.full((m, q), np.nan)
    chain.matmul_at(At, B, out)
    _close(out, A @ B, "matmul_at")


@pytest.mark.parametrize("dims", DIMS, ids=str)
def test_chain_kernels_match_linalg(rng, dims):
    """suffix_products and factor_gradients, called directly, against linalg.

    The kernels carry d_N rows; for d_0 < d_N the compiled path runs them on
    the transposed network [W_N^T, ..., W_1^T] with grad_e^T, whose factor
    gradients are the transposes of ours in reverse order. Both
    orientations are run here for every shape.
    """
    N = len(dims) - 1
    factors = random_factors(rng, dims)
    grad_e = rng.standard_normal((dims[-1], dims[0]))
    W_e, dW = end_to_end(factors), factor_gradients(factors, grad_e)
    for transposed in (False, True):
        if transposed:
            kf = [np.ascontiguousarray(W.T) for W in reversed(factors)]
            kd, G = dims[::-1], np.ascontiguousarray(grad_e.T)
        else:
            kf, kd, G = factors, dims, grad_e
        k = kd[-1]
        kda = np.array(kd, dtype=np.int64)
        params = np.concatenate([W.ravel() for W in kf])  # the flat layout of the factors
        suffix = np.full(k * sum(kd), np.nan)  # stale contents must be overwritten
        chain.suffix_products(params, kda, suffix)
        blocks = [chain.stack_block(suffix, kda, j) for j in range(N + 1)]
        how = f"dims {dims}, {'transposed' if transposed else 'as is'}"
        _close(blocks[0].T if transposed else blocks[0], W_e, f"W_e = suffix[0], {how}")
        _close(blocks[N], np.eye(k), f"suffix[N] = I, {how}")
        g_prefix_t = np.full(k * sum(kd[:-1]), np.nan)
        out = np.full(params.size, np.nan)
        chain.factor_gradients(params, kda, suffix, G, g_prefix_t, out)
        views = [chain.factor(out, kda, j) for j in range(N)]
        got = [D.T for D in reversed(views)] if transposed else views
        for j, (a, b) in enumerate(zip(got, dW), start=1):
            _close(a, b, f"dL/dW_{j}, {how}")
        for j, W in enumerate(kf):  # the views are the factors, in the flat layout
            assert np.array_equal(chain.factor(params, kda, j), W)
        assert chain.squared_norm_sum(params) == pytest.approx(
            sum(float(np.sum(W**2)) for W in factors), rel=1e-12)


@pytest.mark.parametrize("dims", DIMS, ids=str)
def test_chain_layout_matches_linalg(rng, dims):
    """_chain.Chain (orientation chosen by the dims): its packing, workspace
    and unpacking around the chain kernels against linalg, called twice."""
    ch = _chain.Chain(dims)
    assert ch.transposed == (dims[-1] > dims[0])
    work = _one_run(ch)
    for trial in range(2):  # a second call must not see stale workspace
        factors = random_factors(rng, dims)
        grad_e = rng.standard_normal((dims[-1], dims[0]))
        params = ch.pack(factors)
        chain.suffix_products(params, ch.kd, work.suffix)
        W_e = chain.stack_block(work.suffix, ch.kd, 0)
        _close(W_e.T if ch.transposed else W_e, end_to_end(factors), f"W_e, {dims}, {trial}")
        G = np.ascontiguousarray(grad_e.T if ch.transposed else grad_e)
        chain.factor_gradients(params, ch.kd, work.suffix, G, work.g_prefix_t, work.dW)
        got = ch.unkernel(ch.views(work.dW))
        for j, (a, b) in enumerate(zip(got, factor_gradients(factors, grad_e)), start=1):
            assert a.shape == b.shape
            _close(a, b, f"dL/dW_{j}, dims {dims}, call {trial}")
            assert not np.shares_memory(a, work.dW), "unkernel must copy"


def test_chain_orientation_follows_small_end():
    assert not _chain.Chain([128, 512, 512, 1]).transposed
    assert _chain.Chain([1, 512, 512, 128]).transposed
    # Every intermediate carries min(d_0, d_N) rows.
    for dims in ([128, 512, 512, 1], [1, 512, 512, 128]):
        work = _chain.Chain(dims).batch_workspace(2)
        assert work.grad_k.shape == (2, 1, 128) and work.suffix.shape == (2, 1153)


@pytest.mark.parametrize("q", [0.0, 1.0, 3.0, 2.5, 17.0])
def test_abs_pow(rng, q):
    a = np.abs(rng.standard_normal(20)) * 3
    got = np.array([loss.abs_pow(x, q) for x in a])
    _close(got, a**q, f"abs_pow q={q}")


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("p", [2.0, 4.0, 3.3])
def test_lp_kernel_matches_value_and_grad_e(rng, k, p):
    n, d = 57, 6
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    W_e = rng.standard_normal((k, d)) / np.sqrt(d)
    value, grad_e = losses.lp(p).value_and_grad_e(W_e, X, Y)
    grad = np.full((1, k, d), np.nan)  # stale contents must be overwritten
    got = np.full(1, np.nan)
    loss.lp_batch_value_and_grad_e(W_e[None], X, Y, p, grad, got, np.ones(1, dtype=np.bool_))
    got, grad = got[0], grad[0]
    assert got == pytest.approx(value, rel=1e-12), f"lp kernel value, p={p}, k={k}"
    _close(grad, grad_e, f"lp kernel grad_e, p={p}, k={k}")


@pytest.mark.parametrize("k", [1, 2])
def test_l2_gram_kernel_matches_value_and_grad_e(rng, k):
    n, d = 300, 7
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    W_e = rng.standard_normal((k, d)) / np.sqrt(d)
    value, grad_e = losses.l2.value_and_grad_e(W_e, X, Y)
    grad = np.full((k, d), np.nan)
    got = loss.l2_gram_value_and_grad_e(W_e, X.T @ X / n, Y.T @ X / n, np.sum(Y**2) / n, grad)
    # The moment form loses ~eps * ||Y||^2/n absolutely; the loss here is O(1).
    assert got == pytest.approx(value, rel=1e-12), "l2 moment kernel value"
    _close(grad, grad_e, "l2 moment kernel grad_e")
    # The same through the objective's moments, computed on first use.
    v, g = _loop_loss(Objective(X, Y, "l2"), W_e)
    assert v == pytest.approx(value, rel=1e-12)
    _close(g, grad_e, "the loop's loss kernels, l2")
    assert _kernel_data.gram(Objective(X, Y, "l4")) is None  # l4 makes a pass over the data


@pytest.mark.parametrize("dims", [[5, 3, 1], [2, 4, 3], [3, 2], [1, 3, 3, 4]], ids=str)
@pytest.mark.parametrize("loss_name", ["l2", "l4"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.03])
def test_compiled_objective_matches_numpy_objective(rng, dims, loss_name, weight_decay):
    X, Y = rng.standard_normal((30, dims[0])), rng.standard_normal((30, dims[-1]))
    obj = Objective(X, Y, loss_name, weight_decay)
    factors = random_factors(rng, dims)
    value, grads = obj.value_and_grads(factors)
    kv, kgrads = _loop_objective(obj, factors)
    assert kv == pytest.approx(value, rel=1e-12), f"objective value, {loss_name}, dims {dims}"
    for j, (a, b) in enumerate(zip(kgrads, grads), start=1):
        _close(a, b, f"dF/dW_{j}, {loss_name}, wd {weight_decay}, dims {dims}")


@pytest.mark.parametrize("dims", [[1, 1, 2], [1, 3], [2, 1, 4], [3, 2, 1]], ids=str)
def test_unkernel_copies_even_where_a_view_would_do(rng, dims):
    # Regression: on the transposed chain a (d, 1) gradient's transpose is
    # already contiguous, and returning it without a copy let the next call
    # overwrite results the caller still held.
    ch = _chain.Chain(dims)
    flat = ch.pack(random_factors(rng, dims))
    out = ch.unkernel(ch.views(flat))
    kept = [W.copy() for W in out]
    flat[...] = 0.0
    for a, b in zip(out, kept):
        assert np.array_equal(a, b), "a later write changed arrays returned earlier"


# --- the named tuples the compiled loop takes ----------------------------------

def test_workspace_and_data_are_named_tuples(rng):
    from deeplinear._kernels.interface import Data

    ch = _chain.Chain([2, 4, 3])  # d_0 < d_N: the transposed network, k = 2
    work = ch.batch_workspace(5)
    assert isinstance(work, Workspace) and ch.transposed
    # One flat buffer per run each; ch.views gives the factor blocks.
    assert list(work.kd) == [3, 4, 2] and work.kd.dtype == np.int64
    assert work.dW.shape == (5, 3 * 4 + 4 * 2) and work.suffix.shape == (5, 2 * 9)
    assert [v.shape for v in ch.views(work.dW[0])] == [(4, 3), (2, 4)]
    assert work.W_e.shape == work.grad_e.shape == (5, 3, 2)
    assert work.grad_k.shape == (5, 2, 3) and work.g_prefix_t.shape == (5, 2 * 7)
    X, Y = rng.standard_normal((6, 2)), rng.standard_normal((6, 3))
    l2 = _kernel_data.kernel_data(Objective(X, Y, "l2", 0.5), ch.transposed)
    assert isinstance(l2, Data) and l2.transposed is True and l2.weight_decay == 0.5
    assert l2.C.shape == (2, 2) and l2.Bt.shape == (3, 2) and l2.p == 2.0
    assert l2.X is None and l2.Y is None
    objective = Objective(X, Y, "l4")
    l4 = _kernel_data.kernel_data(objective, False)
    assert l4.C is None and l4.Bt is None and l4.yy == 0.0 and l4.p == 4.0
    assert l4.X is objective.X and l4.Y is objective.Y and not l4.X.flags.writeable
    assert _kernel_data.data_kind(objective) == "lp pass"
    assert _kernel_data.data_kind(Objective(X, Y, "l2")) == "l2 moments"


@pytest.mark.parametrize("name,options", [
    ("sgd", {}), ("sgd", dict(momentum=0.9, nesterov=True)), ("adam", {}),
    ("adam", dict(amsgrad=True, weight_decay=0.1)), ("adagrad", dict(lr_decay=0.1)),
    ("adagrad", dict(initial_accumulator_value=0.5, weight_decay=0.1)),
    ("adadelta", dict(rho=0.5))], ids=str)
def test_optimizer_args_drive_the_kernel_like_step(rng, name, options):
    """Two runs packed by name (``optimizer_args``: the rule and options of
    one optimizer, an lr per run) and stepped by the loop's
    ``optimizer_step`` against ``Optimizer.step``: each run keeps its own lr
    and state."""
    from deeplinear._kernels.interface import Hyper, OptimizerArgs, States
    from deeplinear.optim import make_optimizer

    ch = _chain.Chain([2, 3, 1])
    lrs = (0.05, 0.02)
    params = [random_factors(rng, [2, 3, 1]) for _ in lrs]
    flat = np.stack([ch.pack(p) for p in params])  # the factors as rows of flat arrays
    template = make_optimizer(name, ch.views(flat[0].copy()), lr=lrs[0], **options)
    opts = [make_optimizer(name, p, lr=lr, **options) for p, lr in zip(params, lrs)]
    args, states = _compiled.optimizer_args(template, list(lrs))
    assert isinstance(args, OptimizerArgs) and isinstance(states, States)
    assert isinstance(args.hyper, Hyper) and args.code == kernel_train.CODES[name]
    assert list(args.hyper.lr) == list(lrs)
    for field in Hyper._fields:  # 0 where the rule does not take the field
        if field not in template.kernel_fields:
            assert not np.any(getattr(args.hyper, field)), field
    for key, arr in zip(States._fields, states):  # used: (B, P); unused: (B, 0)
        assert arr.shape == ((2, ch.size) if key in template.state[0] else (2, 0)), key
    for t in range(1, 4):
        for b, opt in enumerate(opts):
            grads = [rng.standard_normal(W.shape) for W in params[b]]
            opt.step(grads)
            kernel_train.optimizer_step(flat[b], ch.pack(grads), states, args, b, t)
            for j, (a, W) in enumerate(zip(ch.unkernel(ch.views(flat[b])), params[b])):
                _close(a, W, f"{name} {options}: run {b}, factor {j} at step {t}")
            for key in opt.state[0]:  # the kernel updated run b's row of the state
                _close(getattr(states, key)[b],
                       np.concatenate([s[key].ravel() for s in opt.state]),
                       f"{name}: run {b}, state {key!r} at step {t}")
