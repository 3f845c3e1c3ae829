"""Matrix completion on the compiled loop: the loss kernel
``_kernels.loss.completion_value_and_grad_e`` against its NumPy twin
``CompletionObjective.value_and_grad_e`` (the rule students read), and whole
compiled runs against the Python loop.

The kernel sums the m squared residuals in the order of Omega; NumPy sums the
masked matrix pairwise. The two values differ by at most about m eps L
(m <= 64 here: 7e-15 relative), so rtol 1e-13; each gradient entry is the
same product ``(2/m) r`` in both, so the gradients are compared bit for bit.
A wrong factor, a missing mask or a transposed index is off by O(1).

Whole runs: the compiled loop forms W_e and the factor gradients in its own
summation order (``_kernels.chain``), so the two loops agree to rounding, as
for data objectives (tests/test_train_compiled.py, whose tolerances these
are): measured over 60 steps on these problems, at most 2.6e-15 relative on
the loss and 1.2e-13 on the factors; rtol 1e-12 with atol 1e-14. The kernel
against NumPy: at most 6.2e-16 relative on the value (60 draws).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import deeplinear as dl
from deeplinear import _kernel_data
from deeplinear._kernels import loss as kernel_loss
from deeplinear.completion import CompletionObjective, low_rank_matrix, sample_entries
from helpers import at_offset

pytestmark = pytest.mark.nojit

VALUE_RTOL = 1e-13
RUN_RTOL, RUN_ATOL = 1e-12, 1e-14

# (d_N, d_0): wide, tall (the kernels' transposed chain: d_0 < d_N), square, one entry.
SHAPES = [(3, 7), (8, 4), (6, 6), (1, 1)]


def problem(rng, shape, fraction=0.5, weight_decay=0.0):
    target = low_rank_matrix(shape, 1, rng=rng) + 0.1 * rng.standard_normal(shape)
    m = max(1, int(fraction * shape[0] * shape[1]))
    return CompletionObjective(target, sample_entries(shape, m, rng), weight_decay)


def kernel(objective, W_e):
    grad = np.full(W_e.shape, np.nan)  # every entry must be written, the unobserved as 0
    rows, cols, values = objective.observed_entries()
    value = kernel_loss.completion_value_and_grad_e(W_e, rows, cols, values, grad)
    return value, grad


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fraction", [0.2, 0.6, 1.0])
def test_the_kernel_is_the_numpy_rule(rng, shape, fraction):
    objective = problem(rng, shape, fraction)
    W_e = rng.standard_normal(shape)
    value, grad = kernel(objective, W_e)
    ref_value, ref_grad = objective.value_and_grad_e(W_e)
    assert_allclose(value, ref_value, rtol=VALUE_RTOL, err_msg=f"{shape}: the loss")
    assert_array_equal(grad, ref_grad, err_msg=f"{shape}: the gradient")


def test_the_kernel_does_not_depend_on_alignment(rng):
    objective = problem(rng, (9, 5))
    W_e = rng.standard_normal((9, 5))
    value, grad = kernel(objective, W_e)
    for offset in (8, 24):
        moved = at_offset(W_e, offset)
        out = at_offset(np.full(W_e.shape, np.nan), offset)
        rows, cols, values = objective.observed_entries()
        v = kernel_loss.completion_value_and_grad_e(moved, rows, cols, values, out)
        assert v == value and np.array_equal(out, grad), f"offset {offset}"


def test_the_observed_entries_are_omega_in_row_major_order(rng):
    objective = problem(rng, (5, 4))
    rows, cols, values = objective.observed_entries()
    assert rows.dtype == cols.dtype == np.int64 and not rows.flags.writeable
    mask = np.zeros((5, 4), dtype=bool)
    mask[rows, cols] = True
    assert_array_equal(mask, objective.mask)
    assert np.all(np.diff(rows * 4 + cols) > 0), "not row-major, or repeated"
    assert_array_equal(values, objective.observed[rows, cols])


def test_completion_has_its_own_kind_of_kernel_data(rng):
    objective = problem(rng, (4, 6))
    assert _kernel_data.data_kind(objective) == "completion entries"
    data = _kernel_data.kernel_data(objective, transposed=False)
    assert data.X is None and data.C is None and data.M4 is None
    assert data.omega_rows is objective.observed_entries()[0]
    assert data.p == 2.0 and data.weight_decay == objective.weight_decay


@pytest.mark.parametrize("shape", SHAPES[:3])
@pytest.mark.parametrize("hidden", [(), (5,), (5, 4)])
@pytest.mark.parametrize("optimizer, lr, weight_decay",
                         [("sgd", 0.3, 0.0), ("adam", 0.01, 1e-3), ("sgd", 0.3, 1e-2)])
def test_compiled_runs_are_the_python_runs(rng, shape, hidden, optimizer, lr, weight_decay):
    objective = problem(rng, shape, weight_decay=weight_decay)
    dims = [shape[1], *hidden, shape[0]]
    start = [0.5 * rng.standard_normal((dims[j + 1], dims[j])) for j in range(len(dims) - 1)]
    kw = dict(lr=lr, steps=60, record_every=7, optimizer=optimizer)
    fast = dl.train_objective(start, objective, compiled=True, **kw)
    slow = dl.train_objective(start, objective, compiled=False, **kw)
    assert fast.info["compiled"] and not slow.info["compiled"]
    assert_array_equal(fast.steps, slow.steps)
    assert fast.loss[-1] < 0.9 * fast.loss[0], "the problem must train: else a no-op passes"
    name = f"{shape} {hidden} {optimizer} wd={weight_decay}"
    assert_allclose(fast.loss, slow.loss, rtol=RUN_RTOL, atol=RUN_ATOL, err_msg=name)
    for j, (a, b) in enumerate(zip(fast.final_factors, slow.final_factors)):
        assert_allclose(a, b, rtol=RUN_RTOL, atol=RUN_ATOL, err_msg=f"{name}: W_{j + 1}")


def test_the_default_takes_the_compiled_loop_and_a_grid_runs_in_lockstep(rng):
    """compiled=None takes the kernels for completion; every lr of a grid is its
    own run, the same bits as alone."""
    objective = problem(rng, (6, 5))
    start = dl.init.balanced([5, 6, 6], scale=0.3, rng=rng)
    lrs = [0.1, 0.3, 50.0]  # the last diverges, and must not touch the others
    grid = dl.train_lrs(start, objective, lrs=lrs, steps=40)
    for lr, history in zip(lrs, grid):
        alone = dl.train_objective(start, objective, lr=lr, steps=40)
        assert history.info["compiled"] and alone.info["compiled"]
        assert_array_equal(history.loss, alone.loss, err_msg=f"lr {lr}")
    assert grid[2].diverged and not grid[0].diverged and not grid[1].diverged


def test_sensing_still_refuses_the_compiled_loop(rng):
    A = dl.completion.gaussian_measurements((3, 4), 5, rng)
    objective = dl.completion.SensingObjective(A, dl.completion.measure(A, np.ones((3, 4))))
    start = [rng.standard_normal((3, 4))]
    with pytest.raises(ValueError, match="^compiled: a SensingObjective has no compiled loop"):
        dl.train_objective(start, objective, lr=0.1, steps=2, compiled=True)
