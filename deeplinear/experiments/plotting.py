"""Figures of grid searches: best-lr learning curves, seed bands and lr heatmaps.

``plot_best_curves`` draws the whole figure of ``Results.plot`` (and of the
command line). The others draw into a given ``matplotlib`` Axes, so that a
tutorial composes them:

* ``plot_seed_bands``: mean curve and the spread over seeds, per architecture;
* ``plot_lr_heatmap``: mean final loss over an lr x architecture grid, with
  diverged cells and best lrs marked (``lr_heatmap_legend`` explains the marks);
* ``plot_edge_of_stability``: loss and lr x sharpness along tracked runs.

The tables behind them are ``best_run_curves``, ``lr_cells`` and ``best_lrs``.
"""

from __future__ import annotations

import math
import textwrap

from .configuration import label, varying

__all__ = ["plot_best_curves", "plot_seed_bands", "plot_lr_heatmap", "lr_heatmap_legend",
           "plot_edge_of_stability", "best_run_curves", "lr_cells", "best_lrs"]


def plot_best_curves(results, path=None, title=None):
    """One panel per (loss, init, optimizer); one line per architecture.

    Each line is the mean over seeds of the runs at the configuration's best
    learning rate (``Results.best``), with a band from the lowest to the
    highest seed. The y axis is logarithmic. Configurations where every lr
    diverged are listed in the panel instead of drawn; configurations that
    differ in the optimizer's options or the weight decay share a panel, their
    lines labelled with them (``configuration.label``).

    Parameters
    ----------
    results : Results
    path : str or path, optional
        Where to save the figure (PNG, 150 dpi).
    title : str, optional
        Default: the data set, its shape and the number of seeds.

    Returns
    -------
    matplotlib.figure.Figure or str
        The figure if ``path`` is None (not registered with ``pyplot``:
        a notebook shows it once, as the cell's value); else ``path``.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    best = results.best()
    # A panel per (loss, init, optimizer); configurations of one optimizer with
    # other options or weight decay share it, their lines labelled with them.
    panels = list(dict.fromkeys(zip(best["loss"], best["init"], best["optimizer"])))
    qualifiers = [c for c in varying(best) if c in ("options", "weight_decay")] if len(best) \
        else []
    ncols = max(1, min(3, len(panels)))
    nrows = max(1, math.ceil(len(panels) / ncols))
    width = max(7.0, 5.2 * ncols)
    fig = Figure(figsize=(width, 4.0 * nrows + 0.4), constrained_layout=True)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    cmap = colormaps["viridis"]
    archs = list(dict.fromkeys(best["arch"]))
    for ax, (loss, init, opt) in zip(axes.flat, panels):
        rows = best[(best["loss"] == loss) & (best["init"] == init) & (best["optimizer"] == opt)]
        failed = []
        for row in rows.to_dict("records"):
            if not row["run_ids"]:
                failed.append(row["arch"])
                continue
            steps, mean, low, high = results.mean_curve(row["run_ids"])
            color = cmap(archs.index(row["arch"]) / max(1, len(archs) - 1))
            words = label(row, qualifiers)
            ax.plot(steps, mean, color=color, lw=1.6,
                    label=f"{row['arch']} (lr {row['best_lr']:g}{', ' + words if words else ''})")
            if len(row["run_ids"]) > 1:
                ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)
        ax.set_yscale("log")
        _plain_log_labels(ax.yaxis)
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
    if results.incomplete:
        title += " (incomplete: interrupted)"
    fig.suptitle(textwrap.fill(title, int(width * 11)), fontsize=11)
    if path is None:
        return fig
    fig.savefig(path, dpi=150)
    return path


def _plain_log_labels(axis):
    """Label a log axis as matplotlib does by default (decades, and the
    ticks between them when the axis spans less than about two decades), but
    as plain numbers (0.01, 0.2, 1e+04) instead of math text: the first use
    of matplotlib's math-text parser costs about 0.3 s of a short run."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))


def best_run_curves(results):
    """The curves of the runs at each configuration's best lr, long format.

    Parameters
    ----------
    results : Results

    Returns
    -------
    pandas.DataFrame
        The columns of ``Results.curves_frame()``, with the objective's values
        in ``loss`` (the loss function's name column is dropped): one row per
        (run, recorded step), every seed of each best lr.
    """
    ids = [r for run_ids in results.best()["run_ids"] for r in run_ids]
    frame = results.curves_frame()
    frame = frame[frame["run"].isin(ids)].drop(columns="loss")
    return frame.rename(columns={"value": "loss"})


def plot_seed_bands(curves, ax, *, by="arch", order=None, colors=None, linestyles=None,
                    labels=None, value="loss", alpha=0.18, lw=1.6):
    """Learning curves: per group, the mean over runs at each step and a band from
    the lowest to the highest run (the spread over seeds).

    Parameters
    ----------
    curves : pandas.DataFrame or Results
        Long format, one row per (run, step), with columns ``by``, ``step`` and
        ``value``. A :class:`~deeplinear.experiments.Results` stands for the
        runs at each architecture's best lr (``by="arch"``, ``value="loss"``).
    ax : matplotlib.axes.Axes
    by : str, default "arch"
        The column whose values are the lines.
    order : list, optional
        The groups to draw, in this order (default: as they first appear);
        groups without rows are skipped.
    colors, linestyles, labels : dict, optional
        Per group (default: matplotlib's colour cycle, solid lines, the group).
    value : str, default "loss"
    alpha, lw : float
        Opacity of the bands and width of the mean lines.

    Returns
    -------
    dict
        Group -> its line (a ``Line2D``).
    """
    if not hasattr(curves, "columns"):
        curves = best_run_curves(curves)
    order = list(dict.fromkeys(curves[by])) if order is None else list(order)
    lines = {}
    for group in order:
        part = curves[curves[by] == group]
        if part.empty:
            continue
        stats = part.groupby("step")[value].agg(["mean", "min", "max"])
        style = (linestyles or {}).get(group, "-")
        kw = {"color": colors[group]} if colors and group in colors else {}
        (line,) = ax.plot(stats.index, stats["mean"], style, lw=lw,
                          label=(labels or {}).get(group, str(group)), **kw)
        ax.fill_between(stats.index, stats["min"], stats["max"], color=line.get_color(),
                        alpha=alpha, lw=0)
        lines[group] = line
    return lines


def lr_cells(runs):
    """Mean final loss over seeds per (arch, lr), and whether any seed diverged.

    ``runs``: a Results or its ``runs`` frame (columns arch, lr, final_loss,
    diverged). Returns a DataFrame with columns arch, lr, final_loss, diverged.
    """
    runs = getattr(runs, "runs", runs)
    return (runs.groupby(["arch", "lr"], sort=False)
            .agg(final_loss=("final_loss", "mean"), diverged=("diverged", "any"))
            .reset_index())


def best_lrs(results, lrs=None):
    """Per architecture, its best lr among ``lrs`` (default all): ``Results.best(lrs)``.

    Parameters
    ----------
    results : Results
        A grid with one configuration per architecture (e.g. one init,
        optimizer and loss).
    lrs : sequence of float, optional

    Returns
    -------
    pandas.DataFrame
        Indexed by arch (in order of appearance), with columns lr and
        final_loss (the mean over seeds at it); an architecture whose every
        lr diverged is left out.

    Raises
    ------
    ValueError
        If an architecture has several configurations.
    """
    best = results.best(lrs)
    repeated = sorted(set(best["arch"][best["arch"].duplicated()]))
    if repeated:
        raise ValueError(f"results: expected one configuration per architecture, "
                         f"got several for {repeated}")
    best = best[best["run_ids"].map(len) > 0]
    return (best.set_index("arch")[["best_lr", "final_mean"]]
            .rename(columns={"best_lr": "lr", "final_mean": "final_loss"}))


def plot_lr_heatmap(results, ax, *, archs=None, lrs=None, mark_best=True, marks=None, lr_box=None,
                    lr_box_label=None, edge=None, edge_label=None, cmap="viridis_r"):
    """The lr x architecture heatmap of a grid: colour = mean final loss over seeds
    (log scale), written in each cell; hatched grey with a red x where any seed
    diverged.

    Cell (arch ``archs[i]``, lr ``lrs[j]``) is centred at x = j, y = i, so a
    caller can draw more marks in the same coordinates.

    Parameters
    ----------
    results : Results
        A grid with one configuration per architecture (see :func:`best_lrs`).
    ax : matplotlib.axes.Axes
    archs, lrs : list, optional
        Rows and columns, in order (default: all, as they appear / sorted).
    mark_best : bool, default True
        Outline the best lr of every architecture (:func:`best_lrs`) in black.
    marks : dict, optional
        Architecture -> lr, drawn as a white dot in the corner of that cell
        (e.g. the best lr after a longer budget: ``best_lrs(other)["lr"]``).
    lr_box : list of float, optional
        Lrs (columns) to frame in a dashed orange box, e.g. the report's grid,
        labelled above with ``lr_box_label``.
    edge : float, optional
        An lr to mark with a red vertical line (its position interpolated in
        log scale between the columns), labelled ``edge_label``.
    cmap : str, default "viridis_r"

    Returns
    -------
    matplotlib.image.AxesImage
        For a colour bar: ``fig.colorbar(image, ax=ax)``.
    """
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    cells = lr_cells(results)
    archs = list(dict.fromkeys(cells["arch"])) if archs is None else list(archs)
    lrs = sorted(set(cells["lr"])) if lrs is None else list(lrs)
    values = cells.pivot(index="arch", columns="lr", values="final_loss").loc[archs, lrs]
    div = cells.pivot(index="arch", columns="lr", values="diverged").loc[archs, lrs]
    div = div.astype(bool).to_numpy()
    shown = np.ma.masked_where(div | ~np.isfinite(values.to_numpy()), values.to_numpy())
    norm = LogNorm(vmin=shown.min(), vmax=shown.max())
    image = ax.imshow(shown, cmap=cmap, norm=norm, aspect="auto")
    for i in range(len(archs)):
        for j in range(len(lrs)):
            if div[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.85",
                                       edgecolor="0.5", hatch="///", lw=0))
                ax.text(j, i, "x", ha="center", va="center", color="crimson",
                        fontsize=10, fontweight="bold")
            else:
                v = values.iloc[i, j]
                ax.text(j, i, f"{v:.3f}" if v < 1 else f"{v:.2f}", ha="center", va="center",
                        fontsize=6.5, color="white" if norm(v) > 0.55 else "black")
    if mark_best:
        for arch, row in best_lrs(results, lrs).iterrows():
            if arch in archs:
                ax.add_patch(Rectangle((lrs.index(row["lr"]) - 0.5, archs.index(arch) - 0.5),
                                       1, 1, fill=False, edgecolor="black", lw=2.2))
    for arch, lr in (marks or {}).items():
        if arch in archs and lr in lrs:
            ax.plot(lrs.index(lr) + 0.33, archs.index(arch) - 0.3, "o", ms=5, mfc="white",
                    mec="black", mew=0.8)
    if lr_box:
        cols = [lrs.index(lr) for lr in lr_box if lr in lrs]
        ax.add_patch(Rectangle((min(cols) - 0.45, -0.45), max(cols) - min(cols) + 0.9,
                               len(archs) - 0.1, fill=False, edgecolor="tab:orange", lw=2,
                               ls="--"))
        if lr_box_label:
            ax.text((min(cols) + max(cols)) / 2, -0.65, lr_box_label, ha="center",
                    va="bottom", fontsize=8.5, color="tab:orange")
    if edge is not None:
        x = float(np.interp(np.log10(edge), np.log10(lrs), np.arange(len(lrs))))
        ax.axvline(x, color="crimson", lw=1.5)
        if edge_label:
            ax.text(x, len(archs) - 0.47, edge_label, color="crimson", fontsize=8, va="top",
                    ha="center", bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs], rotation=45, fontsize=8)
    ax.set_yticks(range(len(archs)), archs, fontsize=9)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("hidden widths (depth = count + 1)")
    ax.set_ylim(len(archs) - 0.5 + 0.45, -0.5 - 0.45)
    return image


def lr_heatmap_legend(fig, *, best="best lr", marks=None, lr_box=None, edge=None,
                      diverged="diverged", **legend_kw):
    """A figure legend for the marks of :func:`plot_lr_heatmap`: give the label of
    each kind of mark drawn (None leaves it out). ``legend_kw`` go to
    ``fig.legend`` (default: below the axes, one row, no frame)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    entries = [(best, Rectangle((0, 0), 1, 1, fill=False, edgecolor="black", lw=2.2)),
               (marks, Line2D([], [], ls="", marker="o", mfc="white", mec="black")),
               (lr_box, Rectangle((0, 0), 1, 1, fill=False, edgecolor="tab:orange", lw=2,
                                  ls="--")),
               (edge, Line2D([], [], color="crimson")),
               (diverged, Patch(facecolor="0.85", edgecolor="0.5", hatch="///"))]
    entries = [(label, handle) for label, handle in entries if label]
    kw = {"loc": "outside lower center", "ncol": len(entries), "fontsize": 9, "frameon": False,
          **legend_kw}
    return fig.legend([h for _, h in entries], [label for label, _ in entries], **kw)


def plot_edge_of_stability(curves, ax_loss, ax_sharp, *, by=("dataset", "arch", "lr", "seed"),
                           colors=None, formula="lr_sharpness_formula", mark_step=None,
                           mark_label=None):
    """Runs tracked with their sharpness: the loss on ``ax_loss``, ``lr * sharpness``
    on ``ax_sharp`` with the stability edge ``lr * sharpness = 2`` (both log y).

    Parameters
    ----------
    curves : pandas.DataFrame
        One row per (run, step): the columns ``by``, ``step``, ``loss``,
        ``lr_sharpness`` (NaN at steps where it was not measured) and, if
        present, ``formula`` (an estimate, drawn dotted unless it is NaN or
        the run is depth 1, where it is exact).
    ax_loss, ax_sharp : matplotlib.axes.Axes
    by : tuple of str
        The columns that name a run; a label is "<by[0]> <by[1]>, lr <lr>".
    colors : list, optional
        One colour per run, in order of appearance.
    mark_step : int, optional
        A step to mark with a dashed vertical line on both, labelled ``mark_label``.
    """
    colors = colors or [f"C{i}" for i in range(10)]
    for color, (key, c) in zip(colors, curves.groupby(list(by), sort=False)):
        row = dict(zip(by, key))
        label = f"{key[0]} {key[1]}, lr {row.get('lr', float('nan')):g}"
        s = c.dropna(subset=["lr_sharpness"])
        ax_loss.plot(c["step"], c["loss"], color=color, lw=1.2, label=label)
        ax_sharp.plot(s["step"], s["lr_sharpness"], color=color, lw=1.2, label=label)
        if formula in c and ("depth" not in c or c["depth"].iloc[0] > 1):
            ax_sharp.plot(s["step"], s[formula], color=color, lw=0.9, ls=":")
    for ax, ylabel, loc in ((ax_loss, "training loss (l2)", "upper right"),
                            (ax_sharp, "lr × sharpness (top Hessian eigenvalue)", "lower right")):
        if mark_step is not None:
            ax.axvline(mark_step, color="0.5", lw=1, ls="--")
            ax.text(mark_step, 1.0, f" {mark_label or ''}", transform=ax.get_xaxis_transform(),
                    fontsize=8, color="0.4", va="top")
        ax.set(xlabel="step", yscale="log", ylabel=ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc=loc)
    ax_sharp.axhline(2, color="crimson", lw=1.5)
    ax_sharp.text(0, 2, " lr·sharpness = 2: stability edge", color="crimson", fontsize=8,
                  va="bottom")
