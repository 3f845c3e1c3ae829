"""Presets on built-in problems: deep matrix factorization and learning in stages.

Two presets of the main command need no data set: they make their problems
from their seeds.

``dmf-completion`` (Arora, Cohen, Hu & Luo, 2019; tutorial 12)
    A 30 x 30 rank-2 ground truth (``completion.low_rank_matrix``) seen on
    ``m`` of its entries, for each ``m`` of ``samples``; gradient descent on
    ``W_N ... W_1`` from a balanced start whose ``W_e`` has entries of std
    ``scale``, for each scale and architecture, on the compiled loop. Each
    run also reports the error on the unobserved entries, the effective rank
    and the nuclear norm of its ``W_e``; each problem, the minimum-nuclear-norm
    completion's error (``nuclear.soft_impute_path``, tutorial 12's settings).
``saxe-modes`` (Saxe, McClelland & Ganguli, 2014; tutorial 13)
    Whitened inputs (d_in 4) and a target (d_out 3) of singular values
    ``MODES_S``; gradient descent from the aligned balanced start of strength
    ``scale`` (``modes.aligned_start``). Each run reports, per mode, the
    largest gap between its strength and the gradient flow's
    (``modes.mode_curve``), and the first recorded time at or above half its
    target against the flow's (``modes.plateau_time``).

The problems are tutorial 12's and 13's, drawn the same way from the seeds.
A configuration (``configuration.Configuration``) is an architecture, an
init naming the scale, and a loss naming the problem (``"completion m=300"``),
so ``Results`` picks each configuration's best lr by final loss, as for any
grid, and writes the usual files; the extra columns are in ``runs.csv``.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings

import numpy as np
import pandas as pd

from .. import completion, init, modes, nuclear, spectral
from ..network import end_to_end
from ..objective import Objective
from ..run_settings import RunSettings
from ..train import train_lrs
from .configuration import Configuration
from .execution import Interrupted, execute
from .results import RUN_COLUMNS, Results
from .spec import GRID_OPTIMIZERS, arch_name, parse_hidden

__all__ = ["ProblemPreset", "PROBLEM_PRESETS", "ProblemTask", "completion_problem",
           "completion_start", "simulate_modes", "run_problem_task", "run_problem_preset",
           "problem_table"]

COMPLETION_SIZE, COMPLETION_RANK = 30, 2
#: Tutorial 12's Soft-Impute path: 10 lambdas down to 1e-5 lambda_max.
SOFT_IMPUTE = {"n_lams": 10, "lam_min_ratio": 1e-5, "tol": 1e-7, "max_iter": 5000}
MODES_S, MODES_D_IN, MODES_D_OUT = (3.0, 1.0, 0.3), 4, 3
#: Record the modes every this much time t = lr * step.
MODES_RECORD = 0.1
CURVE_POINTS = 200  # about this many recorded losses per run


@dataclasses.dataclass(frozen=True)
class ProblemPreset:
    """A preset on a built-in problem: its kind and its grid.

    Attributes
    ----------
    name, description : str
    kind : {"completion", "modes"}
    hidden : tuple of tuple of int
        Architectures, as hidden widths.
    scales : tuple of float
        Start scales: the std of ``W_e``'s entries (completion) or the modes'
        strength ``a_0`` (modes).
    samples : tuple of int
        Observed entries ``m`` (completion; empty for modes).
    steps : int
    lrs, seeds : tuple
    optimizer : str
    weight_decay : float
    """

    name: str
    description: str
    kind: str
    hidden: tuple
    scales: tuple
    samples: tuple
    steps: int
    lrs: tuple
    seeds: tuple
    optimizer: str = "sgd"
    weight_decay: float = 0.0

    def with_overrides(self, **overrides) -> ProblemPreset:
        """A copy with every given (non-None) field replaced and checked; an option
        that does not apply to this kind of problem (``init``, ``loss``) is an error."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        for key in ("init", "loss"):
            if key in overrides:
                raise ValueError(f"{key}: does not apply to the {self.name} preset, whose "
                                 f"problem fixes it ({'scales' if key == 'init' else 'its loss'})")
        optimizer = overrides.get("optimizer")
        if isinstance(optimizer, (list, tuple)):  # the command's --optimizer takes several
            if len(optimizer) != 1:
                raise ValueError(f"optimizer: the {self.name} preset runs one optimizer, got "
                                 f"{list(optimizer)}")
            overrides["optimizer"] = optimizer[0]
        changed = dataclasses.replace(self, **{k: tuple(v) if isinstance(v, list) else v
                                               for k, v in overrides.items()})
        return changed.checked()

    def checked(self) -> ProblemPreset:
        """This preset, every value checked (``ValueError`` naming the option)."""
        hidden = tuple(dict.fromkeys(parse_hidden(h) for h in self.hidden))
        if self.optimizer not in GRID_OPTIMIZERS or self.optimizer == "e2e":
            raise ValueError(f"optimizer: expected one of sgd, adam, adagrad, adadelta, got "
                             f"{self.optimizer!r}")
        if self.kind == "modes":
            if self.optimizer != "sgd":
                raise ValueError(f"optimizer: the {self.name} preset compares gradient descent "
                                 f"with the gradient flow; expected sgd, got {self.optimizer!r}")
            if self.weight_decay:
                raise ValueError(f"weight_decay: the {self.name} preset's flow has none; "
                                 f"expected 0, got {self.weight_decay}")
            for h in hidden:
                if len(h) < 1 or min(h) < len(MODES_S):
                    raise ValueError(f"hidden: {arch_name(h)}: the {self.name} preset needs "
                                     f"depth >= 2 and widths >= {len(MODES_S)} (its modes)")
        RunSettings(optimizer=self.optimizer, steps=self.steps)  # checks steps
        if not self.lrs or not self.seeds or not self.scales:
            raise ValueError("lrs, seeds and scales: expected at least one each")
        return dataclasses.replace(self, hidden=hidden, lrs=tuple(dict.fromkeys(self.lrs)),
                                   seeds=tuple(dict.fromkeys(self.seeds)))

    @property
    def dataset(self) -> str:
        if self.kind == "completion":
            return f"completion {COMPLETION_SIZE}x{COMPLETION_SIZE} rank {COMPLETION_RANK}"
        return f"whitened modes s={'/'.join(f'{s:g}' for s in MODES_S)}"

    def tasks(self) -> list:
        """One task per (problem, architecture, scale, seed), runs numbered in order."""
        out, first = [], 0
        for m in (self.samples if self.kind == "completion" else (None,)):
            for hidden in self.hidden:
                for scale in self.scales:
                    for seed in self.seeds:
                        loss = f"completion m={m}" if m is not None else "l2"
                        start = "balanced" if m is not None else "aligned"
                        config = Configuration(hidden=hidden, init=f"{start} {scale:g}",
                                               optimizer=self.optimizer, loss=loss,
                                               weight_decay=float(self.weight_decay))
                        # The first architecture and scale of each problem also solves
                        # its nuclear-norm baseline.
                        baseline = m is not None and hidden == self.hidden[0] \
                            and scale == self.scales[0]
                        out.append(ProblemTask(self.kind, config, seed, self.lrs, first, m,
                                               scale, self.steps, baseline))
                        first += len(self.lrs)
        return out


@dataclasses.dataclass(frozen=True)
class ProblemTask:
    """The runs of one configuration and seed at every lr (``run_problem_task``)."""

    kind: str
    config: Configuration
    seed: int
    lrs: tuple
    first_run: int
    m: int | None
    scale: float
    steps: int
    baseline: bool = False


def completion_problem(seed, m, weight_decay=0.0, size=COMPLETION_SIZE, rank=COMPLETION_RANK):
    """Tutorial 12's problem: ``(target, mask, objective)``, a ``size`` x ``size``
    rank-``rank`` W* from the seed only (the same at every m), Omega of m entries
    from (seed, m)."""
    shape = (size, size)
    target = completion.low_rank_matrix(shape, rank, rng=np.random.default_rng([seed, 1]))
    mask = completion.sample_entries(shape, m, rng=np.random.default_rng([seed, 2, m]))
    return target, mask, completion.CompletionObjective(target, mask, weight_decay)


def completion_start(hidden, seed, scale, size=COMPLETION_SIZE):
    """Tutorial 12's start: balanced factors ``[size, *hidden, size]`` whose ``W_e``
    has N(0, scale^2) entries, from (seed, 3): one W_e for every architecture."""
    dims = [size, *hidden, size]
    return init.balanced(dims, scale=scale, rng=np.random.default_rng([seed, 3]))


def simulate_modes(factors, problem, *, lr, steps, every):
    """Plain gradient descent (l2) on a ``modes.WhitenedProblem`` from ``factors``,
    read in mode coordinates every ``every`` steps (tutorial 13, the tests and
    ``saxe-modes`` share it).

    Returns
    -------
    times : ndarray, shape (T,)
        ``lr * step`` at each record, 0 first.
    sigma : ndarray, shape (T, r)
        Mode strengths ``diag(U^T W_e V)`` (``modes.mode_strengths``).
    off : ndarray, shape (T,)
        ``||W_e - U diag(sigma) V^T||_F``.
    run : spectral.SpectrumTrajectory
        The run (``diverged``, ``loss``, ``steps``, ...).
    """
    run = spectral.spectrum_trajectory(factors, Objective(problem.X, problem.Y, "l2"), lr=lr,
                                       steps=steps, every=every)
    sigma, off = modes.mode_strengths(run.W_e, problem)
    return lr * run.steps.astype(float), sigma, off, run


def run_problem_task(task, X=None, Y=None):
    """Train every lr of ``task``; ``(rows, curves)`` as ``execution.run_task``'s,
    with the problem's own columns. ``X`` and ``Y`` are unused (the problem comes
    from the task), so ``execution.execute`` runs these tasks as it runs a grid's."""
    every = max(1, task.steps // CURVE_POINTS)
    rows, curves = [], []
    if task.kind == "completion":
        target, mask, objective = completion_problem(task.seed, task.m,
                                                     task.config.weight_decay)
        start = completion_start(task.config.hidden, task.seed, task.scale)
        histories = train_lrs(start, objective, lrs=list(task.lrs), steps=task.steps,
                              optimizer=task.config.optimizer, record_every=every)
        baseline = math.nan
        if task.baseline:
            with warnings.catch_warnings():  # a few solves of the path stop at max_iter
                warnings.simplefilter("ignore", RuntimeWarning)
                Z = nuclear.soft_impute_path(target, mask, **SOFT_IMPUTE)[-1].matrix
            baseline = spectral.unobserved_error(Z, target, mask)
        for lr, h in zip(task.lrs, histories):
            W_e = end_to_end(h.final_factors)
            ok = not h.diverged and np.all(np.isfinite(W_e))
            extra = {"m": task.m, "scale": task.scale,
                     "unobserved_error": spectral.unobserved_error(W_e, target, mask)
                     if ok else math.nan,
                     "effective_rank": spectral.effective_rank(W_e) if ok else math.nan,
                     "nuclear_norm": spectral.nuclear_norm(W_e) if ok else math.nan,
                     "nuclear_baseline_error": baseline}
            rows.append(_row(task, lr, h.final_loss, h.diverged, int(h.steps[-1]),
                             h.seconds, extra))
            curves.append((h.steps, h.loss))
        return rows, curves
    problem = modes.whitened_problem(MODES_S, MODES_D_IN, MODES_D_OUT, rng=task.seed)
    start = modes.aligned_start(problem, list(task.config.hidden), task.scale, rng=task.seed)
    depth = len(task.config.hidden) + 1
    for lr in task.lrs:
        began = time.perf_counter()
        times, sigma, _, run = simulate_modes(start, problem, lr=lr, steps=task.steps,
                                              every=max(1, round(MODES_RECORD / lr)))
        flow = modes.mode_curve(times, problem.s, task.scale, depth, problem.c)
        predicted = modes.plateau_time(problem.s, task.scale, depth, problem.c)
        extra = {"scale": task.scale}
        for i, s in enumerate(problem.s):
            reached = np.nonzero(sigma[:, i] >= s / 2)[0]
            extra[f"mode{i + 1}_gap"] = float(np.max(np.abs(sigma[:, i] - flow[:, i])))
            extra[f"mode{i + 1}_t_half"] = float(times[reached[0]]) if reached.size else math.nan
            extra[f"mode{i + 1}_t_half_flow"] = float(predicted[i])
        final = float(run.loss[-1]) if not run.diverged else math.inf
        rows.append(_row(task, lr, final, run.diverged, int(run.steps[-1]),
                         time.perf_counter() - began, extra))
        curves.append((run.steps, run.loss))
    return rows, curves


def _row(task, lr, final, diverged, steps_run, seconds, extra):
    k = task.lrs.index(lr)
    return {"run": task.first_run + k, **task.config.columns(), "lr": lr, "seed": task.seed,
            "final_loss": final if not diverged else math.inf, "diverged": bool(diverged),
            "failed": False, "error": "", "steps_run": steps_run, "seconds": seconds, **extra}


def run_problem_preset(preset, executor=None, progress=False) -> Results:
    """Run a :class:`ProblemPreset` (checked): its tasks here or on ``executor``.

    ``progress``: a progress bar (tqdm) if true. Ctrl-C raises
    ``execution.Interrupted`` with the results of the tasks that finished.
    """
    tasks, done, bar = preset.tasks(), {}, None
    if preset.kind == "completion" and executor is not None:
        # Compile (or load) the completion kernels here, once, before the workers fork.
        _, _, warm = completion_problem(0, 4)
        train_lrs([np.zeros((1, COMPLETION_SIZE)), np.zeros((COMPLETION_SIZE, 1))], warm,
                  lrs=[1.0], steps=1)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(len(t.lrs) for t in tasks), unit="run", leave=False)
    start = time.perf_counter()
    try:
        execute(tasks, None, None, executor, progress=bar.update if bar else None, done=done,
                run=run_problem_task)
    except KeyboardInterrupt:
        results = _assemble(preset, tasks, done, incomplete=True)
        results.seconds = time.perf_counter() - start
        raise Interrupted(results) from None
    finally:
        if bar is not None:
            bar.close()
    results = _assemble(preset, tasks, done)
    results.seconds = time.perf_counter() - start
    return results


def _assemble(preset, tasks, done, incomplete=False):
    outputs = [done[i] for i in range(len(tasks)) if i in done]
    rows = [row for task_rows, _ in outputs for row in task_rows]
    curves = [curve for _, task_curves in outputs for curve in task_curves]
    runs = pd.DataFrame(rows)
    if not len(runs):
        runs = pd.DataFrame(columns=RUN_COLUMNS)
    runs = runs.assign(run=range(len(runs)))
    if preset.kind == "completion" and len(runs):  # each problem's baseline on all its rows
        solved = runs[runs["nuclear_baseline_error"].notna()]
        baseline = solved.groupby(["m", "seed"])["nuclear_baseline_error"].first()
        runs["nuclear_baseline_error"] = [baseline.get((m, s), math.nan)
                                          for m, s in zip(runs["m"], runs["seed"])]
    d = COMPLETION_SIZE if preset.kind == "completion" else MODES_D_IN
    config = {"dataset": preset.dataset, "preset": preset.name, "kind": preset.kind,
              "n": d if preset.kind == "completion" else MODES_D_IN, "d_in": d,
              "d_out": COMPLETION_SIZE if preset.kind == "completion" else MODES_D_OUT,
              "steps": preset.steps, "lrs": list(preset.lrs), "seeds": list(preset.seeds),
              "scales": list(preset.scales), "samples": list(preset.samples)}
    if preset.kind == "modes":
        config["singular_values"] = list(MODES_S)
    if incomplete:
        config["incomplete"] = True
    return Results(runs, curves, config)


def problem_table(results) -> str:
    """The preset's own table: completion at each configuration's best lr (mean
    [min, max] over seeds); modes at every lr, with the gap's slope in lr."""
    best = results.best()
    if not len(best):
        return ""
    lines = []
    if results.config.get("kind") == "completion":
        lines.append("error on the unobserved entries at the best lr, mean [min, max] over "
                     "seeds; the minimum-nuclear-norm completion's below each m")
        for row in best.itertuples():
            at = results.runs.loc[row.run_ids]
            if not len(at):
                continue
            err = at["unobserved_error"]
            lines.append(f"  {row.loss:<18} depth {row.depth} {row.init:<16} "
                         f"{err.mean():.3g} [{err.min():.3g}, {err.max():.3g}]  effective rank "
                         f"{at['effective_rank'].mean():.2f}")
        for m, group in results.runs.groupby("m"):
            base = group.groupby("seed")["nuclear_baseline_error"].first()
            lines.append(f"  completion m={m:<7} nuclear norm {base.mean():.3g} "
                         f"[{base.min():.3g}, {base.max():.3g}]")
        return "\n".join(lines)
    lines.append("per mode and lr, mean over seeds: first recorded time t = lr * step at or "
                 "above s/2 (the flow's), and the largest gap to the flow; its slope in lr "
                 "(log-log; 1 = O(lr))")
    runs = results.runs[~results.runs["diverged"].astype(bool)]
    for_lr = runs.groupby(["depth", "lr"]).mean(numeric_only=True)
    for depth in sorted(runs["depth"].unique()):
        at = for_lr.loc[depth]
        for lr, row in at.sort_index(ascending=False).iterrows():
            cells = [f"s={s:g}: {row[f'mode{i}_t_half']:.3g} ({row[f'mode{i}_t_half_flow']:.3g}), "
                     f"gap {row[f'mode{i}_gap']:.1e}"
                     for i, s in enumerate(results.config["singular_values"], start=1)]
            lines.append(f"  depth {depth} lr {lr:g}: " + "; ".join(cells))
        if len(at) > 1:
            slopes = [np.polyfit(np.log(at.index), np.log(at[f"mode{i}_gap"]), 1)[0]
                      for i in range(1, len(results.config["singular_values"]) + 1)]
            lines.append(f"  depth {depth} slopes: " + ", ".join(f"{v:.2f}" for v in slopes))
    return "\n".join(lines)


PROBLEM_PRESETS = {p.name: p for p in [
    ProblemPreset(
        "dmf-completion", "Deep matrix factorization (Arora, Cohen, Hu & Luo 2019; tutorial "
        "12), no data set: a 30x30 rank-2 matrix seen on m = 200, 300, 450 entries; depths "
        "1-4 (widths 30) from balanced starts of std 1e-2 and 1e-6, GD at lrs 25, 50, 100, "
        "200, 1e4 steps, 3 seeds; error on the unobserved entries against the minimum "
        "nuclear norm.",
        "completion", hidden=((), (30,), (30, 30), (30, 30, 30)), scales=(1e-2, 1e-6),
        samples=(200, 300, 450), steps=10_000, lrs=(25.0, 50.0, 100.0, 200.0), seeds=(0, 1, 2)),
    ProblemPreset(
        "saxe-modes", "Learning in stages (Saxe, McClelland & Ganguli 2014; tutorial 13), no "
        "data set: whitened inputs and a target of singular values 3, 1, 0.3; depths 2-4 "
        "(widths 5) from the aligned start a0 = 1e-2, GD at lrs 0.02, 0.01, 0.005, 8000 "
        "steps, 3 seeds; each mode against the gradient flow.",
        "modes", hidden=((5,), (5, 5), (5, 5, 5)), scales=(1e-2,), samples=(), steps=8000,
        lrs=(0.02, 0.01, 0.005), seeds=(0, 1, 2)),
]}
