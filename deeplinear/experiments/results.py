"""What a grid search returns: every run, every curve, and the summaries built on them.

The best learning rate of a configuration (arch, init, optimizer, loss) is
the one with the lowest final training loss averaged over seeds, among the
learning rates for which *no* seed diverged; a diverged run counts as an
infinite loss and is never picked. "Steps to target" is the first recorded
step at which that best curve (averaged over seeds) reaches 1.1 times the
best final loss of depth 1 on the same loss function.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd

__all__ = ["Results", "TARGET_FACTOR"]

#: A net "reaches the target" at 1.1x the best final loss of depth 1.
TARGET_FACTOR = 1.1
#: A configuration: runs that differ only in lr and seed. "options" (the
#: optimizer's options, e.g. "eps=1e-08, rho=0.95") keeps two grids of one
#: optimizer with different settings apart.
_GROUP = ["arch", "init", "optimizer", "options", "loss"]


class Results:
    """Runs of a grid search.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per run: run, arch, hidden, depth, init, optimizer, loss, lr,
        seed, options (the optimizer's options, "" for its defaults),
        final_loss (inf if diverged or failed), diverged, failed (the
        run raised; it has no curve), error ("Type: message" of a failed
        run, else ""), steps_run, seconds.
    curves : list of (steps, loss) pairs of ndarray
        ``curves[run]``: the recorded steps and objective values of a run.
    config : dict
        The data set's name and shape and the grid's steps, lrs, seeds.
    seconds : float
        Wall time of the whole search.
    """

    def __init__(self, runs, curves, config, seconds=0.0):
        self.runs = runs.reset_index(drop=True)
        self.curves = list(curves)
        self.config = dict(config)
        self.seconds = float(seconds)
        if len(self.runs) != len(self.curves):
            raise ValueError("curves: expected one curve per run")

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
                f"{int(self.runs['diverged'].sum())} diverged)")

    # ------------------------------------------------------------------ curves
    def curves_frame(self) -> pd.DataFrame:
        """All curves in long format: one row per (run, recorded step).

        Columns: run, arch, depth, init, optimizer, loss (the loss function's
        name, as in ``runs``), lr, seed, step and value (the objective there).
        """
        lengths = [len(steps) for steps, _ in self.curves]
        ids = np.repeat(np.arange(len(self.curves)), lengths)  # run r: curve r
        frame = (self.runs.set_index("run")
                 .loc[ids, ["arch", "depth", "init", "optimizer", "loss", "lr", "seed"]]
                 .reset_index())
        frame["step"] = np.concatenate([steps for steps, _ in self.curves])
        frame["value"] = np.concatenate([values for _, values in self.curves])
        return frame

    def mean_curve(self, run_ids):
        """Steps, mean and min/max over the given (non-diverged) runs."""
        steps = self.curves[run_ids[0]][0]
        values = np.vstack([self.curves[r][1] for r in run_ids])
        return steps, values.mean(axis=0), values.min(axis=0), values.max(axis=0)

    # ---------------------------------------------------------------- summary
    @property
    def all_diverged(self) -> bool:
        return bool(self.runs["diverged"].all())

    def best(self) -> pd.DataFrame:
        """One row per configuration: best lr and the runs at it (empty if none)."""
        out = []
        runs = self.runs if "options" in self.runs else self.runs.assign(options="")
        for key, group in runs.groupby(_GROUP, sort=False):
            by_lr = group.groupby("lr", sort=False)
            means = by_lr["final_loss"].mean()  # inf when any seed diverged
            ok = means[np.isfinite(means)]
            best_lr = float(ok.idxmin()) if len(ok) else math.nan
            chosen = group[group["lr"] == best_lr] if len(ok) else group.iloc[:0]
            out.append({**dict(zip(_GROUP, key)), "depth": int(group["depth"].iloc[0]),
                        "best_lr": best_lr, "run_ids": list(chosen["run"]),
                        "final_mean": float(chosen["final_loss"].mean()) if len(ok) else math.inf,
                        "final_std": float(chosen["final_loss"].std(ddof=0)) if len(ok)
                        else math.nan,
                        "diverged": int(group["diverged"].sum()),
                        "failed": int(group["failed"].sum()) if "failed" in group else 0,
                        "runs": len(group)})
        return pd.DataFrame(out)

    def targets(self, best=None) -> dict:
        """Per loss: 1.1x the best final loss of depth 1 (or of all, if no depth 1)."""
        best = self.best() if best is None else best
        targets = {}
        for loss, group in best.groupby("loss", sort=False):
            ref = group[(group["depth"] == 1) & np.isfinite(group["final_mean"])]
            if not len(ref):
                ref = group[np.isfinite(group["final_mean"])]
            targets[loss] = TARGET_FACTOR * float(ref["final_mean"].min()) if len(ref) else None
        return targets

    def summary(self) -> pd.DataFrame:
        """The table: per configuration, best lr, final loss mean/std, steps to target."""
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
        return best.drop(columns="run_ids")

    def acceleration(self, summary=None) -> list:
        """One sentence per loss: did some deeper net reach the target sooner than depth 1?"""
        summary = self.summary() if summary is None else summary
        lines = []
        name = self.config.get("dataset", "this data")
        for loss, group in summary.groupby("loss", sort=False):
            reached = group[group["steps_to_target"].notna()]
            shallow = reached[reached["depth"] == 1]
            deep = reached[reached["depth"] > 1]
            if not (group["depth"] == 1).any() or not (group["depth"] > 1).any():
                lines.append(f"{loss}: the grid needs depth 1 and a deeper net to compare.")
                continue
            if not len(shallow):
                lines.append(f"{loss}: no depth-1 run converged; nothing to compare.")
                continue
            s1 = shallow.loc[shallow["steps_to_target"].astype(float).idxmin()]
            if not len(deep):
                lines.append(f"{loss}: depth did not accelerate on {name}: no deeper net "
                             f"reached {s1['target']:.4g} (depth 1 did in "
                             f"{s1['steps_to_target']} steps).")
                continue
            sd = deep.loc[deep["steps_to_target"].astype(float).idxmin()]
            n1, nd = int(s1["steps_to_target"]), int(sd["steps_to_target"])
            ratio = n1 / max(nd, 1) if nd else math.inf
            verdict = "accelerated" if nd < n1 else "did not accelerate"
            lines.append(
                f"{loss}: depth {verdict} on {name}: the fastest deeper net, {sd['arch']}"
                f"{self._label(sd)}, reached {sd['target']:.4g} in {nd} steps; depth 1"
                f"{self._label(s1)} in {n1} (ratio {ratio:.2f}x).")
        if self.all_diverged:
            lines.append("Every run diverged: lower the learning rates.")
        return lines

    def _label(self, row):
        parts = [row[c] for c in ("init", "optimizer", "options")
                 if c in self.runs and self.runs[c].nunique() > 1 and row[c]]
        return f" ({', '.join(parts)})" if parts else ""

    def format_table(self) -> str:
        """A plain-text table, one row per configuration, and the acceleration lines."""
        summary = self.summary()
        varying = [c for c in ("loss", "init", "optimizer", "options")
                   if c in self.runs and self.runs[c].nunique() > 1]
        c = self.config
        fixed = ", ".join(f"{col} {self.runs[col].iloc[0]}" for col in ("loss", "init", "optimizer")
                          if col not in varying)
        lrs = c["lrs"] if isinstance(c["lrs"], list) and not isinstance(c["lrs"][0], list) else None
        every = c.get("record_every")
        recorded = f" (loss recorded every {every})" if isinstance(every, int) and every > 1 \
            else ""
        head = (f"{c['dataset']} (n={c['n']}, d={c['d_in']} -> {c['d_out']}); {fixed}; "
                f"{c['steps']} steps{recorded}; {len(lrs) if lrs else 'per-grid'} lrs x "
                f"{len(c['seeds']) if not isinstance(c['seeds'][0], list) else '?'} seeds")
        failed = bool(summary["failed"].sum())  # the column only when some run failed
        cols = varying + ["arch", "depth", "best lr", "final loss (mean ± std)",
                          "steps to 1.1x depth-1 best", "diverged"] + (["failed"] if failed else [])
        body = []
        for row in summary.itertuples():
            if math.isfinite(row.final_mean):
                final = f"{row.final_mean:.4e} ± {row.final_std:.1e}"
                lr = f"{row.best_lr:g}"
            else:
                final = "all lrs failed or diverged" if row.failed else "all lrs diverged"
                lr = "-"
            reach = "never" if pd.isna(row.steps_to_target) else str(row.steps_to_target)
            body.append([getattr(row, v) for v in varying]
                        + [row.arch, str(row.depth), lr, final, reach,
                           f"{row.diverged}/{row.runs}"]
                        + ([f"{row.failed}/{row.runs}"] if failed else []))
        widths = [max(len(str(x)) for x in [col] + [b[i] for b in body])
                  for i, col in enumerate(cols)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [head, fmt.format(*cols), "  ".join("-" * w for w in widths)]
        lines += [fmt.format(*b).rstrip() for b in body]
        lines += [""] + self.acceleration(summary) + self.edge_notes(summary)
        lines += self.failure_notes()
        return "\n".join(line.rstrip() for line in lines)

    def failures(self) -> list:
        """The runs that raised: one dict each (run, arch, init, optimizer, loss,
        lr, seed, error), in run order; empty if none did."""
        if "failed" not in self.runs:
            return []
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
        """Warn when best lrs sit at the top of their grid: a larger one might do better."""
        summary = self.summary() if summary is None else summary
        at_edge = []
        for row in summary.itertuples():
            lrs = self.runs.loc[(self.runs["arch"] == row.arch) & (self.runs["init"] == row.init)
                                & (self.runs["optimizer"] == row.optimizer)
                                & (self.runs["loss"] == row.loss), "lr"]
            if math.isfinite(row.best_lr) and row.best_lr == lrs.max():
                at_edge.append(row)
        if not at_edge:
            return []
        share = f"{len(at_edge)} of {len(summary)}"
        return [f"note: for {share} configurations the best lr is the largest in the grid; "
                "a larger lr might do better."]

    # ------------------------------------------------------------------ files
    def write(self, out, title=None) -> dict:
        """Write ``curves.csv``, ``summary.json`` and ``curves.png`` into ``out``."""
        os.makedirs(out, exist_ok=True)
        paths = {name: os.path.join(out, name)
                 for name in ("curves.csv", "summary.json", "curves.png")}
        self.curves_frame().to_csv(paths["curves.csv"], index=False)
        summary = self.summary()
        doc = {
            "config": self.config,
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
        self.plot(paths["curves.png"], title=title, summary=summary)
        return paths

    def plot(self, path, title=None, summary=None):
        """Learning curves at the best lr: mean over seeds, min-max band, log y."""
        from .plotting import plot_best_curves

        plot_best_curves(self, path, title=title, summary=summary)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
