"""The text of a grid's results: the plain-text table and the acceleration verdict.

``Results.format_table`` and ``Results.acceleration`` call these. A
configuration is named by the columns of ``configuration.QUALIFIERS`` that
vary in the grid (``configuration.label``).
"""

from __future__ import annotations

import math

import pandas as pd

from .configuration import label, varying

__all__ = ["acceleration", "format_table", "count"]


def count(n, noun) -> str:
    """``"1 run"``, ``"2 runs"``: ``n`` and ``noun``, plural unless ``n`` is 1."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def acceleration(results, summary) -> list:
    """One sentence per loss of ``summary`` (``results.summary()``): did some deeper
    net reach the target sooner than depth 1? See ``Results.acceleration``."""
    lines = []
    name = results.config.get("dataset", "this data")
    names = [c for c in varying(summary) if c != "loss"] if len(summary) else []
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
        fastest = [s1] + ([deep.loc[deep["steps_to_target"].astype(float).idxmin()]]
                          if len(deep) else [])
        at_start = [row for row in fastest if int(row["steps_to_target"]) == 0]
        if at_start:
            lines.append(
                f"{loss}: no verdict on {name}: {_named(at_start[0], names)} meets the target "
                f"{s1['target']:.4g} (1.1x depth 1's best final loss) at step 0, where it "
                "starts: the horizon is too short to compare the depths; run more steps.")
            continue
        if not len(deep):
            lines.append(f"{loss}: depth did not accelerate on {name}: no deeper net "
                         f"reached {s1['target']:.4g} (depth 1 did in "
                         f"{s1['steps_to_target']} steps).")
            continue
        sd = fastest[1]
        n1, nd = int(s1["steps_to_target"]), int(sd["steps_to_target"])
        verdict = "accelerated" if nd < n1 else "did not accelerate"
        lines.append(
            f"{loss}: depth {verdict} on {name}: the fastest deeper net, {_named(sd, names)}, "
            f"reached {sd['target']:.4g} in {nd} steps; {_named(s1, names)} in {n1} "
            f"(ratio {n1 / nd:.2f}x).")
    if results.all_diverged:
        lines.append("Every run diverged: lower the learning rates.")
    return lines


def _named(row, columns):
    """``"[10] (adam)"`` for a deeper net, ``"depth 1 (adam)"`` for depth 1."""
    words = label(row, columns)
    who = "depth 1" if row["depth"] == 1 else row["arch"]
    return f"{who} ({words})" if words else who


def format_table(results) -> str:
    """A plain-text table, one row per configuration, and the acceleration,
    edge and failure notes; see ``Results.format_table``."""
    summary = results.summary()
    runs, c = results.runs, results.config
    shown = varying(runs) if len(runs) else []
    fixed = [f"{col} {runs[col].iloc[0]}" for col in ("loss", "init", "optimizer")
             if col not in shown and len(runs)]
    if "options" not in shown and len(runs) and runs["options"].iloc[0]:
        fixed.append(f"options {runs['options'].iloc[0]}")
    if "weight_decay" not in shown and len(runs) and runs["weight_decay"].iloc[0]:
        fixed.append(f"weight decay {runs['weight_decay'].iloc[0]:g}")
    lrs = c["lrs"] if isinstance(c["lrs"], list) and not isinstance(c["lrs"][0], list) else None
    every = c.get("record_every")
    recorded = f" (loss recorded every {every})" if isinstance(every, int) and every > 1 else ""
    seeds = len(c["seeds"]) if not isinstance(c["seeds"][0], list) else "?"
    head = (f"{'incomplete (interrupted): ' if results.incomplete else ''}"
            f"{c['dataset']} (n={c['n']}, d={c['d_in']} -> {c['d_out']}); {', '.join(fixed)}; "
            f"{count(c['steps'], 'step')}{recorded}; "
            f"{count(len(lrs), 'lr') if lrs else 'per-grid lrs'} x "
            f"{count(seeds, 'seed') if isinstance(seeds, int) else '? seeds'}")
    failed = bool(summary["failed"].sum())  # the column only when some run failed
    cols = ([col.replace("_", " ") for col in shown]
            + ["arch", "depth", "best lr", "final loss (mean ± std)",
               f"steps to 1.1x {_target_baseline(summary)} best", "fastest lr: steps [min, max]",
               "diverged"] + (["failed"] if failed else []))
    body = []
    for row in summary.itertuples():
        if math.isfinite(row.final_mean):
            final = f"{row.final_mean:.4e} ± {row.final_std:.1e}"
            lr = f"{row.best_lr:g}"
        else:
            final = "all lrs failed or diverged" if row.failed else "all lrs diverged"
            lr = "-"
        reach = "never" if pd.isna(row.steps_to_target) else str(row.steps_to_target)
        fast = ("never" if math.isnan(row.fastest_lr) else
                f"{row.fastest_lr:g}: {row.fastest_steps:.0f} [{row.fastest_min:.0f}, "
                f"{row.fastest_max:.0f}]")
        body.append([_cell(getattr(row, v)) for v in shown]
                    + [row.arch, str(row.depth), lr, final, reach, fast,
                       f"{row.diverged}/{row.runs}"]
                    + ([f"{row.failed}/{row.runs}"] if failed else []))
    widths = [max(len(str(x)) for x in [col] + [b[i] for b in body])
              for i, col in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [head, fmt.format(*cols), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*b).rstrip() for b in body]
    lines += [""] + results.acceleration(summary) + results.edge_notes(summary)
    lines += results.failure_notes()
    return "\n".join(line.rstrip() for line in lines)


def _target_baseline(summary):
    """Whose best final loss the targets are 1.1x of (``Results.targets``)."""
    return "depth-1 GD" if ((summary["depth"] == 1) & (summary["optimizer"] == "sgd")).any() \
        else "depth-1"


def _cell(value):
    return f"{value:g}" if isinstance(value, float) else str(value)
