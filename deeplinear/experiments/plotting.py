"""The figure of a grid search: best-lr learning curves per architecture."""

from __future__ import annotations

import math
import textwrap

__all__ = ["plot_best_curves"]


def plot_best_curves(results, path, title=None, summary=None):
    """One panel per (loss, init, optimizer); one line per architecture.

    Each line is the mean over seeds of the runs at the configuration's best
    learning rate, with a band from the lowest to the highest seed. The y axis
    is logarithmic. Configurations where every lr diverged are listed in the
    panel instead of drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results.summary() if summary is None else summary
    best = results.best()
    panels = list(dict.fromkeys(zip(best["loss"], best["init"], best["optimizer"])))
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    width = max(7.0, 5.2 * ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 4.0 * nrows + 0.4),
                             squeeze=False, constrained_layout=True)
    cmap = plt.get_cmap("viridis")
    archs = list(dict.fromkeys(best["arch"]))
    for ax, (loss, init, opt) in zip(axes.flat, panels):
        rows = best[(best["loss"] == loss) & (best["init"] == init) & (best["optimizer"] == opt)]
        failed = []
        for row in rows.itertuples():
            if not row.run_ids:
                failed.append(row.arch)
                continue
            steps, mean, low, high = results.mean_curve(row.run_ids)
            color = cmap(archs.index(row.arch) / max(1, len(archs) - 1))
            ax.plot(steps, mean, color=color, lw=1.6,
                    label=f"{row.arch} (lr {row.best_lr:g})")
            if len(row.run_ids) > 1:
                ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(f"training loss ({loss})")
        ax.set_title(f"{loss}, init {init}, {opt}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if failed:
            ax.text(0.02, 0.02, "all lrs diverged: " + ", ".join(failed),
                    transform=ax.transAxes, fontsize=8, color="crimson")
        if ax.lines:
            ax.legend(fontsize=8, title="hidden (best lr)", title_fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    c = results.config
    seeds = c["seeds"] if not isinstance(c["seeds"][0], list) else c["seeds"][0]
    title = title or (f"{c['dataset']} (n={c['n']}, d={c['d_in']}): best-lr learning curves, "
                      f"mean and range over {len(seeds)} seed(s)")
    fig.suptitle(textwrap.fill(title, int(width * 11)), fontsize=11)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
