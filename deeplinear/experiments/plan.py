"""Planning a grid: its tasks, their starting factors and what they cost.

One *run* trains one network (one configuration, learning rate and seed).
The runs of one (configuration, seed) share their starting factors
(:func:`starting_factors`), so the learning rates are compared from the same
start, as in the report. They form one :class:`Task`, the unit of work handed
to an executor, whose runs go through the training loop in lockstep (one
read of the data per step for all of them). :func:`plan_grids` splits the
tasks into one per learning rate when there are too few to keep several
workers busy (``MIN_TASKS``).

A small grid does not pay for an executor: starting worker processes and
sending them the data costs a few tenths of a second, more than the whole
grid on one core. :func:`estimate_seconds` estimates the compute of tasks
from their shapes, step counts and lrs in lockstep (:func:`step_cost`); below
``SERIAL_BELOW_SECONDS`` a grid runs here, one task after the other. The same
estimate orders an executor's tasks, the longest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..init import balanced, make_factors
from ..losses import get_loss
from .configuration import Configuration
from .spec import check_grid, data_arrays, init_name, parse_hidden

__all__ = ["Task", "plan_tasks", "plan_grids", "starting_factors", "step_cost",
           "estimate_seconds", "estimate_grids_seconds", "longest_first", "compiled_available",
           "BALANCED_SCALE", "MIN_TASKS", "SERIAL_BELOW_SECONDS", "KERNEL_MADDS_PER_SECOND",
           "MOMENTS_MADDS_PER_SECOND", "PASS_MADDS_PER_SECOND", "PASS_ENTRIES_PER_SECOND",
           "COMPILED_STEP_SECONDS", "PYTHON_STEP_SECONDS", "RUN_SECONDS"]

#: Below this many (configuration, seed) combinations, an executor gets one
#: task per learning rate instead of one per combination.
MIN_TASKS = 8
#: A grid whose estimated compute (``estimate_seconds``) is below this
#: many seconds runs serially even when given an executor. On 2 cores a pool
#: saves at most half the compute and costs about 0.2-0.3 s to start (fork,
#: the data sent with every task, collecting the results), so it pays from
#: about 0.5 s of compute; 1 s leaves a margin for the estimate's error.
SERIAL_BELOW_SECONDS = 1.0
#: The cost model of ``step_cost``, measured on a 2-core machine (numba
#: 0.68) with ``train_runs`` on Abalone, Ethanol and the synthetic data,
#: 1-7 lrs in lockstep, warm (best of 3 calls of 300-20,000 steps): the
#: multiply-adds per second of the compiled kernels (chain products, factor
#: gradients, l2 from the second moments, the update; 3.3-6.5e9 measured on
#: nets whose factors fit in the L2 cache, 2.2e9 on Ethanol [512, 512]), of l4
#: from the fourth moments (sums in a fixed order through a table of
#: indices), and of the compiled pass over the data per run (the dot products
#: and gradient updates, vectorized; 1.0e10 at d_0 = 20, 1.5e10 at 128); the
#: entries of X per second that the pass loads, once per step for all the
#: runs in lockstep (one output) or per run; the fixed cost of one compiled
#: step per run, and of one step of a Python loop (a student release,
#: ``optimizer="e2e"`` with several outputs or weight decay); and the set-up
#: of one run.
KERNEL_MADDS_PER_SECOND = 4e9
MOMENTS_MADDS_PER_SECOND = 2e9
PASS_MADDS_PER_SECOND = 1.4e10
PASS_ENTRIES_PER_SECOND = 1.1e10
COMPILED_STEP_SECONDS = 1e-6
PYTHON_STEP_SECONDS = 2e-4
RUN_SECONDS = 3e-4
#: Scale of the balanced init: the shared end-to-end start W_e has iid
#: N(0, scale^2) entries (so ||W_e||_F is about scale * sqrt(d_0 d_N)).
BALANCED_SCALE = 1e-2


@dataclass(frozen=True)
class Task:
    """The runs of one (configuration, seed): one per lr of ``lrs``, numbered
    from ``first_run``, all from the same starting factors, with the
    ``settings`` (a ``deeplinear.RunSettings``) of the configuration's optimizer."""

    first_run: int
    config: Configuration
    seed: int
    lrs: tuple
    settings: object


def starting_factors(hidden, init, seed, d0, dN) -> list:
    """The starting factors of a grid's runs, a function of (arch, init, seed) only.

    For the balanced init the end-to-end matrix is drawn first from the seed
    (iid N(0, ``BALANCED_SCALE``^2) entries), so every architecture starts
    from the same ``W_e`` and differences between depths come from the
    dynamics alone. A tutorial that continues or re-runs one of a grid's
    runs starts from here.

    Parameters
    ----------
    hidden : sequence of int or str
        One architecture (see ``parse_hidden``).
    init : str
        A name of ``deeplinear.init.INITIALIZERS`` (``-`` may stand for ``_``).
    seed : int
    d0, dN : int
        Input and output dimensions of the data.

    Returns
    -------
    list of ndarray, shape (d_j, d_{j-1})
    """
    dims = [int(d0), *parse_hidden(hidden), int(dN)]
    init = init_name(init)
    rng = np.random.default_rng(seed)
    if init == "balanced":
        W_e = balanced([dims[0], dims[-1]], scale=BALANCED_SCALE, rng=rng)[0]
        return balanced(dims, rng=rng, end_to_end=W_e)
    return make_factors(init, dims, rng=rng)


def plan_tasks(spec, chunk=None, first_run=0) -> list:
    """The tasks of a ``GridSpec``, in grid order, ``chunk`` lrs each (None: all).

    Runs are numbered from ``first_run`` in the same order: configuration,
    seed, then lr.
    """
    lrs = spec.lrs
    chunk = chunk or len(lrs)
    tasks, first = [], first_run
    for hidden, init, settings, loss, seed in spec.combos:
        config = Configuration(hidden, init, settings.optimizer, loss,
                               tuple(sorted(settings.optimizer_options.items())),
                               spec.weight_decay)
        for i in range(0, len(lrs), chunk):
            tasks.append(Task(first, config, seed, lrs[i:i + chunk], settings))
            first += len(lrs[i:i + chunk])
    return tasks


def plan_grids(specs, workers=1) -> list:
    """The tasks of several ``GridSpec``, one list per spec (``plan_tasks``).

    One task per (configuration, seed), whose lrs run in lockstep and share
    the data's pass; but for several ``workers`` (None: an executor of
    unknown size), when all the specs together have fewer than
    ``MIN_TASKS`` combinations, one task per lr, so that the workers share
    the load. One worker (or none: serially) gains nothing from the split.
    The runs are the same bit for bit either way.
    """
    split = workers != 1 and sum(len(s.combos) for s in specs) < MIN_TASKS
    return [plan_tasks(s, chunk=1 if split else None) for s in specs]


def compiled_available() -> bool:
    """Whether the runs take the compiled loop (this copy has its numba kernels)."""
    from .._compiled import available  # without the kernels, this imports neither them nor numba

    return available()


def step_cost(dims, n, loss, optimizer, compiled=True, runs=1, weight_decay=0.0) -> float:
    """Estimated seconds of one training step of ``runs`` runs in lockstep (the
    lrs of a task) of a net with ``dims`` on ``n`` samples.

    The multiply-adds of one compiled step of one run: the chain products and
    factor gradients, ``3 k sum_j d_j d_{j-1}`` with ``k = min(d_0, d_N)``,
    and the update, ``P`` for SGD, ``20 P`` for the adaptive rules (a
    square root and a division per entry) and ``5 P`` for ``"e2e"`` (two
    sums and two divisions per entry), at ``KERNEL_MADDS_PER_SECOND``;
    ``"e2e"`` with one output and no weight decay runs compiled on the
    one-factor chain ``[W_e]`` (``dims`` taken as ``[d_0, d_N]``);
    the loss: ``k d_0^2`` for l2 (from the moments ``X^T X / n``) at the same
    rate, ``T m + m^3`` for l4 where the compiled loop works from the fourth
    moments (``deeplinear._kernel_data.uses_fourth_moments`` decides;
    ``m = d_0 + 1``, ``T = m (m + 1) (m + 2) / 6``) at
    ``MOMENTS_MADDS_PER_SECOND``, else a pass over the data: ``2 n d_0 d_N``
    at ``PASS_MADDS_PER_SECOND``, plus loading the ``n d_0`` entries of X at
    ``PASS_ENTRIES_PER_SECOND``, which the runs in lockstep share when there
    is one output (the engine reads X once per step for all of them); plus
    ``COMPILED_STEP_SECONDS``. A Python loop (``compiled=False``, or
    ``optimizer="e2e"`` with several outputs or weight decay) runs one run
    after the other: per run, the same
    chain and update, ``k d_0^2`` for l2 or ``3 n d_0 d_N`` (a pass over
    the data, the powers included) for the other losses at
    ``KERNEL_MADDS_PER_SECOND``, and ``PYTHON_STEP_SECONDS``.

    Parameters
    ----------
    dims : sequence of int
        ``[d_0, ..., d_N]``.
    n : int
        Samples.
    loss, optimizer : str
        Names, as in a grid.
    compiled : bool
        Whether the compiled loop runs (see :func:`compiled_available`).
    runs : int
        Runs in lockstep (>= 1).
    weight_decay : float
        The objective's (decides the loop of ``"e2e"``).

    Returns
    -------
    float
        Seconds for all ``runs`` together.
    """
    d0, dN = dims[0], dims[-1]
    k = min(d0, dN)
    python_e2e = optimizer == "e2e" and (dN != 1 or weight_decay != 0.0)
    if optimizer == "e2e" and not python_e2e:
        dims = [d0, dN]  # the compiled loop trains W_e alone
    P = sum(a * b for a, b in zip(dims[1:], dims[:-1]))
    per_entry = {"adam": 20, "adagrad": 20, "adadelta": 20, "e2e": 5}.get(optimizer, 1)
    madds = 3 * k * P + per_entry * P
    if not compiled or python_e2e:
        madds += k * d0 * d0 if loss == "l2" else 3 * n * d0 * dN
        return runs * (madds / KERNEL_MADDS_PER_SECOND + PYTHON_STEP_SECONDS)
    shared = 0.0
    run = madds / KERNEL_MADDS_PER_SECOND + COMPILED_STEP_SECONDS
    if loss == "l2":
        run += k * d0 * d0 / KERNEL_MADDS_PER_SECOND
    elif _fourth_moments(n, d0, dN, loss):
        m = d0 + 1
        run += (m * (m + 1) * (m + 2) // 6 * m + m ** 3) / MOMENTS_MADDS_PER_SECOND
    else:
        run += 2 * n * d0 * dN / PASS_MADDS_PER_SECOND
        load = n * d0 / PASS_ENTRIES_PER_SECOND
        if dN == 1:
            shared = load
        else:
            run += load
    return shared + runs * run


def _fourth_moments(n, d0, dN, loss) -> bool:
    """Whether the compiled loop computes ``loss`` from the fourth moments here."""
    from .._kernel_data import uses_fourth_moments  # imported with the kernels only

    return uses_fourth_moments(n, d0, dN, get_loss(loss).p)


def estimate_seconds(tasks, n, d0, dN, compiled=True) -> float:
    """Estimated compute of ``tasks`` on one core: steps x the cost of a step of
    the task's lrs in lockstep (:func:`step_cost`), plus a set-up per run.

    An upper bound in the sense that a run that diverges stops early. Used
    to choose between running a grid serially and on an executor (see
    ``SERIAL_BELOW_SECONDS``) and to order an executor's tasks.

    Parameters
    ----------
    tasks : sequence of Task
    n, d0, dN : int
        The data's samples, inputs and outputs.
    compiled : bool
        As in :func:`step_cost`.

    Returns
    -------
    float
    """
    total = 0.0
    for t in tasks:
        c = t.config
        cost = step_cost([d0, *c.hidden, dN], n, c.loss, c.optimizer, compiled, len(t.lrs),
                         c.weight_decay)
        total += t.settings.steps * cost + len(t.lrs) * RUN_SECONDS
    return total


def longest_first(tasks, n, d0, dN, compiled=True) -> list:
    """The indices of ``tasks``, the longest (by :func:`estimate_seconds`) first;
    tasks of equal cost keep their order."""
    return sorted(range(len(tasks)),
                  key=lambda i: -estimate_seconds([tasks[i]], n, d0, dN, compiled))


def estimate_grids_seconds(data, grids, workers=1) -> float:
    """Estimated wall time, in seconds, of running ``grids`` on ``data``.

    The compute of all their tasks, planned as ``run_grids`` plans them for
    ``workers`` (``plan.plan_grids``), by ``plan.estimate_seconds`` with the
    loop that will run, shared by ``workers``, but never less than the
    longest task. An estimate: it ignores the compile of the kernels on a
    first run and counts diverging runs in full.

    Parameters
    ----------
    data : Dataset or tuple (X, Y)
    grids : sequence of dict
        Grids, as for ``run_grids`` (each checked: a bad one raises ``ValueError``).
    workers : int
        Processes that share the tasks (1: serially).

    Returns
    -------
    float
    """
    X, Y, _ = data_arrays(data)
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers: expected an integer >= 1, got {workers!r}")
    compiled = compiled_available()
    shape = (X.shape[0], X.shape[1], Y.shape[1])
    specs = [check_grid(grid) for grid in grids]
    tasks = [t for part in plan_grids(specs, workers) for t in part]
    costs = [estimate_seconds([t], *shape, compiled) for t in tasks]
    return max(sum(costs) / workers, max(costs, default=0.0))
