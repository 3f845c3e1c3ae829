"""Grid search over architectures, initializers, optimizers, losses, lrs and seeds.

The entry points :func:`grid_search` (one grid) and :func:`run_grids`
(several, as one batch of tasks) go through four steps, one module each:

1. ``spec``: every grid is checked into a frozen ``GridSpec`` before any run;
2. ``plan``: its tasks, their starting factors and estimated cost (a small
   grid runs here even when given an executor: ``SERIAL_BELOW_SECONDS``);
3. ``execution``: the kernels are compiled, then the tasks run, here or on an
   executor;
4. here: the outputs are assembled into ``Results``, in the grids' order.

The runs are the same bit for bit serially and on any executor.
"""

from __future__ import annotations

import functools
import time

import pandas as pd

from . import cluster
from .execution import Interrupted, execute, warm_up
from .plan import (SERIAL_BELOW_SECONDS, compiled_available, estimate_seconds, longest_first,
                   plan_grids, plan_tasks)
from .results import RUN_COLUMNS, Results
from .spec import REPORT_LRS, check_grid, data_arrays

__all__ = ["grid_search", "run_grids"]


def grid_search(data, *, hidden=((),), init="default", optimizer="sgd", loss="l2", steps=100,
                lrs=REPORT_LRS, seeds=(0, 1, 2), weight_decay=0.0, record_every=None,
                divergence_factor=1e6, optimizer_options=None, executor=None,
                progress=False, serial_below=SERIAL_BELOW_SECONDS):
    """Train every combination and keep all the curves.

    Parameters
    ----------
    data : Dataset or tuple (X, Y)
        ``X`` of shape (n, d_0), ``Y`` of shape (n, d_N).
    hidden : str or sequence
        Architectures as hidden widths; ``[]`` is depth 1 (linear regression).
        A string is one architecture (``"[10,10]"``, ``"[]"``); a sequence
        holds one per item, each a string or a sequence of widths
        (``[[], [10], "[10,10]"]``).
    init, optimizer, loss : str or sequence of str
        Names; a sequence makes a grid over them. ``init`` is one of
        ``deeplinear.init.INITIALIZERS`` (``-`` may stand for ``_``);
        ``optimizer`` one of "sgd", "adam", "adagrad", "adadelta", "e2e";
        ``loss`` one that ``deeplinear.losses.get_loss`` accepts.
    steps : int
    lrs : sequence of float
        The learning-rate grid (default: the report's). The lrs of one
        configuration and seed start from the same factors and run in
        lockstep (``deeplinear.train_runs``); each run is the same, bit
        for bit, as alone.
    seeds : sequence of int
        One repeat per seed; the seed fixes the starting factors.
    weight_decay : float
        The objective's penalty ``weight_decay / 2 sum_j ||W_j||^2`` (finite, >= 0).
    record_every : int, optional
        Default: every step up to 1000 steps, else ``steps // 1000``.
    divergence_factor : float
        A run whose loss exceeds this times its initial loss is diverged.
    optimizer_options : dict, optional
        Passed to every run's optimizer; checked by building it.
    executor : concurrent.futures.Executor, optional
        Runs the tasks (one per configuration and seed; one per lr when
        there are fewer than ``plan.MIN_TASKS`` combinations, unless the
        executor has an attribute ``workers`` that says 1). None runs them
        here, one after the other. A process pool made with
        ``deeplinear.experiments.process_pool`` leaves Ctrl-C to this process
        and says how many workers it has.
    progress : bool or callable
        True shows a tqdm progress bar over the runs; a callable is called
        here as ``progress(done, total)`` (runs) after each task.
    serial_below : float
        Run here, without the executor, when the grid's estimated compute
        (``estimate_seconds``) is below this many seconds (default
        ``SERIAL_BELOW_SECONDS``, 1 s): a pool would cost more than it saves.
        0 always uses the executor. The results are the same either way.

    Returns
    -------
    Results

    Raises
    ------
    ValueError
        If a value of the grid is bad, before any run.
    Interrupted
        On Ctrl-C; its ``results`` hold the runs finished so far.
    RuntimeError
        If the executor's worker processes died.
    """
    grid = dict(hidden=hidden, init=init, optimizer=optimizer, loss=loss, steps=steps, lrs=lrs,
                seeds=seeds, weight_decay=weight_decay, record_every=record_every,
                divergence_factor=divergence_factor, optimizer_options=optimizer_options)
    return run_grids(data, [grid], executor=executor, progress=progress,
                     serial_below=serial_below)


def run_grids(data, grids, *, executor=None, progress=False, serial_below=SERIAL_BELOW_SECONDS):
    """Several grids on the same data, as one batch of tasks: ``Results.concat``
    of their :func:`grid_search` results, the same bit for bit.

    Every grid is checked before any run starts. On an executor, the tasks
    of all the grids are submitted together, the longest (by
    ``estimate_seconds``) first, so that the workers stay busy until
    the end instead of waiting at the end of each grid; the results are
    gathered in the grids' order. A preset is run this way.

    Parameters
    ----------
    data : Dataset or tuple (X, Y)
    grids : sequence of dict
        Each the keywords of :func:`grid_search` from ``GRID_KEYS``; a
        missing key takes ``grid_search``'s default.
    executor, progress, serial_below
        As in :func:`grid_search`, for all the grids together.

    Returns
    -------
    Results

    Raises
    ------
    ValueError, Interrupted, RuntimeError
        As in :func:`grid_search`.
    """
    X, Y, name = data_arrays(data)
    grids = list(grids)
    if not grids:
        raise ValueError("grids: expected at least one grid")
    specs = [check_grid(grid) for grid in grids]
    shape = (X.shape[0], X.shape[1], Y.shape[1])
    compiled = compiled_available()
    if executor is not None and serial_below > 0:
        whole = [t for s in specs for t in plan_tasks(s)]
        if estimate_seconds(whole, *shape, compiled) < serial_below:
            executor = None  # a small grid: the executor would cost more than it saves
    # Few combinations (a one-seed paper grid) on several workers: one task per
    # lr, so that they share the load. Runs do not depend on the split.
    tasks = plan_grids(specs, 1 if executor is None else getattr(executor, "workers", None))
    flat = [t for part in tasks for t in part]

    start = time.perf_counter()
    done = {}
    try:
        data_refs = (X, Y)
        if executor is not None or progress:
            losses = sorted({lo for s in specs for lo in s.loss})
            optimizers = sorted({o for s in specs for o in s.optimizer})
            warm_up(X, Y, losses, optimizers)  # before the bar: the compile notice comes first
            if executor is not None:
                data_refs = cluster.prepare(executor, X, Y, functools.partial(
                    warm_up, losses=losses, optimizers=optimizers))
        with _Progress(progress, sum(len(t.lrs) for t in flat)) as report:
            execute(flat, *data_refs, executor, progress=report, done=done,
                    order=longest_first(flat, *shape, compiled) if executor else None)
    except KeyboardInterrupt:
        results = _assemble(specs, tasks, done, name, shape, incomplete=True)
        results.seconds = time.perf_counter() - start
        raise Interrupted(results) from None
    results = _assemble(specs, tasks, done, name, shape)
    results.seconds = time.perf_counter() - start  # wall time of all the grids together
    return results


def _assemble(specs, tasks, done, name, shape, incomplete=False):
    """The Results of the finished tasks (``done``: flat task index -> output),
    grid by grid, runs numbered in task order. ``incomplete``: leave out the
    grids of which nothing finished (all but the first if none did), and mark
    the Results incomplete."""
    grids, at = [], 0
    for spec, part in zip(specs, tasks):
        grids.append((spec, [done[i] for i in range(at, at + len(part)) if i in done]))
        at += len(part)
    if incomplete:
        grids = [(spec, outputs) for spec, outputs in grids if outputs] or grids[:1]
    parts = []
    for spec, outputs in grids:
        rows = [row for task_rows, _ in outputs for row in task_rows]
        curves = [curve for _, task_curves in outputs for curve in task_curves]
        runs = pd.DataFrame(rows, columns=RUN_COLUMNS).assign(run=range(len(rows)))
        config = {"dataset": name, "n": int(shape[0]), "d_in": int(shape[1]),
                  "d_out": int(shape[2]), **spec.config()}
        parts.append(Results(runs, curves, config))
    results = parts[0] if len(parts) == 1 else Results.concat(parts)
    if incomplete:
        results.config["incomplete"] = True
    return results


class _Progress:
    """``progress`` of ``grid_search`` as a callable ``report(runs)``: a tqdm bar,
    the caller's ``progress(done, total)``, or nothing."""

    def __init__(self, progress, total):
        self.progress, self.total, self.count, self.bar = progress, total, 0, None

    def __enter__(self):
        if self.progress and not callable(self.progress):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit="run", leave=False)
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def __call__(self, runs):
        self.count += runs
        if self.bar is not None:
            self.bar.update(runs)
        elif self.progress:
            self.progress(self.count, self.total)
