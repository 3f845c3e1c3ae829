"""Running a grid's tasks: here, one after the other, or on an executor.

Any ``concurrent.futures.Executor`` can run the tasks (a process pool, or a
Dask or Ray executor on a cluster); the outputs are returned in the tasks'
order, so nothing depends on which worker finished first.

- :func:`run_training` is the one call into training; :func:`run_task`
  turns its histories into a task's rows and curves.
- :func:`warm_up` compiles (or loads) the kernels here before the tasks
  start, so that the compile notice comes before any progress bar and forked
  workers inherit the compiled code.
- :func:`execute` runs the tasks. Ctrl-C (``KeyboardInterrupt``) stops it at
  once: the pending tasks are cancelled and, on a ``ProcessPoolExecutor``,
  the pool is shut down and this process's child processes (its workers)
  are terminated; what finished is left in ``done``. Here, in this
  process, a task is not interrupted inside a compiled run: Ctrl-C takes
  effect when that run returns.
  A pool whose workers died (``BrokenExecutor``) raises a ``RuntimeError``
  that names the likely cause, never a table of failed runs.
- :func:`process_pool` makes a process pool whose workers leave Ctrl-C to
  this process (:func:`worker_initializer`), and which says how many
  workers it has (``workers``).
"""

from __future__ import annotations

import math
import multiprocessing
import signal
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor, as_completed

import numpy as np

from ..objective import Objective
from ..run_settings import RunSettings
from ..train import train_runs
from .plan import starting_factors
from .report import count

__all__ = ["Interrupted", "execute", "run_task", "run_training", "warm_up", "failed_task",
           "worker_initializer", "process_pool", "WORKER_JOIN_SECONDS"]

#: Seconds to wait for each terminated worker process after Ctrl-C (then
#: for each one killed, if it had not ended).
WORKER_JOIN_SECONDS = 1.0


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a grid. ``results``: the runs finished before it (possibly
    none), a ``Results`` marked incomplete (``results.incomplete``)."""

    def __init__(self, results):
        super().__init__(f"interrupted: {count(len(results.runs), 'run')} had finished")
        self.results = results


def worker_initializer() -> None:
    """Make this (worker) process ignore SIGINT: Ctrl-C in a terminal reaches the
    whole process group, and the parent, not each worker, stops the sweep."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _ProcessPool(ProcessPoolExecutor):
    """A ``ProcessPoolExecutor`` that says how many processes it has: ``workers``."""

    def __init__(self, workers):
        super().__init__(max_workers=workers, initializer=worker_initializer)
        self.workers = workers


def process_pool(workers) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` processes that run
    :func:`worker_initializer` first (use it as a context manager). Its
    attribute ``workers`` tells ``run_grids`` how many there are: one task per
    (configuration, seed) for one worker (``plan.plan_grids``)."""
    return _ProcessPool(workers)


def run_training(objective, factors, lrs, settings) -> list:
    """The grid's one training call: one run per lr of ``lrs`` from ``factors`` on
    ``objective``, with ``settings`` (a ``deeplinear.RunSettings``).

    Returns
    -------
    list of History
        One per lr, in order. The lrs run in lockstep (one pass over the data
        per step for l4); each run is the same, bit for bit, as alone.
    """
    return train_runs(factors, objective, lrs, settings)


def run_task(task, X, Y):
    """Train every lr of ``task``; return ``(rows, curves)`` in lr order.

    If training raises, every run of the task is a failed row (with the
    error's type and message) and an empty curve: the sweep goes on, and
    the table and ``summary.json`` say which runs failed and why.
    """
    try:
        config = task.config
        factors = starting_factors(config.hidden, config.init, task.seed, X.shape[1],
                                   Y.shape[1])
        objective = Objective(X, Y, config.loss, config.weight_decay)  # shared by the lrs
        histories = run_training(objective, factors, task.lrs, task.settings)
    except Exception as exc:
        return failed_task(task, exc)
    rows, curves = [], []
    for k, (lr, h) in enumerate(zip(task.lrs, histories)):
        rows.append({**_row(task, k, lr), "final_loss": h.final_loss, "diverged": h.diverged,
                     "failed": False, "error": "", "steps_run": int(h.steps[-1]),
                     "seconds": h.seconds})
        curves.append((h.steps, h.loss))
    return rows, curves


def _row(task, k, lr):
    return {"run": task.first_run + k, **task.config.columns(), "lr": lr, "seed": task.seed}


def failed_task(task, exc):
    """The ``(rows, curves)`` of a task whose training raised ``exc``: every
    run failed, with an infinite final loss (never a best lr) and no curve."""
    error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    rows = [{**_row(task, k, lr), "final_loss": math.inf, "diverged": False, "failed": True,
             "error": error, "steps_run": 0, "seconds": 0.0} for k, lr in enumerate(task.lrs)]
    curves = [(np.zeros(0, dtype=np.int64), np.zeros(0)) for _ in task.lrs]
    return rows, curves


def warm_up(X, Y, losses, optimizers):
    """Compile (or load) the kernels here, once, before the tasks start.

    Worker processes forked after this inherit the compiled code instead of
    each compiling it again (several seconds each on first use) or loading
    it from the cache (about 0.4 s each, mostly numba's own set-up); and the
    notice that the kernels compile (``deeplinear._compile_notice``) comes
    here, on a line of its own, before any progress bar. One one-step run per loss and
    optimizer, on the whole data (the loop's kind of data, moments or a
    pass, depends on its shape). Without the kernels (a student release)
    these runs take the NumPy loop and cost a few milliseconds.
    """
    for loss in losses:
        objective = Objective(X, Y, loss)
        for optimizer in optimizers:
            run_training(objective, [np.zeros((2, X.shape[1])), np.zeros((Y.shape[1], 2))],
                         (1e-3,), RunSettings(optimizer=optimizer, steps=1))


def execute(tasks, X, Y, executor=None, *, order=None, progress=None, done=None,
            run=None) -> list:
    """Run ``tasks`` here or on ``executor``; their outputs in the tasks' order.

    Parameters
    ----------
    tasks : sequence of Task
    X, Y : ndarray or references
        The data, or references to data already on the workers
        (``cluster.prepare``).
    executor : concurrent.futures.Executor, optional
        None runs the tasks here, one after the other.
    order : sequence of int, optional
        The order in which to submit the tasks to ``executor`` (default: theirs).
    progress : callable, optional
        ``progress(runs)``, called here after each task with its number of runs.
    done : dict, optional
        Filled with ``index: output`` as tasks finish: after Ctrl-C it holds
        what finished.
    run : callable, optional
        ``run(task, X, Y) -> (rows, curves)``, picklable (default
        :func:`run_task`); ``problems.run_problem_task`` for the presets on
        built-in problems, whose tasks carry their problem (X, Y are None).

    Returns
    -------
    list of (rows, curves)
        ``run_task``'s output for each task.

    Raises
    ------
    KeyboardInterrupt
        Re-raised after stopping: pending tasks cancelled and, on a
        ``ProcessPoolExecutor``, every child process of this one
        (``multiprocessing.active_children()``) terminated, without waiting
        for running tasks.
    RuntimeError
        If the executor's workers died (``BrokenExecutor``), naming the
        executor and the likely cause.
    """
    done = {} if done is None else done
    report = progress or (lambda runs: None)
    run = run_task if run is None else run
    if executor is None:
        for i, task in enumerate(tasks):
            done[i] = run(task, X, Y)
            report(len(task.lrs))
        return [done[i] for i in range(len(tasks))]
    futures = {}
    try:
        try:
            for i in (range(len(tasks)) if order is None else order):
                futures[executor.submit(run, tasks[i], X, Y)] = i  # a broken pool refuses
            for future in as_completed(futures):
                i = futures[future]
                try:
                    done[i] = future.result()
                except BrokenExecutor:
                    raise
                except Exception as exc:  # the task was lost for good (not a run's error)
                    done[i] = failed_task(tasks[i], exc)
                report(len(tasks[i].lrs))
        except BrokenExecutor as exc:
            raise RuntimeError(
                f"executor: the workers of {type(executor).__name__} died before "
                f"the grid finished ({type(exc).__name__}: {exc}). The likely cause: a script "
                "that makes a process pool without `if __name__ == \"__main__\":` around "
                "its code, under the 'spawn' start method (macOS, Windows); else a worker "
                "was killed or ran out of memory") from None
    except BaseException:
        _stop(executor, futures)
        raise
    return [done[i] for i in range(len(tasks))]


def _stop(executor, futures):
    """Cancel what has not started; on a process pool, end its workers (this
    process's children) now."""
    for future in futures:
        future.cancel()
    if isinstance(executor, ProcessPoolExecutor):
        executor.shutdown(wait=False, cancel_futures=True)
        workers = multiprocessing.active_children()
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(WORKER_JOIN_SECONDS)
        for process in workers:  # still alive (a loaded machine): SIGKILL cannot wait
            if process.is_alive():
                process.kill()
                process.join(WORKER_JOIN_SECONDS)
