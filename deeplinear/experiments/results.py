"""What a grid search returns: every run, every curve, and the summaries built on them.

The best learning rate of a configuration (``configuration.KEY``: arch, init,
optimizer and its options, weight decay, loss) is the one with the lowest
final training loss averaged over seeds, among the
learning rates for which *no* seed diverged; a diverged run counts as an
infinite loss and is never picked. "Steps to target" is the first recorded
step at which that best curve (averaged over seeds) reaches the target of
its loss function: 1.1 times the best final loss of depth-1 gradient descent
(of depth 1 with any optimizer if the grid has no depth-1 gradient descent).

That is one criterion for an lr; the paper's is speed. ``Results.fastest``
picks, per configuration, the lr whose seeds reach the target in the fewest
steps (the mean over seeds of each seed's first recorded step at or below
it), and ``summary`` shows both.

``Results.write`` writes a folder (``FILES``) that ``Results.read`` loads back.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd

from .configuration import KEY
from .spec import parse_hidden

__all__ = ["Results", "TARGET_FACTOR", "RUN_COLUMNS", "FILES"]

#: A net "reaches the target" at 1.1x the best final loss of depth 1.
TARGET_FACTOR = 1.1
#: The columns of ``Results.runs``: the run's number, its configuration
#: (``configuration.Configuration.columns``), lr, seed and outcome.
RUN_COLUMNS = ("run", "arch", "hidden", "depth", "init", "optimizer", "options", "weight_decay",
               "loss", "lr", "seed", "final_loss", "diverged", "failed", "error", "steps_run",
               "seconds")
#: The files ``Results.write`` writes and ``Results.read`` reads.
FILES = ("runs.csv", "curves.csv", "summary.json", "curves.png")
# The dtypes of runs.csv (all its columns: RUN_COLUMNS but hidden, rebuilt from arch).
_RUNS_CSV = {"run": "int64", "arch": str, "depth": "int64", "init": str, "optimizer": str,
             "options": str, "weight_decay": "float64", "loss": str, "lr": "float64",
             "seed": "int64", "final_loss": "float64", "diverged": bool, "failed": bool,
             "error": str, "steps_run": "int64", "seconds": "float64"}


class Results:
    """Runs of a grid search.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per run, with the columns ``RUN_COLUMNS``: run, arch, hidden,
        depth, init, optimizer, options (the optimizer's options, "" for its
        defaults), weight_decay, loss, lr, seed, final_loss (inf if diverged
        or failed), diverged, failed (the run raised; it has no curve), error
        ("Type: message" of a failed run, else ""), steps_run, seconds.
    curves : list of (steps, loss) pairs of ndarray
        ``curves[run]``: the recorded steps and objective values of a run.
    config : dict
        The data set's name and shape and the grid's steps, lrs, seeds;
        ``"incomplete": True`` if the search was interrupted.
    seconds : float
        Wall time of the whole search.
    """

    def __init__(self, runs, curves, config, seconds=0.0):
        missing = [c for c in RUN_COLUMNS if c not in runs]
        if missing:
            raise ValueError(f"runs: missing the columns {missing}; expected {list(RUN_COLUMNS)}")
        self.runs = runs.reset_index(drop=True)
        self.curves = list(curves)
        self.config = dict(config)
        self.seconds = float(seconds)
        if len(self.runs) != len(self.curves) or list(self.runs["run"]) != list(
                range(len(self.runs))):
            raise ValueError("curves: expected one curve per run, the runs numbered 0, 1, ...")

    @classmethod
    def concat(cls, parts, config=None):
        """Join the results of several grids into one, renumbering the runs."""
        runs, curves, seconds = [], [], 0.0
        for part in parts:
            frame = part.runs.copy()
            frame["run"] = frame["run"] + len(curves)
            runs.append(frame)
            curves.extend(part.curves)
            seconds += part.seconds
        merged = dict(parts[0].config)
        for key in ("steps", "lrs", "seeds"):  # may differ between grids
            values = [p.config[key] for p in parts]
            merged[key] = values[0] if all(v == values[0] for v in values) else values
        merged.update(config or {})
        return cls(pd.concat(runs, ignore_index=True), curves, merged, seconds)

    def __repr__(self):
        return (f"Results({len(self.runs)} runs on {self.config.get('dataset')!r}, "
                f"{int(self.runs['diverged'].sum())} diverged"
                f"{', incomplete' if self.incomplete else ''})")

    @property
    def incomplete(self) -> bool:
        """Whether the search was interrupted: these are the runs that finished."""
        return bool(self.config.get("incomplete", False))

    # ------------------------------------------------------------------ curves
    def curves_frame(self) -> pd.DataFrame:
        """All curves in long format: one row per (run, recorded step).

        Columns: run, arch, depth, init, optimizer, options, weight_decay,
        loss (the loss function's name, as in ``runs``), lr, seed, step and
        value (the objective there).
        """
        lengths = [len(steps) for steps, _ in self.curves]
        ids = np.repeat(np.arange(len(self.curves)), lengths)  # run r: curve r
        columns = ["arch", "depth", "init", "optimizer", "options", "weight_decay", "loss", "lr",
                   "seed"]
        frame = self.runs.set_index("run").loc[ids, columns].reset_index()
        frame["step"] = np.concatenate([steps for steps, _ in self.curves]
                                       or [np.zeros(0, dtype=np.int64)])
        frame["value"] = np.concatenate([values for _, values in self.curves] or [np.zeros(0)])
        return frame

    def mean_curve(self, run_ids):
        """Steps, mean and min/max over the given (non-diverged) runs."""
        steps = self.curves[run_ids[0]][0]
        values = np.vstack([self.curves[r][1] for r in run_ids])
        return steps, values.mean(axis=0), values.min(axis=0), values.max(axis=0)

    # ---------------------------------------------------------------- summary
    @property
    def all_diverged(self) -> bool:
        """Whether there are runs and every one diverged."""
        return bool(len(self.runs)) and bool(self.runs["diverged"].all())

    def best(self, lrs=None) -> pd.DataFrame:
        """One row per configuration (``configuration.KEY``): its best lr and the runs at it.

        Parameters
        ----------
        lrs : sequence of float, optional
            Choose among these lrs only (default: all of the grid's).

        Returns
        -------
        pandas.DataFrame
            The columns of ``KEY``, depth, best_lr (NaN if every lr diverged
            or failed), run_ids (the runs at it, one per seed; empty if
            none), final_mean and final_std (over them), diverged and failed
            (counts over the configuration's runs), runs, and largest_lr (the
            largest lr of the configuration in the grid).
        """
        runs = self.runs if lrs is None else self.runs[self.runs["lr"].isin(list(lrs))]
        out = []
        for key, group in runs.groupby(list(KEY), sort=False):
            means = group.groupby("lr", sort=False)["final_loss"].mean()  # inf if a seed diverged
            ok = means[np.isfinite(means)]
            best_lr = float(ok.idxmin()) if len(ok) else math.nan
            chosen = group[group["lr"] == best_lr] if len(ok) else group.iloc[:0]
            out.append({**dict(zip(KEY, key)), "depth": int(group["depth"].iloc[0]),
                        "best_lr": best_lr, "run_ids": list(chosen["run"]),
                        "final_mean": float(chosen["final_loss"].mean()) if len(ok) else math.inf,
                        "final_std": float(chosen["final_loss"].std(ddof=0)) if len(ok)
                        else math.nan,
                        "diverged": int(group["diverged"].sum()),
                        "failed": int(group["failed"].sum()), "runs": len(group),
                        "largest_lr": float(group["lr"].max())})
        return pd.DataFrame(out, columns=[*KEY, "depth", "best_lr", "run_ids", "final_mean",
                                          "final_std", "diverged", "failed", "runs",
                                          "largest_lr"])

    def targets(self, best=None) -> dict:
        """Per loss: 1.1x the best final loss of depth-1 gradient descent ("sgd");
        without it, of depth 1 with any optimizer; without depth 1, of all."""
        best = self.best() if best is None else best
        targets = {}
        for loss, group in best.groupby("loss", sort=False):
            done = group[np.isfinite(group["final_mean"])]
            shallow = done[done["depth"] == 1]
            gd = shallow[shallow["optimizer"] == "sgd"]
            ref = gd if len(gd) else shallow if len(shallow) else done
            targets[loss] = TARGET_FACTOR * float(ref["final_mean"].min()) if len(ref) else None
        return targets

    def fastest(self, targets=None) -> pd.DataFrame:
        """Per configuration, the lr that reaches its loss's target in the fewest steps.

        Parameters
        ----------
        targets : dict, optional
            Loss name -> target value (default: :meth:`targets`).

        Returns
        -------
        pandas.DataFrame
            The columns of ``KEY``, fastest_lr (NaN if no lr brought every seed
            to the target), and at it fastest_steps (the mean over seeds of
            each seed's first recorded step at or below the target),
            fastest_min and fastest_max (over seeds), fastest_final (mean
            final loss).
        """
        targets = self.targets() if targets is None else targets
        out = []
        for key, group in self.runs.groupby(list(KEY), sort=False):
            target, choice = targets.get(group["loss"].iloc[0]), None
            for lr, at in group.groupby("lr", sort=True):
                if target is None or at["failed"].any():
                    continue
                steps = [self._first_step(run, target) for run in at["run"]]
                if None not in steps and (choice is None or np.mean(steps) < choice[1]):
                    choice = (lr, float(np.mean(steps)), min(steps), max(steps),
                              float(at["final_loss"].mean()))
            out.append({**dict(zip(KEY, key)),
                        **dict(zip(["fastest_lr", "fastest_steps", "fastest_min", "fastest_max",
                                    "fastest_final"], choice or (math.nan,) * 5))})
        return pd.DataFrame(out, columns=[*KEY, "fastest_lr", "fastest_steps", "fastest_min",
                                          "fastest_max", "fastest_final"])

    def _first_step(self, run, target):
        """The first recorded step of ``run`` at or below ``target``; None if never."""
        steps, values = self.curves[run]
        hit = np.nonzero(values <= target)[0]
        return int(steps[hit[0]]) if hit.size else None

    def summary(self) -> pd.DataFrame:
        """The table: ``best()`` (without run_ids) with, per configuration, the
        target of its loss, the steps its best curve took to reach it, and
        the columns of :meth:`fastest` (the other criterion for the lr)."""
        best = self.best()
        targets = self.targets(best)
        reach = []
        for row in best.itertuples():
            target = targets[row.loss]
            if not row.run_ids or target is None:
                reach.append(None)
                continue
            steps, mean, _, _ = self.mean_curve(row.run_ids)
            hit = np.nonzero(mean <= target)[0]
            reach.append(int(steps[hit[0]]) if hit.size else None)
        best["target"] = [targets[loss] for loss in best["loss"]]
        best["steps_to_target"] = pd.array(reach, dtype="Int64")
        fastest = self.fastest(targets)
        for column in fastest.columns[len(KEY):]:
            best[column] = fastest[column].to_numpy()  # the same groups, in the same order
        return best.drop(columns="run_ids")

    # -------------------------------------------------------------------- text
    def acceleration(self, summary=None) -> list:
        """One sentence per loss: did some deeper net reach the target sooner than depth 1?

        No verdict where a comparison means nothing: without depth 1 and a
        deeper net, when no depth-1 run converged, or when the fastest net
        of either side meets the target at step 0 (the horizon is too short
        for depth 1 to get below 1.1x its start), nor on ``problems.py``'s
        problems (``config["kind"]``), whose question is not speed.
        """
        from .report import acceleration

        if self.config.get("kind"):
            return []

        return acceleration(self, self.summary() if summary is None else summary)

    def format_table(self) -> str:
        """A plain-text table, one row per configuration, and the notes below it."""
        from .report import format_table

        return format_table(self)

    def failures(self) -> list:
        """The runs that raised: one dict each (run, arch, init, optimizer, loss,
        lr, seed, error), in run order; empty if none did."""
        failed = self.runs[self.runs["failed"].astype(bool)]
        keys = ["run", "arch", "init", "optimizer", "loss", "lr", "seed", "error"]
        return [{k: (v.item() if hasattr(v, "item") else v) for k, v in zip(keys, row)}
                for row in failed[keys].itertuples(index=False)]

    def failure_notes(self) -> list:
        """One line if some runs raised: how many, and the first one's error."""
        failures = self.failures()
        if not failures:
            return []
        f = failures[0]
        return [f"failed: {len(failures)} of {len(self.runs)} runs raised (first: {f['arch']}, "
                f"{f['optimizer']}, {f['loss']}, lr {f['lr']:g}, seed {f['seed']}: {f['error']}); "
                "they are listed in summary.json"]

    def edge_notes(self, summary=None) -> list:
        """Warn when best lrs (``best()``) are the largest of their grid: a larger one
        might do better."""
        best = self.best() if summary is None else summary
        best_lr = best["best_lr"].astype(float)
        at_edge = best[np.isfinite(best_lr) & (best_lr == best["largest_lr"])]
        if not len(at_edge):
            return []
        return [f"note: for {len(at_edge)} of {len(best)} configurations the best lr is the "
                "largest in the grid; a larger lr might do better."]

    # ------------------------------------------------------------------ files
    def write(self, out, title=None, incomplete=False) -> dict:
        """Write ``runs.csv``, ``curves.csv``, ``summary.json`` and ``curves.png`` into ``out``.

        Parameters
        ----------
        out : str or path
            The folder (made if missing).
        title : str, optional
            The figure's title.
        incomplete : bool
            Mark the written results incomplete (``"incomplete": true`` in
            ``summary.json`` and its config; the figure's title says so), as
            results that are (``self.incomplete``) always are.

        Returns
        -------
        dict
            File name -> path, for ``FILES``.
        """
        if incomplete and not self.incomplete:
            marked = Results(self.runs, self.curves, {**self.config, "incomplete": True},
                             self.seconds)
            return marked.write(out, title)
        os.makedirs(out, exist_ok=True)
        paths = {name: os.path.join(out, name) for name in FILES}
        self.runs.drop(columns="hidden").to_csv(paths["runs.csv"], index=False)
        self.curves_frame().to_csv(paths["curves.csv"], index=False)
        summary = self.summary()
        doc = {
            "config": self.config,
            "incomplete": self.incomplete,
            "summary": json.loads(summary.to_json(orient="records")),
            "acceleration": self.acceleration(summary),
            "all_diverged": self.all_diverged,
            "runs": int(len(self.runs)),
            "diverged_runs": int(self.runs["diverged"].sum()),
            "failed_runs": len(self.failures()),
            "failures": self.failures(),
            "seconds": round(self.seconds, 3),
        }
        with open(paths["summary.json"], "w") as fh:
            json.dump(doc, fh, indent=2, default=_json_default)
            fh.write("\n")
        self.plot(paths["curves.png"], title=title)
        return paths

    @classmethod
    def read(cls, out) -> Results:
        """The Results that ``write`` wrote into ``out``.

        Runs (with a problem preset's own columns) and curves come back
        exactly; the config as JSON (tuples as lists), ``seconds`` to the ms.

        Raises
        ------
        ValueError
            Naming ``out``, if a file of ``write`` is missing.
        """
        paths = {name: os.path.join(out, name) for name in FILES[:3]}
        missing = [name for name, path in paths.items() if not os.path.isfile(path)]
        if missing:
            raise ValueError(f"out: {out} holds no results written by Results.write "
                             f"(missing {', '.join(missing)})")
        floats = [c for c, t in _RUNS_CSV.items() if t == "float64"]
        runs = pd.read_csv(paths["runs.csv"], dtype=_RUNS_CSV, keep_default_na=False,
                           na_values={c: [""] for c in floats})
        runs.insert(RUN_COLUMNS.index("hidden"), "hidden", [parse_hidden(a) for a in runs["arch"]])
        extra = [c for c in runs.columns if c not in RUN_COLUMNS]  # a problem preset's numbers
        runs[extra] = runs[extra].replace("", np.nan).apply(pd.to_numeric)
        frame = pd.read_csv(paths["curves.csv"], usecols=["run", "step", "value"],
                            dtype={"run": "int64", "step": "int64", "value": "float64"})
        by_run = {run: (g["step"].to_numpy(), g["value"].to_numpy())
                  for run, g in frame.groupby("run", sort=False)}
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0))
        with open(paths["summary.json"]) as fh:
            doc = json.load(fh)
        return cls(runs[[*RUN_COLUMNS, *extra]], [by_run.get(r, empty) for r in runs["run"]],
                   doc["config"], doc["seconds"])

    def plot(self, path=None, title=None):
        """Learning curves at the best lr: mean over seeds, min-max band, log y.

        Returns the matplotlib ``Figure`` if ``path`` is None; else saves it
        there and returns ``path``. See ``plotting.plot_best_curves``.
        """
        from .plotting import plot_best_curves

        return plot_best_curves(self, path, title=title)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
