"""Grid search over architectures, initializers, optimizers, losses, lrs and seeds.

One *run* trains one network (one architecture, init, optimizer, loss,
learning rate and seed) with ``deeplinear.train``. The runs of one
(architecture, init, optimizer, loss, seed) share their starting factors, so
the learning rates are compared from the same start, as in the report. They
form one *task*, the unit of work handed to an executor (split into one task
per learning rate when there are too few to keep the workers busy).

Any ``concurrent.futures.Executor`` can run the tasks (a process pool, or a
Dask or Ray executor on a cluster); results are gathered in submission
order, so the output does not depend on which worker finished first.

A small grid does not pay for the executor: starting worker processes and
sending them the data costs a few tenths of a second, more than the whole
grid on one core. ``estimate_seconds`` estimates a grid's compute from
its shapes and step counts (``step_cost``), and below
``SERIAL_BELOW_SECONDS`` (the ``serial_below`` keyword of
:func:`grid_search`) the grid runs here, one task after the other, and the
executor is left untouched. The runs are the same bit for bit either way.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from concurrent.futures import as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..init import INITIALIZERS, balanced, make_factors
from ..optim import OPTIMIZERS
from ..objective import Objective
from ..train import train_lrs, train_objective
from . import cluster

__all__ = ["grid_search", "run_grids", "check_grid", "starting_factors", "GRID_KEYS", "validate_grid", "estimate_seconds", "step_cost", "REPORT_LRS",
           "REPORT_HIDDEN", "arch_name", "parse_hidden", "SERIAL_BELOW_SECONDS"]

#: The learning-rate grid of the report (Levy & Wang, 2024).
REPORT_LRS = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2)
#: The report's architectures, as hidden widths ([] is linear regression).
REPORT_HIDDEN = ((), (1,), (10,), (64,), (1, 1), (10, 10), (64, 64))
#: Optimizers a grid accepts: the built-in ones and the closed form "e2e".
GRID_OPTIMIZERS = (*OPTIMIZERS, "e2e")
#: Below this many (arch, init, optimizer, loss, seed) combinations, an
#: executor gets one task per learning rate instead of one per combination.
MIN_TASKS = 8
#: A grid whose estimated compute (``estimate_seconds``) is below this
#: many seconds runs serially even when given an executor. On 2 cores a pool
#: saves at most half the compute and costs about 0.2-0.3 s to start (fork,
#: the data sent with every task, collecting the results), so it pays from
#: about 0.5 s of compute; 1 s leaves a margin for the estimate's error.
SERIAL_BELOW_SECONDS = 1.0
#: The cost model of ``step_cost``, measured on a 2-core machine
#: (numba 0.68): multiply-adds per second of the compiled kernels, the fixed
#: cost of one compiled step, and of one step of a Python loop (a student
#: release, ``optimizer="e2e"``), and the set-up of one run.
KERNEL_MADDS_PER_SECOND = 2e9
COMPILED_STEP_SECONDS = 1e-6
PYTHON_STEP_SECONDS = 2e-4
RUN_SECONDS = 3e-4
#: Scale of the balanced init: the shared end-to-end start W_e has iid
#: N(0, scale^2) entries (so ||W_e||_F is about scale * sqrt(d_0 d_N)).
BALANCED_SCALE = 1e-2


def arch_name(hidden) -> str:
    """``(10, 10) -> "[10,10]"``, ``() -> "[]"``."""
    return "[" + ",".join(str(int(h)) for h in hidden) + "]"


def parse_hidden(text) -> tuple:
    """``"[10,10]"``, ``"10,10"``, ``"10 10"`` or ``"[]"`` -> ``(10, 10)`` / ``()``.

    Raises
    ------
    ValueError
        Naming ``hidden`` and the text, if it is not a list of positive integers.
    """
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        body = str(text).strip()
        if body.startswith("[") and body.endswith("]"):
            body = body[1:-1]
        items = [s for s in body.replace(",", " ").split()]
    widths = []
    for item in items:
        try:
            width = int(item)
            if isinstance(item, float) and width != item:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(
                f"hidden: expected a list of positive integer widths such as [10,10] or [], "
                f"got {text!r}") from None
        if width < 1:
            raise ValueError(f"hidden: widths must be >= 1, got {text!r}")
        widths.append(width)
    return tuple(widths)


def _as_names(value, what, allowed, normalize=str.lower):
    values = [value] if isinstance(value, str) else list(value)
    if not values:
        raise ValueError(f"{what}: expected at least one name, got none")
    names = []
    for v in values:
        if not isinstance(v, str):
            raise ValueError(f"{what}: expected a name, got {v!r}")
        name = normalize(v)
        if allowed is not None and name not in allowed:
            raise ValueError(f"{what}: unknown {v!r}; expected one of {sorted(allowed)}")
        names.append(name)
    return tuple(dict.fromkeys(names))


def _init_name(name):
    return name.lower().replace("-", "_")


def _loss_name(name):
    """``name`` lowercased, if the losses accept it (their own check: ``get_loss``)."""
    from ..losses import get_loss

    get_loss(name)
    return name.lower()


def _as_positive_floats(values, what):
    values = [values] if np.isscalar(values) else list(values)
    if not values:
        raise ValueError(f"{what}: expected at least one value")
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: expected positive numbers, got {v!r}") from None
        if not np.isfinite(f) or f <= 0:
            raise ValueError(f"{what}: expected positive numbers, got {v!r}")
        out.append(f)
    return tuple(dict.fromkeys(out))


def _as_seeds(values):
    values = [values] if np.isscalar(values) else list(values)
    if not values:
        raise ValueError("seeds: expected at least one seed")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"seeds: expected non-negative integers, got {v!r}")
    return tuple(dict.fromkeys(int(v) for v in values))


def _data_arrays(data):
    if isinstance(data, tuple) and len(data) == 2:
        X, Y = data
        return np.asarray(X, dtype=float), np.asarray(Y, dtype=float), {"name": "data"}
    if hasattr(data, "X") and hasattr(data, "Y"):
        info = {"name": getattr(data, "name", "data")}
        return data.X, data.Y, info
    raise ValueError(f"data: expected a Dataset or an (X, Y) tuple, got {type(data).__name__}")


@dataclass(frozen=True)
class _Task:
    """Runs of one (arch, init, optimizer, loss, seed): one per lr of ``lrs``."""

    first_run: int
    hidden: tuple
    init: str
    optimizer: str
    loss: str
    seed: int
    lrs: tuple
    steps: int
    record_every: int
    weight_decay: float
    divergence_factor: float
    optimizer_options: tuple


def starting_factors(hidden, init, seed, d0, dN) -> list:
    """The starting factors of a grid's runs, a function of (arch, init, seed) only.

    For the balanced init the end-to-end matrix is drawn first from the seed
    (iid N(0, ``BALANCED_SCALE``^2) entries), so every architecture starts
    from the same ``W_e`` and differences between depths come from the
    dynamics alone. A tutorial that continues or re-runs one of a grid's
    runs starts from here.

    Parameters
    ----------
    hidden : sequence of int
    init : str
        A name of ``deeplinear.init.INITIALIZERS``.
    seed : int
    d0, dN : int
        Input and output dimensions of the data.

    Returns
    -------
    list of ndarray, shape (d_j, d_{j-1})
    """
    dims = [int(d0), *parse_hidden(hidden), int(dN)]
    init = _as_names(init, "init", set(INITIALIZERS), _init_name)[0]
    rng = np.random.default_rng(seed)
    if init == "balanced":
        W_e = balanced([dims[0], dims[-1]], scale=BALANCED_SCALE, rng=rng)[0]
        return balanced(dims, rng=rng, end_to_end=W_e)
    return make_factors(init, dims, rng=rng)


def _start(task, d0, dN):
    """Starting factors of a task (see :func:`starting_factors`)."""
    return starting_factors(task.hidden, task.init, task.seed, d0, dN)


def validate_grid(*, hidden, init, optimizer, loss, steps, lrs, seeds, weight_decay=0.0):
    """The values of a grid, normalized, before any run starts.

    Takes the keywords of :func:`grid_search` that describe the grid (a
    preset's grid, with the command line's overrides, is one). Raises a
    ``ValueError`` naming the first bad value.

    Returns
    -------
    dict
        ``hidden`` (tuple of tuple of int, duplicates dropped), ``init``,
        ``optimizer``, ``loss`` (tuples of lower-case names), ``steps``
        (int), ``lrs`` (tuple of float), ``seeds`` (tuple of int) and
        ``weight_decay`` (float).
    """
    archs = tuple(dict.fromkeys(parse_hidden(h) for h in hidden))
    if not archs:
        raise ValueError("hidden: expected at least one architecture")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
    if not (isinstance(weight_decay, (int, float, np.floating)) and weight_decay >= 0):
        raise ValueError(f"weight_decay: expected a number >= 0, got {weight_decay!r}")
    return {
        "hidden": archs,
        "init": _as_names(init, "init", set(INITIALIZERS), _init_name),
        "optimizer": _as_names(optimizer, "optimizer", set(GRID_OPTIMIZERS)),
        "loss": _as_names(loss, "loss", None, _loss_name),
        "steps": int(steps),
        "lrs": _as_positive_floats(lrs, "lrs"),
        "seeds": _as_seeds(seeds),
        "weight_decay": float(weight_decay),
    }



def step_cost(dims, n, loss, optimizer, compiled=True) -> float:
    """Estimated seconds of one training step of a net with ``dims`` on ``n`` samples.

    The multiply-adds of one compiled step: the chain products and factor
    gradients, ``3 k sum_j d_j d_{j-1}`` with ``k = min(d_0, d_N)``; the loss,
    ``k d_0^2`` for l2 (from the moments ``X^T X / n``) or ``3 n d_0 d_N``
    for another loss (a pass over the data, the powers included); the
    update, ``P`` for SGD and ``20 P`` for the adaptive rules (a square root
    and a division per entry). At
    ``KERNEL_MADDS_PER_SECOND``, plus ``COMPILED_STEP_SECONDS``; a Python
    loop (``compiled=False``, or ``optimizer="e2e"``) adds
    ``PYTHON_STEP_SECONDS`` per step instead.
    """
    d0, dN = dims[0], dims[-1]
    k = min(d0, dN)
    P = sum(a * b for a, b in zip(dims[1:], dims[:-1]))
    madds = 3 * k * P + (20 if optimizer in ("adam", "adagrad", "adadelta") else 1) * P
    madds += k * d0 * d0 if loss == "l2" else 3 * n * d0 * dN
    python = not compiled or optimizer == "e2e"
    return madds / KERNEL_MADDS_PER_SECOND + (PYTHON_STEP_SECONDS if python
                                               else COMPILED_STEP_SECONDS)


def estimate_seconds(tasks, n, d0, dN, compiled=True) -> float:
    """Estimated compute of ``tasks`` on one core: steps x step cost, plus a set-up per run.

    An upper bound in the sense that a run that diverges stops early. Used
    to choose between running a grid serially and on an executor (see
    ``SERIAL_BELOW_SECONDS``).
    """
    total = 0.0
    for t in tasks:
        cost = step_cost([d0, *t.hidden, dN], n, t.loss, t.optimizer, compiled)
        total += len(t.lrs) * (t.steps * cost + RUN_SECONDS)
    return total


def _compiled_available() -> bool:
    from .. import _compiled  # without the kernels, this imports neither them nor numba

    return _compiled.available()


def _run_task(task, X, Y):
    """Train every lr of ``task``; return ``(rows, curves)`` in lr order.

    If training raises, every run of the task is a failed row (with the
    error's type and message) and an empty curve: the sweep goes on, and
    the table and ``summary.json`` say which runs failed and why.
    """
    try:
        factors = _start(task, X.shape[1], Y.shape[1])
        objective = Objective(X, Y, task.loss, task.weight_decay)  # shared by the lrs
        # The lrs in lockstep (one pass over the data per step for l4); each run
        # is the same, bit for bit, as alone.
        histories = train_lrs(objective, factors, optimizer=task.optimizer, lrs=task.lrs,
                              steps=task.steps, record_every=task.record_every,
                              divergence_factor=task.divergence_factor,
                              **dict(task.optimizer_options))
    except Exception as exc:
        return _failed_task(task, exc)
    rows, curves = [], []
    for k, (lr, h) in enumerate(zip(task.lrs, histories)):
        rows.append({**_row(task, k, lr), "final_loss": h.final_loss, "diverged": h.diverged,
                     "failed": False, "error": "", "steps_run": int(h.steps[-1]),
                     "seconds": h.seconds})
        curves.append((h.steps, h.loss))
    return rows, curves


def _row(task, k, lr):
    options = ", ".join(f"{key}={value!r}" for key, value in task.optimizer_options)
    return {"run": task.first_run + k, "arch": arch_name(task.hidden), "hidden": task.hidden,
            "depth": len(task.hidden) + 1, "init": task.init, "optimizer": task.optimizer,
            "options": options, "loss": task.loss, "lr": lr, "seed": task.seed}


def _failed_task(task, exc):
    """The ``(rows, curves)`` of a task whose training raised ``exc``: every
    run failed, with an infinite final loss (never a best lr) and no curve."""
    error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    rows = [{**_row(task, k, lr), "final_loss": math.inf, "diverged": False, "failed": True,
             "error": error, "steps_run": 0, "seconds": 0.0} for k, lr in enumerate(task.lrs)]
    curves = [(np.zeros(0, dtype=np.int64), np.zeros(0)) for _ in task.lrs]
    return rows, curves


def grid_search(data, *, hidden=((),), init="default", optimizer="sgd", loss="l2", steps=100,
                lrs=REPORT_LRS, seeds=(0, 1, 2), weight_decay=0.0, record_every=None,
                divergence_factor=1e6, optimizer_options=None, executor=None,
                progress=False, serial_below=SERIAL_BELOW_SECONDS):
    """Train every combination and keep all the curves.

    Parameters
    ----------
    data : Dataset or tuple (X, Y)
        ``X`` of shape (n, d_0), ``Y`` of shape (n, d_N).
    hidden : sequence of sequence of int
        Architectures as hidden widths; ``[]`` is depth 1 (linear regression).
        Strings such as ``"[10,10]"`` are parsed.
    init, optimizer, loss : str or sequence of str
        Names; a sequence makes a grid over them. ``init`` is one of
        ``deeplinear.init.INITIALIZERS`` (``-`` may stand for ``_``);
        ``optimizer`` one of "sgd", "adam", "adagrad", "adadelta", "e2e".
    steps : int
    lrs : sequence of float
        The learning-rate grid (default: the report's). The lrs of one
        (architecture, init, optimizer, loss, seed) start from the same
        factors and run in lockstep (``deeplinear.train.train_lrs``); each run
        is the same, bit for bit, as alone.
    seeds : sequence of int
        One repeat per seed; the seed fixes the starting factors.
    weight_decay : float
    record_every : int, optional
        Default: every step up to 1000 steps, else ``steps // 1000``.
    divergence_factor : float
        A run whose loss exceeds this times its initial loss is diverged.
    optimizer_options : dict, optional
        Passed to every run's optimizer.
    executor : concurrent.futures.Executor, optional
        Runs the tasks (one per arch, init, optimizer, loss and seed). None
        runs them here, one after the other.
    progress : bool
        Show a tqdm progress bar over the runs.
    serial_below : float
        Run here, without the executor, when the grid's estimated compute
        (``estimate_seconds``) is below this many seconds (default
        ``SERIAL_BELOW_SECONDS``, 1 s): a pool would cost more than it saves.
        0 always uses the executor. The results are the same either way.

    Returns
    -------
    Results
    """
    grid = dict(hidden=hidden, init=init, optimizer=optimizer, loss=loss, steps=steps, lrs=lrs,
                seeds=seeds, weight_decay=weight_decay, record_every=record_every,
                divergence_factor=divergence_factor, optimizer_options=optimizer_options)
    return run_grids(data, [grid], executor=executor, progress=progress,
                     serial_below=serial_below)


#: The keywords of :func:`grid_search` that describe a grid (what a preset's grid holds).
GRID_KEYS = ("hidden", "init", "optimizer", "loss", "steps", "lrs", "seeds", "weight_decay",
             "record_every", "divergence_factor", "optimizer_options")
_GRID_DEFAULTS = dict(hidden=((),), init="default", optimizer="sgd", loss="l2", steps=100,
                      lrs=REPORT_LRS, seeds=(0, 1, 2), weight_decay=0.0, record_every=None,
                      divergence_factor=1e6, optimizer_options=None)


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
    """
    from .results import Results

    X, Y, info = _data_arrays(data)
    grids = list(grids)
    if not grids:
        raise ValueError("grids: expected at least one grid")
    plans = [check_grid(grid) for grid in grids]
    combos = sum(len(p["combos"]) for p in plans)
    if executor is not None and serial_below > 0:
        whole = [t for p in plans for t in _tasks(p, chunk=None)]
        if estimate_seconds(whole, X.shape[0], X.shape[1], Y.shape[1],
                            compiled=_compiled_available()) < serial_below:
            executor = None  # a small grid: the executor would cost more than it saves
    # Few combinations (a one-seed paper grid): one task per lr, so that the
    # workers of an executor share the load. Runs do not depend on the split.
    split = executor is not None and combos < MIN_TASKS
    tasks = [_tasks(p, chunk=1 if split else None) for p in plans]

    start = time.perf_counter()
    data_refs = (X, Y)
    if executor is not None:
        warm_up = functools.partial(_warm_up, losses=sorted({lo for p in plans for lo in p["loss"]}),
                                    optimizers=sorted({o for p in plans for o in p["optimizer"]}))
        warm_up(X, Y)
        data_refs = cluster.prepare(executor, X, Y, warm_up)  # a Dask cluster: sent once
    flat = [t for part in tasks for t in part]
    outputs = _execute(flat, *data_refs, executor, progress,
                       shape=(X.shape[0], X.shape[1], Y.shape[1]))
    seconds = time.perf_counter() - start
    parts, at = [], 0
    for plan, part in zip(plans, tasks):
        done, at = outputs[at:at + len(part)], at + len(part)
        rows = [row for task_rows, _ in done for row in task_rows]
        curves = [curve for _, task_curves in done for curve in task_curves]
        config = {"dataset": info["name"], "n": int(X.shape[0]), "d_in": int(X.shape[1]),
                  "d_out": int(Y.shape[1]), "steps": plan["steps"], "lrs": list(plan["lrs"]),
                  "seeds": list(plan["seeds"]), "weight_decay": plan["weight_decay"],
                  "record_every": plan["record_every"]}
        if plan["options"]:
            config["optimizer_options"] = dict(plan["options"])
        parts.append(Results(pd.DataFrame(rows), curves, config, seconds=0.0))
    results = parts[0] if len(parts) == 1 else Results.concat(parts)
    results.seconds = seconds  # wall time of all the grids together
    return results


def check_grid(grid) -> dict:
    """A grid (a dict of keywords from ``GRID_KEYS``, e.g. a preset's), checked
    and normalized before any run, with its (arch, init, optimizer, loss,
    seed) combinations under ``"combos"``. Raises a ``ValueError`` naming
    the first bad value or unknown key."""
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise ValueError(f"grid: unknown keys {unknown}; expected some of {list(GRID_KEYS)}")
    return _plan({**_GRID_DEFAULTS, **grid})


def _plan(grid):
    plan = validate_grid(**{k: grid[k] for k in ("hidden", "init", "optimizer", "loss", "steps",
                                                 "lrs", "seeds", "weight_decay")})
    record_every = grid["record_every"]
    if record_every is None:
        record_every = max(1, plan["steps"] // 1000)
    elif (isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer))
          or record_every < 1):
        raise ValueError(f"record_every: expected an integer >= 1, got {record_every!r}")
    options = grid["optimizer_options"] or {}
    if not isinstance(options, dict):
        raise ValueError(f"optimizer_options: expected a dict, got {options!r}")
    factor = grid["divergence_factor"]
    if (isinstance(factor, bool) or not isinstance(factor, (int, float, np.floating))
            or not factor > 0 or not np.isfinite(factor)):
        raise ValueError(f"divergence_factor: expected a finite number > 0, got {factor!r}")
    plan.update(record_every=int(record_every), options=tuple(sorted(options.items())),
                divergence_factor=float(factor))
    plan["combos"] = list(itertools.product(plan["hidden"], plan["init"], plan["optimizer"],
                                            plan["loss"], plan["seeds"]))
    return plan


def _tasks(plan, chunk):
    """The tasks of a plan: ``chunk`` lrs each (None: all of them)."""
    lrs = plan["lrs"]
    chunk = chunk or len(lrs)
    tasks, first = [], 0
    for arch, ini, opt, lo, seed in plan["combos"]:
        for i in range(0, len(lrs), chunk):
            tasks.append(_Task(first, arch, ini, opt, lo, seed, lrs[i:i + chunk], plan["steps"],
                               plan["record_every"], plan["weight_decay"],
                               plan["divergence_factor"], plan["options"]))
            first += len(lrs[i:i + chunk])
    return tasks


def _warm_up(X, Y, losses, optimizers):
    """Compile (or load) the kernels here, once, before an executor starts.

    Worker processes forked after this inherit the compiled code instead of
    each compiling it again (several seconds each on first use) or loading
    it from the cache (about 0.4 s each, mostly numba's own set-up). One
    compiled loop serves every depth and optimizer, so one one-step run per
    loss (and per optimizer, for "e2e" and the Python loop) is enough; on a first
    run, ``deeplinear._compiled`` says on stderr that it compiles. Without
    the kernels (a student release) there is nothing to compile: these
    one-step runs take the NumPy loop, like the grid's, and cost a few
    milliseconds.
    """
    for loss in losses:
        # The whole data: the loop's kind of Data (moments or a pass) depends on its shape.
        objective = Objective(X, Y, loss)
        for opt in optimizers:
            factors = [np.zeros((2, X.shape[1])), np.zeros((Y.shape[1], 2))]
            train_objective(objective, factors, optimizer=opt, lr=1e-3, steps=1)


def _execute(tasks, X, Y, executor, progress, shape=None):
    """Run ``tasks`` here or on ``executor``; their outputs in the tasks' order.

    ``X, Y`` may be references to data already on the workers
    (``cluster.prepare``); ``shape`` is then ``(n, d_0, d_N)``.
    """
    from tqdm.auto import tqdm

    _shape = shape or (X.shape[0], X.shape[1], Y.shape[1])

    total = sum(len(t.lrs) for t in tasks)
    with tqdm(total=total, unit="run", disable=not progress, leave=False) as bar:
        if executor is None:
            outputs = []
            for task in tasks:
                outputs.append(_run_task(task, X, Y))
                bar.update(len(task.lrs))
            return outputs
        order = sorted(range(len(tasks)),  # the longest first; stable for equal costs
                       key=lambda i: -estimate_seconds([tasks[i]], *_shape))
        futures = {i: executor.submit(_run_task, tasks[i], X, Y) for i in order}
        size = {f: len(tasks[i].lrs) for i, f in futures.items()}
        for f in as_completed(list(futures.values())):
            bar.update(size[f])
        outputs = []
        for i, task in enumerate(tasks):  # the tasks' order
            try:
                outputs.append(futures[i].result())
            except Exception as exc:  # the worker was lost for good (a crash, not a run's error)
                outputs.append(_failed_task(task, exc))
        return outputs
