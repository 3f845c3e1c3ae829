# %% [markdown]
# # 9. The learning-rate landscape: how fragile is "the best lr" after 100 steps?
#
# The report of Levy & Wang compares architectures by training each one for
# 100 full-batch SGD steps at every learning rate of a grid
# (1e-5, 5e-5, ..., 1e-2) and keeping the lr with the lowest final training
# loss. Two questions decide whether that comparison means anything:
#
# 1. Is the best lr inside the grid? If it sits at the top edge, a wider
#    grid might pick another lr, and with it another winner.
# 2. What happens near the largest usable lr? The report saw "unexplained
#    bursts in the loss" of its deeper nets. We show where they come from.
#
# The protocol is the report's (PyTorch's default init, plain SGD, l2 loss,
# 100 steps, the whole data set), on Abalone and Ethanol, but on a wider lr
# grid (1e-5 to 1, 13 values, containing the report's 7). Every cell of the
# heatmap is the mean final loss over the seeds; a cell counts as *diverged*
# if any of its seeds diverged (the rule of `Results.best`: a diverged run is
# never chosen). We also rerun the grid with 1000 steps.
#
# Conventions: W_e = W_N ... W_1 (the report writes the product in the other
# order, W_1 first); predictions are X @ W_e.T.
#
# It writes figures/09_learning_rate_landscape.png (and .csv).

# %%
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

import deeplinear as dl  # noqa: E402
from deeplinear import tutorial  # noqa: E402
from deeplinear.experiments import REPORT_HIDDEN, REPORT_LRS, grid_search  # noqa: E402

SEED = 0
rng = np.random.default_rng(SEED)
FIGURES = tutorial.figures_dir(Path(__file__).resolve().parent.parent / "figures")
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

# %% [markdown]
# ## The stability edge of depth 1
# For depth 1 the l2 loss L(w) = mean((X w^T - Y)^2) is a quadratic with the
# constant Hessian H = 2 X^T X / n. One SGD step multiplies the error along
# the top eigenvector of H by (1 - lr * lambda_max(H)), so gradient descent
# converges if lr < 2 / lambda_max(H) and blows up exponentially if lr is
# larger: nothing in between, and no bursts. The sharpness lambda_max(H) is
# fixed by the data.

# %%
edge = {}
for name in DATASETS:
    X = data[name].X
    lam = float(np.linalg.eigvalsh(2 * X.T @ X / len(X)).max())
    edge[name] = 2 / lam
    print(f"{name}: lambda_max(2 X^T X / n) = {lam:.4g}, depth-1 edge 2/lambda_max = {2 / lam:.4g}")

# %% [markdown]
# ## The grid: every architecture, every lr, two step budgets
# `grid_search` starts all lrs of one (architecture, seed) from the same
# factors. Two cores, so two worker processes.

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
# One cell = (dataset, budget, arch, lr): mean final loss over seeds; inf if any seed diverged.
cells = (runs.groupby(["dataset", "steps_budget", "arch", "depth", "lr"], sort=False)
         .agg(final_loss=("final_loss", "mean"), diverged=("diverged", "any"))
         .reset_index())

for name in DATASETS:
    table = (cells[(cells["dataset"] == name) & (cells["steps_budget"] == SHORT)]
             .pivot(index="arch", columns="lr", values="final_loss").loc[ARCHS])
    print(f"\n{name}: mean final loss after {SHORT} steps (inf = some seed diverged)")
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))

# %% [markdown]
# ## The best lr depends on the grid and on the budget
# For each architecture: the best lr within the report's grid and within
# the wide grid, after the report's 100 steps and after the longer budget,
# and where each architecture ranks (1 = lowest loss) in each setting.

# %%
def best_rows(frame, lrs):
    """Per arch: the lr with the lowest mean final loss among non-diverged cells of ``lrs``."""
    ok = frame[frame["lr"].isin(lrs) & ~frame["diverged"]]
    best = ok.loc[ok.groupby("arch", sort=False)["final_loss"].idxmin()].set_index("arch")
    return best.loc[[a for a in ARCHS if a in best.index]]


report_lrs = [lr for lr in REPORT_LRS if lr in WIDE_LRS]
summary = []
for name in DATASETS:
    for steps in BUDGETS:
        frame = cells[(cells["dataset"] == name) & (cells["steps_budget"] == steps)]
        for grid, lrs in (("report", report_lrs), ("wide", WIDE_LRS)):
            best = best_rows(frame, lrs)
            best = best.assign(rank=best["final_loss"].rank(method="min").astype(int))
            for arch, row in best.iterrows():
                summary.append({"dataset": name, "arch": arch, "steps": steps, "grid": grid,
                                "best_lr": row["lr"], "loss": row["final_loss"],
                                "rank": row["rank"]})
summary = pd.DataFrame(summary)
wide_table = summary.pivot_table(index=["dataset", "arch"], columns=["steps", "grid"],
                                 values=["best_lr", "loss", "rank"], sort=False)
wide_table = wide_table.reorder_levels([1, 2, 0], axis=1).reindex(
    columns=pd.MultiIndex.from_product([BUDGETS, ["report", "wide"], ["best_lr", "loss", "rank"]]))
print("best lr, mean final loss at it and rank, per budget (steps) and lr grid:")
print(wide_table.to_string(float_format=lambda v: f"{v:.4g}"))

for name in DATASETS:
    s = summary[summary["dataset"] == name]
    lines = []
    for steps in BUDGETS:
        for grid in ("report", "wide"):
            g = s[(s["steps"] == steps) & (s["grid"] == grid)].sort_values("loss")
            top = g.iloc[0]
            d1 = g[g["arch"] == "[]"].iloc[0]
            lines.append(f"  {steps:>5} steps, {grid:>6} grid: best {top['arch']} at lr "
                         f"{top['best_lr']:g} ({top['loss']:.4g}); depth 1 ranks "
                         f"{d1['rank']}/{len(g)} at lr {d1['best_lr']:g} ({d1['loss']:.4g})")
    print(f"{name}:\n" + "\n".join(lines))

# %% [markdown]
# Read the table column by column. On the report's grid, after 100 steps,
# the best lr of (almost) every architecture is the top value 0.01: the grid
# stops before the loss stops improving. On the wide grid each architecture
# moves up to the largest lr it survives, and that limit differs between
# architectures: depth 1 on Ethanol diverges right above 0.01 (its edge
# 2/lambda_max is printed above), while deeper nets survive larger lrs (on
# Ethanol their sharpness at the start is several times smaller than depth
# 1's, see the next section) and then catch up with or beat depth 1. Which
# depth "wins" after 100 steps is decided by who tolerates the largest lr,
# not by a lasting difference in speed. With the longer budget the
# differences between architectures shrink, and the ranking changes again.

# %% [markdown]
# ## Where the bursts come from: a sharpness that grows during training
# For a deep net the loss is no longer a quadratic in the parameters, and its
# sharpness (the top eigenvalue of the Hessian with respect to all the
# factors) changes as training proceeds. Theorem 1 of Arora et al. says how:
# on balanced factors one SGD step moves W_e by lr times a preconditioned
# gradient, and for a single output the preconditioner is
# ||W_e||^(2 - 2/N) (times N along W_e itself). So the effective step is
# about lr * lambda_max(H) * ||W_e||^(2 - 2/N): it starts small, because the
# default init gives a small ||W_e||, and grows as ||W_e|| grows towards the
# solution. A run whose lr is stable at the start can therefore cross
# lr * sharpness = 2 later. Then the error along the top direction grows
# by a factor |1 - lr * sharpness| per step: tiny at first, so the loss still
# falls for a while, then a sudden burst. The burst throws the weights to a
# point of smaller ||W_e||, hence smaller sharpness, and the run recovers,
# only to climb again: periodic bursts. (Cohen et al., ICLR 2021, call this
# regime the "edge of stability".)
#
# The formula is derived for balanced factors (W_{j+1}^T W_{j+1} =
# W_j W_j^T). PyTorch's default init is far from balanced, and gradient
# descent (with a small lr) conserves the difference W_{j+1}^T W_{j+1} -
# W_j W_j^T, so the formula misses part of the sharpness, most at the start
# and most on Abalone; what it does capture is the growth with ||W_e|| that
# carries a run over the edge, and the drop of ||W_e|| in a burst.
#
# We measure the sharpness along real runs of the grid above. Power
# iteration needs only Hessian-vector products, and a Hessian-vector
# product is a difference of two gradients:
#
#     H v ~ (grad L(theta + eps v) - grad L(theta - eps v)) / (2 eps).
#
# The trajectory is plain SGD written out, W_j <- W_j - lr dL/dW_j, which
# reproduces the compiled runs of the grid exactly.

# %%
def flatten(factors):
    return np.concatenate([W.ravel() for W in factors])


def unflatten(theta, like):
    out, i = [], 0
    for W in like:
        out.append(theta[i:i + W.size].reshape(W.shape))
        i += W.size
    return out


def sharpness(objective, factors, v, iters, eps=1e-4):
    """Top Hessian eigenvalue by power iteration, warm-started from ``v``."""
    theta = flatten(factors)
    lam = 0.0
    for _ in range(iters):
        v = v / np.linalg.norm(v)
        g_plus = flatten(objective.value_and_grads(unflatten(theta + eps * v, factors))[1])
        g_minus = flatten(objective.value_and_grads(unflatten(theta - eps * v, factors))[1])
        hv = (g_plus - g_minus) / (2 * eps)
        lam, v = float(v @ hv), hv
    return lam, v


def follow(name, hidden, lr, seed, steps, every, iters):
    """SGD from the grid's start; loss every step, sharpness every ``every`` steps."""
    X, Y = data[name].X, data[name].Y
    objective = dl.Objective(X, Y, "l2")
    lam_data = 2 / edge[name]                      # lambda_max(2 X^T X / n)
    depth = len(hidden) + 1
    factors = dl.init.default([X.shape[1], *hidden, Y.shape[1]], rng=seed)
    v = np.random.default_rng(seed).standard_normal(flatten(factors).size)
    rows = []
    for t in range(steps + 1):
        value, grads = objective.value_and_grads(factors)
        row = {"step": t, "loss": value}
        if t % every == 0:
            lam, v = sharpness(objective, factors, v, iters=50 if t == 0 else iters)
            norm = float(np.linalg.norm(dl.end_to_end(factors)))
            row.update(lr_sharpness=lr * lam, norm_e=norm,
                       lr_sharpness_formula=lr * lam_data * norm ** (2 - 2 / depth),
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
curves = []
for name, hidden, lr, seed in EXAMPLES:
    c = follow(name, hidden, lr, seed, CURVE_STEPS, EVERY, ITERS)
    arch = "[" + ",".join(map(str, hidden)) + "]"
    curves.append(c.assign(dataset=name, arch=arch, depth=len(hidden) + 1, lr=lr, seed=seed))
curves = pd.concat(curves, ignore_index=True)

print("\nbursts: the first step where the loss exceeds 1.5x its running minimum, and how"
      " long lr * sharpness had been above 2 before it")
for key, c in curves.groupby(["dataset", "arch", "lr", "seed"], sort=False):
    loss = c["loss"].to_numpy()
    ratio = loss / np.minimum.accumulate(loss)
    burst = np.nonzero(ratio > 1.5)[0]
    s = c.dropna(subset=["lr_sharpness"])
    text = (f"first burst at step {int(c['step'].iloc[burst[0]])}" if burst.size
            else "no burst")
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

first = curves[(curves["dataset"] == EXAMPLES[0][0]) & (curves["lr"] == EXAMPLES[0][2])
               & (curves["depth"] == len(EXAMPLES[0][1]) + 1)].dropna(subset=["lr_sharpness"])
print(f"\n{EXAMPLES[0][0]} [64,64] lr {EXAMPLES[0][2]:g}: loss, measured lr*sharpness and the "
      "formula lr*lambda_max(H)*||W_e||^(2-2/N), every 10 steps")
print(first[first["step"] % 10 == 0][["step", "loss", "lr_sharpness", "lr_sharpness_formula",
                                      "norm_e"]].head(12).to_string(index=False,
                                                                    float_format="%.3g"))

# %% [markdown]
# The printout shows the sequence in each deep run: lr * sharpness climbs
# past 2 together with ||W_e||, the loss keeps falling for a few dozen steps
# while the unstable direction grows from rounding-size, then the burst. The
# depth-1 run sits at a constant lr * sharpness below 2 and never bursts.
# The report's Figure 3 shows the same shape for its [64,64] net with
# PyTorch's default init on Ethanol (a spike near step 60 that recovers);
# its networks have biases and its data differ, so the exact lr at which it
# happens differs.
#
# How common are bursts in the grid? We count, per architecture, the runs that
# did not diverge but whose loss rose above 1.5 times its running minimum,
# and the runs that diverged only after 20 steps (late divergence). Depth 1
# has neither: its loss is a quadratic.

# %%
def burst_counts(res, name, steps):
    out = []
    for run, (s, loss) in enumerate(res.curves):
        row = res.runs.iloc[run]
        ratio = loss / np.minimum.accumulate(loss)
        burst = (not row["diverged"]) and bool(np.any(ratio[5:] > 1.5))
        late = bool(row["diverged"]) and int(s[-1]) > 20
        out.append({"dataset": name, "steps": steps, "arch": row["arch"], "lr": row["lr"],
                    "burst": burst, "late_divergence": late})
    return out


bursts = pd.DataFrame([r for (name, steps), res in results.items()
                       for r in burst_counts(res, name, steps)])
burst_table = bursts.groupby(["dataset", "steps", "arch"], sort=False).agg(
    runs_with_burst=("burst", "sum"), late_divergences=("late_divergence", "sum"),
    lowest_lr_with_burst=("lr", lambda lr: lr[bursts.loc[lr.index, "burst"]].min()))
print(burst_table.unstack("steps").to_string(float_format=lambda v: f"{v:g}"))

# %% [markdown]
# ## The figure
# Top: the heatmaps (colour = mean final loss after 100 steps, log scale;
# hatched grey x = diverged). The dashed box is the report's lr grid, the
# black box the best lr per architecture, the white dot the best lr after
# the longer budget, the red line depth 1's edge 2/lambda_max. Bottom: the
# example runs, loss and lr * sharpness.

# %%
fig = plt.figure(figsize=(15, 10.5), constrained_layout=True)
grid = fig.add_gridspec(2, 2, height_ratios=[1.0, 1.0])
col_of = {lr: i for i, lr in enumerate(WIDE_LRS)}


def lr_position(lr):
    """Column coordinate of any lr, interpolated in log scale between grid columns."""
    logs = np.log10(WIDE_LRS)
    return float(np.interp(np.log10(lr), logs, np.arange(len(WIDE_LRS))))


for k, name in enumerate(DATASETS):
    ax = fig.add_subplot(grid[0, k])
    frame = cells[(cells["dataset"] == name) & (cells["steps_budget"] == SHORT)]
    values = frame.pivot(index="arch", columns="lr", values="final_loss").loc[ARCHS, WIDE_LRS]
    div = frame.pivot(index="arch", columns="lr", values="diverged").loc[ARCHS, WIDE_LRS]
    shown = np.ma.masked_where(div.to_numpy() | ~np.isfinite(values.to_numpy()),
                               values.to_numpy())
    norm = LogNorm(vmin=shown.min(), vmax=shown.max())
    mesh = ax.imshow(shown, cmap="viridis_r", norm=norm, aspect="auto")
    for i, arch in enumerate(ARCHS):
        for j, lr in enumerate(WIDE_LRS):
            if div.loc[arch, lr]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.85",
                                       edgecolor="0.5", hatch="///", lw=0))
                ax.text(j, i, "x", ha="center", va="center", color="crimson",
                        fontsize=10, fontweight="bold")
            else:
                v = values.loc[arch, lr]
                light = norm(v) > 0.55
                ax.text(j, i, f"{v:.3f}" if v < 1 else f"{v:.2f}", ha="center", va="center",
                        fontsize=6.5, color="black" if not light else "white")
    for arch, row in best_rows(frame, WIDE_LRS).iterrows():
        ax.add_patch(Rectangle((col_of[row["lr"]] - 0.5, ARCHS.index(arch) - 0.5), 1, 1,
                               fill=False, edgecolor="black", lw=2.2))
    long = cells[(cells["dataset"] == name) & (cells["steps_budget"] == LONG)]
    for arch, row in best_rows(long, WIDE_LRS).iterrows():
        ax.plot(col_of[row["lr"]] + 0.33, ARCHS.index(arch) - 0.3, "o", ms=5,
                mfc="white", mec="black", mew=0.8)
    cols = [col_of[lr] for lr in report_lrs]
    ax.add_patch(Rectangle((min(cols) - 0.45, -0.45), max(cols) - min(cols) + 0.9,
                           len(ARCHS) - 0.1, fill=False, edgecolor="tab:orange", lw=2, ls="--"))
    ax.text((min(cols) + max(cols)) / 2, -0.65, "the report's lr grid", ha="center",
            va="bottom", fontsize=8.5, color="tab:orange")
    x_edge = lr_position(edge[name])
    ax.axvline(x_edge, color="crimson", lw=1.5)
    ax.text(x_edge, len(ARCHS) - 0.47, f"2/λmax = {edge[name]:.3g}", color="crimson",
            fontsize=8, va="top", ha="center", bbox=dict(facecolor="white", edgecolor="none",
                                                         pad=0.5))
    ax.set_xticks(range(len(WIDE_LRS)), [f"{lr:g}" for lr in WIDE_LRS], rotation=45, fontsize=8)
    ax.set_yticks(range(len(ARCHS)), ARCHS, fontsize=9)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("hidden widths (depth = count + 1)")
    ax.set_ylim(len(ARCHS) - 0.5 + 0.45, -0.5 - 0.45)
    ax.set_title(f"{tutorial.data_caption(data[name])}\nmean final l2 loss after {SHORT} "
                 f"steps, {len(SEEDS)} seed(s); x = some seed diverged", fontsize=9)
    fig.colorbar(mesh, ax=ax, shrink=0.9, label=f"final training loss ({SHORT} steps)")
handles = [Rectangle((0, 0), 1, 1, fill=False, edgecolor="black", lw=2.2),
           Line2D([], [], ls="", marker="o", mfc="white", mec="black"),
           Rectangle((0, 0), 1, 1, fill=False, edgecolor="tab:orange", lw=2, ls="--"),
           Line2D([], [], color="crimson"),
           Patch(facecolor="0.85", edgecolor="0.5", hatch="///")]
labels = [f"best lr after {SHORT} steps", f"best lr after {LONG} steps", "report's lr grid",
          "depth-1 stability edge 2/λmax(2XᵀX/n)", "diverged"]
fig.legend(handles, labels, loc="outside lower center", ncol=5, fontsize=9, frameon=False)

ax_loss = fig.add_subplot(grid[1, 0])
ax_sharp = fig.add_subplot(grid[1, 1], sharex=ax_loss)
colors = ["tab:blue", "tab:purple", "tab:green", "0.3"]
for color, (key, c) in zip(colors, curves.groupby(["dataset", "arch", "lr", "seed"],
                                                  sort=False)):
    label = f"{key[0]} {key[1]}, lr {key[2]:g}"
    ax_loss.plot(c["step"], c["loss"], color=color, lw=1.2, label=label)
    s = c.dropna(subset=["lr_sharpness"])
    ax_sharp.plot(s["step"], s["lr_sharpness"], color=color, lw=1.2, label=label)
    if key[1] != "[]":  # for depth 1 the formula is the measured value
        ax_sharp.plot(s["step"], s["lr_sharpness_formula"], color=color, lw=0.9, ls=":")
for ax in (ax_loss, ax_sharp):
    ax.axvline(SHORT, color="0.5", lw=1, ls="--")
    ax.text(SHORT, 1.0, f" report's budget ({SHORT} steps)", transform=ax.get_xaxis_transform(),
            fontsize=8, color="0.4", va="top")
    ax.set_xlabel("step")
    ax.grid(True, which="both", alpha=0.3)
ax_loss.set_yscale("log")
ax_loss.set_ylabel("training loss (l2)")
ax_loss.set_title("Loss along the runs: deep nets near the edge burst and recover; "
                  "depth 1 cannot", fontsize=9)
ax_loss.legend(fontsize=8, loc="upper right")
ax_sharp.axhline(2, color="crimson", lw=1.5)
ax_sharp.text(0, 2, " lr·sharpness = 2: stability edge", color="crimson", fontsize=8,
              va="bottom")
ax_sharp.set_yscale("log")
ax_sharp.set_ylabel("lr × sharpness (top Hessian eigenvalue)")
ax_sharp.set_title("lr × sharpness along the same runs. Solid: measured (power iteration); "
                   "dotted: balanced-factor\nformula lr·λmax(2XᵀX/n)·‖W_e‖^(2−2/N); "
                   "a burst follows each crossing of 2", fontsize=9)
ax_sharp.legend(fontsize=8, loc="lower right")

e = summary[(summary["steps"] == SHORT)]


def top(name, grid_name):
    g = e[(e["dataset"] == name) & (e["grid"] == grid_name)].sort_values("loss").iloc[0]
    return f"{g['arch']} at {g['best_lr']:g}"


fig.suptitle(
    f"With {SHORT} SGD steps the best lr sits at the stability edge, so widening the grid changes "
    f"the winner (Ethanol: {top('ethanol', 'report')} on the report's grid, "
    f"{top('ethanol', 'wide')} on the wide one).\nNear the edge a deep net's sharpness grows "
    "with ‖W_e‖ until lr·sharpness > 2: the loss bursts, ‖W_e‖ drops, and it recovers "
    "(the report's 'unexplained bursts').", fontsize=10.5)

# %% [markdown]
# ## The data behind the figure
# One CSV, long format, with a `kind` column: `run` rows are the grid (one
# per data set, budget, architecture, lr and seed; final_loss is inf for a
# diverged run); `curve` rows are the example runs, one per step.

# %%
run_rows = runs.assign(kind="run")[["kind", "dataset", "arch", "depth", "lr", "steps_budget",
                                    "seed", "final_loss", "diverged"]]
curve_rows = curves.assign(kind="curve", steps_budget=CURVE_STEPS, diverged=False)
frame = pd.concat([run_rows, curve_rows[["kind", "dataset", "arch", "depth", "lr",
                                         "steps_budget", "seed", "step", "loss",
                                         "lr_sharpness", "lr_sharpness_formula", "norm_e",
                                         "balancedness"]]],
                  ignore_index=True)
print(f"\ntotal time {time.perf_counter() - START:.1f} s")
tutorial.save(fig, frame, NAME, FIGURES)
