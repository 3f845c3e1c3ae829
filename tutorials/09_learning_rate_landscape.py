r"""9. The learning-rate landscape: how fragile is "the best lr" after 100 steps?
=============================================================================

The report of Levy & Wang trains each architecture for 100 full-batch SGD steps at
every lr of a grid (:math:`10^{-5}, 5 \times 10^{-5}, \dots, 10^{-2}`) and keeps the lr
with the lowest final loss. Two questions decide whether that comparison means anything:
is the best lr inside the grid (if it sits at the top edge, a wider grid might pick
another winner)? And what happens near the largest usable lr, where the report saw
"unexplained bursts in the loss"?

The protocol is the report's (PyTorch's default init, plain SGD, :math:`\ell_2`, 100
steps, all the data) on Abalone and Ethanol, on a wider grid (:math:`10^{-5}` to 1, 13
lrs with the report's 7), and with 1000 steps. A heatmap cell is the mean final loss
over seeds, *diverged* if any seed diverged (`Results.best`'s rule).
:math:`W_e = W_N \cdots W_1` (the report writes :math:`W_1` first). A full run writes
``figures/09_learning_rate_landscape.png`` and ``.csv`` (a quick run: a temporary folder).
"""

# %%
import time
from concurrent.futures import ProcessPoolExecutor
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import deeplinear as dl
from deeplinear import curvature, tutorial
from deeplinear.experiments import (REPORT_HIDDEN, REPORT_LRS, arch_name, best_lrs,
                                    grid_search, lr_cells, lr_heatmap_legend,
                                    plot_edge_of_stability, plot_lr_heatmap)

SEED = 0
rng = np.random.default_rng(SEED)
FIGURES = tutorial.figures_dir()
NAME = "09_learning_rate_landscape"
START = time.perf_counter()
pd.set_option("display.width", 200)

# The report's grid, continued up to 1 in 1-2-5 steps: 13 values.
WIDE_LRS = tutorial.pick(REPORT_LRS + (2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0),
                         (1e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2))
HIDDEN = tutorial.pick(REPORT_HIDDEN, ((), (10,), (64, 64)))
SEEDS = tutorial.pick((0, 1, 2), (0,))
BUDGETS = tutorial.pick((100, 1000), (100, 200))   # the report's budget, and a longer one
SHORT, LONG = BUDGETS
DATASETS = ("abalone", "ethanol")
data = {name: tutorial.load_data(name) for name in DATASETS}
for name in DATASETS:
    print(tutorial.data_caption(data[name]))

# %%
# The stability edge of depth 1
# -----------------------------
# For depth 1 the :math:`\ell_2` loss :math:`L(w) = \mathrm{mean}((X w^\top - Y)^2)` is a
# quadratic, with the constant Hessian :math:`H = 2 X^\top X / n`
# (`curvature.loss_hessian`). One SGD step multiplies the error along :math:`H`'s top
# eigenvector by :math:`1 - \mathrm{lr} \, \lambda_{\max}(H)`, so GD converges if
# :math:`\mathrm{lr} < 2 / \lambda_{\max}(H)` and blows up exponentially if lr is larger:
# no bursts. The sharpness (`curvature.loss_sharpness`) is the data's.

# %%
edge = {}
for name in DATASETS:
    lam = curvature.loss_sharpness(None, data[name].X, data[name].Y)  # l2: the same at every W_e
    edge[name] = 2 / lam
    print(f"{name}: lambda_max(2 X^T X / n) = {lam:.4g}, depth-1 edge 2/lambda_max = {2 / lam:.4g}")

# %%
# The grid: every architecture, every lr, two step budgets
# --------------------------------------------------------
# `grid_search` starts all lrs of one (architecture, seed) from the same factors, on two
# workers. `lr_cells` averages each cell over the seeds (diverged if any is).

# %%
results = {}
pool = ProcessPoolExecutor(2) if not tutorial.quick_mode() else None
for name in DATASETS:
    for steps in BUDGETS:
        results[name, steps] = grid_search(data[name], hidden=HIDDEN, init="default",
                                           optimizer="sgd", loss="l2", steps=steps,
                                           lrs=WIDE_LRS, seeds=SEEDS, executor=pool)
if pool is not None:
    pool.shutdown()
runs = pd.concat([res.runs.assign(dataset=name, steps_budget=steps)
                  for (name, steps), res in results.items()], ignore_index=True)
ARCHS = list(dict.fromkeys(runs["arch"]))
for name in DATASETS:
    table = lr_cells(results[name, SHORT]).pivot(index="arch", columns="lr",
                                                 values="final_loss").loc[ARCHS]
    print(f"\n{name}: mean final loss after {SHORT} steps (inf = some seed diverged)")
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))

# %%
# The best lr depends on the grid and on the budget
# -------------------------------------------------
# For each architecture: the best lr within the report's grid and within
# the wide grid (`best_lrs`: the rule of `Results.best`), after the report's
# 100 steps and after the longer budget, and its rank (1 = lowest loss).

# %%
report_lrs = [lr for lr in REPORT_LRS if lr in WIDE_LRS]
summary = pd.concat([best_lrs(res, lrs).reset_index().assign(
    dataset=name, steps=steps, grid=grid, rank=lambda b: b["final_loss"].rank(method="min"))
    for (name, steps), res in results.items()
    for grid, lrs in (("report", report_lrs), ("wide", WIDE_LRS))], ignore_index=True)
summary = summary.astype({"rank": int}).rename(columns={"lr": "best_lr", "final_loss": "loss"})
wide_table = summary.pivot_table(index=["dataset", "arch"], columns=["steps", "grid"],
                                 values=["best_lr", "loss", "rank"], sort=False)
wide_table = wide_table.reorder_levels([1, 2, 0], axis=1).reindex(
    columns=pd.MultiIndex.from_product([BUDGETS, ["report", "wide"], ["best_lr", "loss", "rank"]]))
print("best lr, mean final loss at it and rank, per budget (steps) and lr grid:")
print(wide_table.to_string(float_format=lambda v: f"{v:.4g}"))
for name in DATASETS:
    print(f"{name}:")
    for steps in BUDGETS:
        for grid in ("report", "wide"):
            g = summary[(summary["dataset"] == name) & (summary["steps"] == steps)
                        & (summary["grid"] == grid)].sort_values("loss")
            top, d1 = g.iloc[0], g[g["arch"] == "[]"].iloc[0]
            print(f"  {steps:>5} steps, {grid:>6} grid: best {top['arch']} at lr "
                  f"{top['best_lr']:g} ({top['loss']:.4g}); depth 1 ranks "
                  f"{d1['rank']}/{len(g)} at lr {d1['best_lr']:g} ({d1['loss']:.4g})")

# %%
# In the full run (the committed CSV; a quick run prints other numbers), on the report's
# grid, after 100 steps, the best lr of every architecture, on both data sets, is its top
# value 0.01. On the wide grid each one moves up to the largest lr it survives, and that
# limit differs: depth 1 on Ethanol diverges right above 0.01 (its edge, above), while
# deeper nets, whose sharpness at the start is several times smaller there, survive larger
# lrs and catch up with or beat depth 1. Who "wins" after 100 steps is who tolerates the
# largest lr, not who is lastingly faster. With the longer budget the differences shrink
# and the ranking changes again.
#
# Where the bursts come from: a sharpness that grows during training
# ------------------------------------------------------------------
# A deep net's sharpness (the top Hessian eigenvalue over all the factors) changes during
# training. By Theorem 1, on balanced factors with one output a step moves :math:`W_e` by
# :math:`\mathrm{lr} \, \|W_e\|^{2-2/N}` times the gradient (:math:`N` times that along
# :math:`W_e`), so :math:`\mathrm{lr} \cdot \text{sharpness}` is about
# :math:`\mathrm{lr} \, \lambda_{\max}(H) \, \|W_e\|^{2-2/N}`
# (`curvature.balanced_sharpness`; it ignores the default init's imbalance, which gradient
# descent conserves, so it misses part of the sharpness). It grows with :math:`\|W_e\|`,
# so a run stable at the start can cross :math:`\mathrm{lr} \cdot \text{sharpness} = 2`
# later: the error along the top direction then grows by
# :math:`|1 - \mathrm{lr} \cdot \text{sharpness}|` per step, from tiny, and the loss
# bursts. The burst throws the weights to a smaller :math:`\|W_e\|`, hence a smaller
# sharpness, and the run recovers and climbs again: the "edge of stability" (Cohen et al.,
# 2021). `curvature.sharpness` measures it along real runs by power iteration on
# Hessian-vector products, warm-started from the previous step; here each product is a
# centred difference of two gradients (``eps=1e-4``; without ``eps`` it is exact, and the
# two agree to about :math:`10^{-8}`). The run is plain SGD written out,
# :math:`W_j \leftarrow W_j - \mathrm{lr} \, \partial L / \partial W_j`, which reproduces
# the grid's runs.


# %%
def follow(name, hidden, lr, seed, steps, every, iters):
    """SGD from the grid's start; loss every step, sharpness every ``every`` steps."""
    objective, depth = dl.Objective(data[name].X, data[name].Y, "l2"), len(hidden) + 1
    lam_data = 2 / edge[name]                      # lambda_max(2 X^T X / n)
    factors = dl.init.default([data[name].d, *hidden, data[name].Y.shape[1]], rng=seed)
    v, rows = None, []
    for t in range(steps + 1):
        value, grads = objective.value_and_grads(factors)
        row = {"step": t, "loss": value}
        if t % every == 0:
            lam, v = curvature.sharpness(objective, factors, v0=v, rng=seed, eps=1e-4,
                                         iters=50 if t == 0 else iters)
            W_e = dl.end_to_end(factors)
            row.update(lr_sharpness=lr * lam, norm_e=float(np.linalg.norm(W_e)),
                       lr_sharpness_formula=curvature.balanced_sharpness(W_e, depth, lam_data,
                                                                         lr=lr),
                       balancedness=dl.balancedness(factors))
        rows.append(row)
        if not np.isfinite(value):
            break
        factors = [W - lr * G for W, G in zip(factors, grads)]
    return pd.DataFrame(rows)


# (data set, hidden widths, lr, seed): three deep runs just above the report's
# grid that burst, and depth 1 at its best lr on Ethanol for contrast.
EXAMPLES = tutorial.pick(
    [("ethanol", (64, 64), 0.05, 0), ("ethanol", (64, 64), 0.02, 0),
     ("abalone", (64, 64), 0.05, 0), ("ethanol", (), 0.01, 0)],
    [("ethanol", (64, 64), 0.05, 0), ("ethanol", (), 0.01, 0)])
CURVE_STEPS = tutorial.pick(400, 70)
EVERY, ITERS = tutorial.pick((1, 10), (5, 4))
tracked = [follow(name, hidden, lr, seed, CURVE_STEPS, EVERY, ITERS).assign(
    dataset=name, arch=arch_name(hidden), depth=len(hidden) + 1, lr=lr, seed=seed)
    for name, hidden, lr, seed in EXAMPLES]
curves = pd.concat(tracked, ignore_index=True)

print("\nbursts: the first step where the loss exceeds 1.5x its running minimum, and how"
      " long lr * sharpness had been above 2 before it")
for key, c in curves.groupby(["dataset", "arch", "lr", "seed"], sort=False):
    burst = np.nonzero(c["loss"] / np.minimum.accumulate(c["loss"]) > 1.5)[0]
    s = c.dropna(subset=["lr_sharpness"])
    text = f"first burst at step {int(c['step'].iloc[burst[0]])}" if burst.size else "no burst"
    if burst.size:  # the stretch of steps just before the burst where lr*sharpness > 2
        before = s[s["step"] < c["step"].iloc[burst[0]]]
        below = np.nonzero(before["lr_sharpness"].to_numpy() <= 2)[0]
        since = int(before["step"].iloc[below[-1] + 1]) if below.size else 0
        text += f", lr*sharpness > 2 without a break since step {since}"
    text += (f"; lr*sharpness {s['lr_sharpness'].iloc[0]:.2f} at step 0, max "
             f"{s['lr_sharpness'].max():.2f}; ||W_e|| {s['norm_e'].iloc[0]:.3f} -> max "
             f"{s['norm_e'].max():.3f}; balancedness {s['balancedness'].iloc[0]:.3g} at step 0, "
             f"{s['balancedness'].iloc[-1]:.3g} at the end")
    print(f"  {key[0]} {key[1]} lr {key[2]:g} seed {key[3]}: {text}")

first = tracked[0].dropna(subset=["lr_sharpness"])
print(f"\n{EXAMPLES[0][0]} [64,64] lr {EXAMPLES[0][2]:g}: loss, measured lr*sharpness and the "
      "formula lr*lambda_max(H)*||W_e||^(2-2/N), every 10 steps")
print(first[first["step"] % 10 == 0][["step", "loss", "lr_sharpness", "lr_sharpness_formula",
                                      "norm_e"]].head(12).to_string(index=False,
                                                                    float_format="%.3g"))

# %%
# In each deep run :math:`\mathrm{lr} \cdot \text{sharpness}` climbs past 2 with
# :math:`\|W_e\|`, the loss keeps falling for some 30 to 110 steps (in the full run) while
# the unstable direction grows from rounding size, then it bursts. Depth 1 sits at a
# constant :math:`\mathrm{lr} \cdot \text{sharpness}` below 2 (1.38) and never bursts. The
# report's Figure 3 shows the same shape for its ``[64,64]`` net on Ethanol (a spike near
# step 60 that recovers).
#
# How common are bursts in the grid? Per architecture, the runs that did not diverge but
# rose above 1.5 times their running minimum, and the runs that diverged only after 20
# steps. Depth 1 has neither.

def burst_counts(res, name, steps):
    return [{"dataset": name, "steps": steps, "arch": row.arch, "lr": row.lr,
             "burst": not row.diverged and bool(np.any((loss / np.minimum.accumulate(loss))[5:]
                                                       > 1.5)),
             "late_divergence": bool(row.diverged) and int(s[-1]) > 20}
            for row, (s, loss) in zip(res.runs.itertuples(), res.curves)]


bursts = pd.DataFrame([r for (name, steps), res in results.items()
                       for r in burst_counts(res, name, steps)])
burst_table = bursts.groupby(["dataset", "steps", "arch"], sort=False).agg(
    runs_with_burst=("burst", "sum"), late_divergences=("late_divergence", "sum"),
    lowest_lr_with_burst=("lr", lambda lr: lr[bursts.loc[lr.index, "burst"]].min()))
print(burst_table.unstack("steps").to_string(float_format=lambda v: f"{v:g}"))

# %%
# The figure
# ----------
# Top: `plot_lr_heatmap` of the 100-step grids, the white dot the best lr
# after the longer budget. Bottom: `plot_edge_of_stability` of the example runs.

# %%
fig = plt.figure(figsize=(15, 10.5), constrained_layout=True)
grid = fig.add_gridspec(2, 2, height_ratios=[1.0, 1.0])
for k, name in enumerate(DATASETS):
    ax = fig.add_subplot(grid[0, k])
    image = plot_lr_heatmap(results[name, SHORT], ax, archs=ARCHS, lrs=WIDE_LRS,
                            marks=best_lrs(results[name, LONG], WIDE_LRS)["lr"].to_dict(),
                            lr_box=report_lrs, lr_box_label="the report's lr grid",
                            edge=edge[name], edge_label=f"2/λmax = {edge[name]:.3g}")
    ax.set_title(f"{tutorial.data_caption(data[name])}\nmean final l2 loss after {SHORT} "
                 f"steps, {len(SEEDS)} seed(s); x = some seed diverged", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.9, label=f"final training loss ({SHORT} steps)")
lr_heatmap_legend(fig, best=f"best lr after {SHORT} steps", marks=f"best lr after {LONG} steps",
                  lr_box="report's lr grid", edge="depth-1 stability edge 2/λmax(2XᵀX/n)")

ax_loss = fig.add_subplot(grid[1, 0])
ax_sharp = fig.add_subplot(grid[1, 1], sharex=ax_loss)
plot_edge_of_stability(curves, ax_loss, ax_sharp, colors=["tab:blue", "tab:purple", "tab:green",
                       "0.3"], mark_step=SHORT, mark_label=f"report's budget ({SHORT} steps)")
ax_loss.set_title("Loss along the runs: deep nets near the edge burst and recover; "
                  "depth 1 cannot", fontsize=9)
ax_sharp.set_title("lr × sharpness along the same runs. Solid: measured (power iteration); "
                   "dotted: balanced-factor\nformula lr·λmax(2XᵀX/n)·‖W_e‖^(2−2/N); "
                   "a burst follows each crossing of 2", fontsize=9)

def top(name, grid_name):
    g = summary[(summary["steps"] == SHORT) & (summary["dataset"] == name)
                & (summary["grid"] == grid_name)].sort_values("loss").iloc[0]
    return f"{g['arch']} at {g['best_lr']:g}"


fig.suptitle(
    f"With {SHORT} SGD steps the best lr sits at the stability edge, so widening the grid changes "
    f"the winner (Ethanol: {top('ethanol', 'report')} on the report's grid, "
    f"{top('ethanol', 'wide')} on the wide one).\nNear the edge a deep net's sharpness grows "
    "with ‖W_e‖ until lr·sharpness > 2: the loss bursts, ‖W_e‖ drops, and it recovers "
    "(the report's 'unexplained bursts').", fontsize=10.5)

# %%
# The data behind the figure: one CSV in long format with a ``kind`` column: ``run`` rows
# are the grid (``final_loss`` inf for a diverged run), ``curve`` rows the example runs.
run_rows = runs.assign(kind="run")[["kind", "dataset", "arch", "depth", "lr", "steps_budget",
                                    "seed", "final_loss", "diverged"]]
curve_rows = curves.assign(kind="curve", steps_budget=CURVE_STEPS, diverged=False)
frame = pd.concat([run_rows, curve_rows[["kind", "dataset", "arch", "depth", "lr",
                                         "steps_budget", "seed", "step", "loss",
                                         "lr_sharpness", "lr_sharpness_formula", "norm_e",
                                         "balancedness"]]], ignore_index=True)
print(f"\ntotal time {time.perf_counter() - START:.1f} s")
tutorial.save(fig, frame, NAME, FIGURES)
