r"""5. The report's Figure 4: gradient descent against Adam
=======================================================

For one output, Theorem 1 of Arora, Cohen & Hazan (tutorial 2) says that
gradient descent on a deep linear net moves the end-to-end matrix like
gradient descent on depth 1 with two changes: an adaptive learning rate, and
an extra push in the matrix's own direction that the paper likens to
momentum. Levy & Wang therefore compared depth with an optimizer built from
those two ingredients, Adam.

For depth :math:`N` the learning rate is scaled by :math:`\|W_e\|^{2-2/N}`,
and the push adds :math:`N-1` times the gradient's component along
:math:`W_e`. We follow the protocol of tutorial 3: near-identity init
(tutorial 4), the seven architectures, 100 full-batch steps on MSE, the best
lr of the report's grid (`1e-5` to `1e-2`) for each architecture and
optimizer, three seeds.

Adam (as in `torch.optim.Adam`, written out in `dl.optim.Adam`) keeps
running means :math:`\hat m` of each coordinate's gradient :math:`g` and
:math:`\hat v` of :math:`g^2` (both bias-corrected) and steps by

.. math::

    W \leftarrow W - \mathrm{lr} \, \frac{\hat m}{\sqrt{\hat v} + \epsilon}
    \qquad \text{(coordinate by coordinate).}

One caution before comparing: Theorem 1 is a statement about gradient
descent. Its proof uses that the step of :math:`W_j` is
:math:`-\mathrm{lr} \, \partial L / \partial W_j`, so that
:math:`W_{j+1}^\top W_{j+1} - W_j W_j^\top` stays constant and :math:`W_e`
follows the end-to-end update. Adam divides every coordinate by its own
gradient scale, which breaks both: an overparameterized net trained by Adam
is *not* Adam (nor gradient descent) on :math:`W_e` with the paper's
preconditioner. We check this at the end.

A full run writes `figures/05_report_figure4_optimizers.png` (and `.csv`).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import deeplinear as dl
from deeplinear import tutorial
from deeplinear.experiments import REPORT_HIDDEN, REPORT_LRS, arch_name, run_preset

SEED = 0
np.random.seed(SEED)   # each run draws its factors from its own seed; this is belt and braces
FIGURES = tutorial.figures_dir()
NAME = "05_report_figure4_optimizers"
pd.set_option("display.width", 140)

SEEDS = tutorial.pick((0, 1, 2), (0,))
STEPS = tutorial.pick(100, 15)
LRS = tutorial.pick(REPORT_LRS, (1e-3, 5e-3, 1e-2))
# Adam's steps do not scale with the gradient; we also try larger lrs.
WIDE_LRS = tutorial.pick(tuple(REPORT_LRS) + (0.02, 0.05, 0.1, 0.2, 0.5), (1e-2, 0.1))
ARCHS = [arch_name(h) for h in REPORT_HIDDEN]

datasets = {name: tutorial.load_data(name) for name in ("abalone", "ethanol")}
for data in datasets.values():
    print(tutorial.data_caption(data))

# %%
# The runs
# --------
# `run_preset("report-fig4", data)`: near-identity init, SGD and Adam, every
# architecture. "SGD" is full-batch gradient descent here (no momentum).

# %%
results = {name: run_preset("report-fig4", data, steps=STEPS, lrs=LRS, seeds=SEEDS)
           for name, data in datasets.items()}

tables = {}
for name, res in results.items():
    summary = res.summary()
    wide = summary.pivot(index="arch", columns="optimizer", values=["best_lr", "final_mean"])
    table = pd.DataFrame({
        "sgd lr": wide[("best_lr", "sgd")], "sgd loss": wide[("final_mean", "sgd")],
        "adam lr": wide[("best_lr", "adam")], "adam loss": wide[("final_mean", "adam")],
    }).reindex(ARCHS)
    table["adam / sgd"] = table["adam loss"] / table["sgd loss"]
    tables[name] = table
    print(f"\n{name}: final training loss at the best lr, mean over {len(SEEDS)} seed(s)")
    print(table.to_string(float_format="%.4g"))
    adam = table["adam loss"]
    print(f"Adam below SGD for {int((table['adam / sgd'] < 1).sum())} of {len(table)} "
          f"architectures; with Adam, depth 1 ends at {adam['[]']:.4f} and the best deeper "
          f"net, {adam.drop('[]').idxmin()}, at {adam.drop('[]').min():.4f}")

# %%
# As in the report, Adam ends below gradient descent for (nearly) every
# architecture on both data sets, and with Adam the best deep nets end below
# depth 1. But Adam's best lr, too, is often the top of the grid, and Adam
# usually wants larger lrs than gradient descent. Does the advantage of
# depth under Adam survive a wider grid?

# %%
for name, data in datasets.items():
    res = run_preset("report-fig4", data, optimizer="adam", steps=STEPS, lrs=WIDE_LRS,
                     seeds=SEEDS)
    summary = res.summary().set_index("arch").reindex(ARCHS)
    depth1 = summary.loc["[]", "final_mean"]
    print(f"\n{name}: Adam with lr up to {max(WIDE_LRS):g}")
    print(pd.DataFrame({"best lr": summary["best_lr"], "final loss": summary["final_mean"],
                        "std over seeds": summary["final_std"],
                        "vs depth 1 (%)": 100 * (summary["final_mean"] / depth1 - 1)}
                       ).to_string(float_format="%.4g"))
    deep = summary.drop("[]")
    arch = deep["final_mean"].idxmin()
    print(f"best deeper net {arch}: {100 * (deep.loc[arch, 'final_mean'] / depth1 - 1):+.1f}% "
          f"vs depth 1; std over seeds {100 * deep.loc[arch, 'final_std'] / depth1:.1f}% "
          f"(depth 1: {100 * summary.loc['[]', 'final_std'] / depth1:.1f}%)")

# %%
# With its own, larger best lr, Adam on depth 1 closes most of the gap. Compare
# what is left with the spread over seeds: where the best deeper net's
# advantage is several times the seed-to-seed std, the report's "slightly
# faster" survives; where it is smaller, the grid and the seeds decide it.
# Note also that under Adam most deep nets prefer *smaller* lrs than depth 1:
# every coordinate of every factor moves by about lr per step, and these
# moves add up in :math:`W_e` over the depth and the width.
#
# Adam breaks the end-to-end dynamics
# -----------------------------------
# Start a depth-3 net `[10,10]` from exactly balanced factors (the same
# start as the balanced runs of tutorial 4) and train it with gradient descent
# and with Adam, both at lr 0.01. Alongside, `optimizer="e2e"` runs the
# closed-form end-to-end update of Theorem 1 from the same :math:`W_e`. We
# print the balancedness at the end and the largest relative gap between the
# loss curve of the deep net and that of the closed form.

# %%
rows = []
for name, data in datasets.items():
    factors = dl.init.balanced([data.d, 10, 10, 1], scale=1e-2, rng=SEED)
    closed = dl.train(factors, data.X, data.Y, optimizer="e2e", lr=0.01, steps=STEPS)
    for optimizer in ("sgd", "adam"):
        h = dl.train(factors, data.X, data.Y, optimizer=optimizer, lr=0.01, steps=STEPS,
                     track=True)
        rows.append({"dataset": name, "optimizer": optimizer,
                     "balancedness start": h.balancedness[0],
                     "balancedness end": h.balancedness[-1],
                     "max |loss - e2e| / e2e": np.max(np.abs(h.loss - closed.loss) / closed.loss),
                     "final loss": h.loss[-1], "e2e final": closed.loss[-1]})
print(pd.DataFrame(rows).to_string(index=False, float_format="%.3g"))

# %%
# Gradient descent stays balanced up to the :math:`O(\mathrm{lr}^2)` drift
# of a discrete step and follows the closed form to within a fraction of a
# percent; under Adam the factors drift far from balanced and the loss curve
# leaves the end-to-end dynamics. So "Adam on a deep net" and "depth as an implicit
# Adam-like optimizer" are different things: the figure compares optimizers,
# and under Adam depth no longer means what Theorem 1 says it means.
#
# The figure
# ----------
# One panel per data set and optimizer, one line per architecture (mean over
# seeds at its best lr on the report's grid; band: range over seeds). The CSV
# holds every seed's curve at its best lr.

# %%
run_ids = {name: {(r.optimizer, r.arch): (r.run_ids, r.best_lr)
                  for r in res.best().itertuples()} for name, res in results.items()}
parts = []
for name, res in results.items():
    frame = res.curves_frame()
    chosen = [r for ids, _ in run_ids[name].values() for r in ids]
    frame = frame[frame["run"].isin(chosen)].drop(columns="loss").rename(columns={"value": "loss"})
    parts.append(frame.assign(dataset=name))
frame = pd.concat(parts, ignore_index=True)[
    ["dataset", "arch", "depth", "init", "optimizer", "lr", "seed", "step", "loss"]]

colors = {"[]": "black", "[1]": "#9ecae1", "[10]": "#4292c6", "[64]": "#08306b",
          "[1,1]": "#fdae6b", "[10,10]": "#f16913", "[64,64]": "#7f2704"}
labels = {"sgd": "gradient descent (SGD, full batch)", "adam": "Adam"}
fig, axes = plt.subplots(2, 2, figsize=(12, 8.6), sharex=True, sharey="row",
                         constrained_layout=True)
for row, name in enumerate(datasets):
    for col, optimizer in enumerate(("sgd", "adam")):
        ax = axes[row, col]
        part = frame[(frame["dataset"] == name) & (frame["optimizer"] == optimizer)]
        for arch in ARCHS:
            curves = part[part["arch"] == arch]
            stats = curves.groupby("step")["loss"].agg(["mean", "min", "max"])
            depth = int(curves["depth"].iloc[0])
            lr = run_ids[name][(optimizer, arch)][1]
            ax.plot(stats.index, stats["mean"], "--" if depth == 3 else "-",
                    color=colors[arch], lw=1.6, label=f"{arch} (lr {lr:g})")
            ax.fill_between(stats.index, stats["min"], stats["max"], color=colors[arch],
                            alpha=0.18, lw=0)
        ax.set_yscale("log")
        ax.set_ylim(0.85 * frame.loc[frame["dataset"] == name, "loss"].min(), 3.0)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title(f"{tutorial.data_caption(datasets[name])}\nnear-identity init, "
                     f"{labels[optimizer]}", fontsize=9)
        ax.legend(fontsize=7.5, ncol=2, title="hidden widths (best lr)", title_fontsize=7.5)
    axes[row, 0].set_ylabel("training MSE")
for ax in axes[1]:
    ax.set_xlabel("step (full batch)")

wins = sum(int((t["adam / sgd"] < 1).sum()) for t in tables.values())
total = sum(len(t) for t in tables.values())
best = {name: t["adam loss"].idxmin() for name, t in tables.items()}
fig.suptitle(
    f"Adam ends below gradient descent for {wins} of {total} (architecture, data set) pairs "
    f"({STEPS} steps, lr \u2264 {max(LRS):g}); lowest with Adam:\n{best['abalone']} on "
    f"Abalone, {best['ethanol']} on Ethanol. Adam is not the dynamics of Theorem 1: it "
    "breaks the balancedness that the theorem needs.", fontsize=10.5)
tutorial.save(fig, frame, NAME, FIGURES)
