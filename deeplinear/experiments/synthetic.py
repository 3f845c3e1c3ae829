"""The built-in synthetic experiment: depth 1-3 on l2 and l4, same end-to-end start."""

from __future__ import annotations

import os
import time

import numpy as np

from ..datasets import load_synthetic
from ..init import balanced
from ..train import train

DEPTHS = (1, 2, 3)
LRS = {"l2": 0.05, "l4": 0.05}


def steps_to_reach(history, target):
    """First recorded step whose loss is <= target, or None."""
    hit = np.nonzero(history.loss <= target)[0]
    return int(history.steps[hit[0]]) if hit.size else None


def run_synthetic(steps=2000, hidden=20, seed=0, out=None, quiet=False):
    """Train depths 1-3 on l2 and l4; print a table, write ``curves.png``.

    Returns
    -------
    rows : list of dict
        One per (loss, depth): final loss, steps to reach 1.1x the depth-1 final loss.
    """
    data = load_synthetic(n=1000, d=20, k=1, noise=0.1, seed=seed)
    d = data.X.shape[1]
    W_e0 = balanced([d, 1], scale=1e-2, rng=seed)[0]
    rows, curves = [], {}
    for loss in ("l2", "l4"):
        base = None
        for depth in DEPTHS:
            dims = [d] + [hidden] * (depth - 1) + [1]
            factors = balanced(dims, rng=seed + depth, end_to_end=W_e0)
            h = train(factors, data.X, data.Y, loss=loss, lr=LRS[loss], steps=steps)
            curves[loss, depth] = h
            if depth == 1:
                base = h.final_loss
            rows.append({"loss": loss, "depth": depth, "final": h.final_loss,
                         "diverged": h.diverged, "seconds": h.seconds,
                         "to_target": steps_to_reach(h, 1.1 * base)})
    if not quiet:
        print(format_table(rows, steps))
    if out is not None:
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "curves.png")
        plot_curves(curves, path, steps)
        if not quiet:
            print(f"\nwrote {path}")
    return rows


def format_table(rows, steps):
    lines = [f"synthetic regression (n=1000, d=20, 1 output), {steps} full-batch GD steps,"
             " same balanced W_e at start",
             f"{'loss':<5} {'depth':>5} {'final loss':>12} {'steps to 1.1x depth-1 final':>28}",
             "-" * 53]
    for r in rows:
        reach = "never" if r["to_target"] is None else str(r["to_target"])
        final = "diverged" if r["diverged"] else f"{r['final']:.4e}"
        lines.append(f"{r['loss']:<5} {r['depth']:>5} {final:>12} {reach:>28}")
    return "\n".join(lines)


def plot_curves(curves, path, steps):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, loss in zip(axes, ("l2", "l4")):
        for depth in DEPTHS:
            h = curves[loss, depth]
            ax.semilogy(h.steps, h.loss, label=f"depth {depth}")
        ax.set_xlabel("step")
        ax.set_ylabel(f"training {loss} loss")
        ax.set_title(f"{loss} loss")
        ax.legend()
    fig.suptitle(f"Synthetic regression: gradient descent, {steps} steps, same start W_e")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def default_out_dir(name="synthetic"):
    return os.path.join("results", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
