r"""7. One extra scalar against AdaGrad and AdaDelta (the paper's headline)
=======================================================================

Arora, Cohen & Hazan (2018) close their experiments with a striking claim on the
Ethanol :math:`\ell_4` regression (tutorial 6): plain gradient descent on a depth-2
linear net, even one whose hidden layer has width 1, beat gradient descent *and* the
adaptive optimizers AdaGrad and AdaDelta on the linear model itself. Width 1 means a
single extra parameter: :math:`W_e = w_2 w_1`, with :math:`w_1` a :math:`1 \times d`
row and :math:`w_2` a scalar. (We write products last layer first,
:math:`W_e = W_N \cdots W_1`; the Levy & Wang report writes them in the other order,
:math:`W_1 W_2`.)

What the extra scalar does. From balanced factors (here
:math:`w_2^2 = \|w_1\|^2`), Theorem 1 with :math:`N = 2` says gradient descent moves
:math:`W_e` by

.. math::

    W_e \leftarrow W_e - \mathrm{lr} \, \|W_e\| \, (g + P g), \qquad
    g = \partial L / \partial W_e, \quad P g = \text{the part of } g \text{ along } W_e.

The step is scaled by :math:`\|W_e\|`, which grows during training: an lr that
rises as the fit improves, the same for every coordinate. The two adaptive
optimizers we compare with (written out in `dl.optim`, following
torch.optim's rules and defaults) adapt each coordinate :math:`i` separately:

* AdaGrad steps by :math:`\mathrm{lr} \, g_i / (\sqrt{\sum_{s \le t} g_{i,s}^2} + 10^{-10})`,
  a sum over the past steps. The sum only grows, so the step can only shrink
  relative to :math:`g`.
* AdaDelta (:math:`\rho = 0.9`, :math:`\epsilon = 10^{-6}`) steps by
  :math:`\mathrm{lr} \, g_i \, \mathrm{RMS}[\Delta x_i] / \mathrm{RMS}[g_i]`, with
  running means of the past squared steps :math:`\Delta x` and gradients :math:`g`.
  When gradients get smaller the ratio can grow: AdaDelta can raise its step.

Tutorial 6 showed that :math:`\ell_4` wants a step that rises during training (its
curvature falls as the residuals shrink). So we expect the extra scalar to beat
AdaGrad clearly; AdaDelta, which can also raise its step, is the real contest.

Protocol: the package's preset "paper-vs-adagrad-adadelta" (its hidden widths,
balanced start, :math:`\ell_4` loss), with our own lr grids: finer for gradient
descent (GD), and for each adaptive optimizer a grid around its best lr (we searched
wider first; torch's defaults, lr 0.01 for AdaGrad and 1.0 for AdaDelta, are in or
next to them). All runs start from the same end-to-end row :math:`W_e` (entries
:math:`\mathcal{N}(0, 0.01^2)`), :math:`10^5` full-batch steps, loss recorded every
100, each method at its best lr (lowest final loss, never diverged). A full run
writes ``figures/07_paper_vs_adagrad_adadelta.png`` and ``.csv`` (a quick run: a
temporary folder); the CSV holds each seed's best-lr curve (``seed`` 0, 1, 2) and
their mean (``seed`` "mean"), so every per-seed claim below can be checked there.
"""

# %%
import time
from concurrent.futures import ProcessPoolExecutor
import matplotlib.pyplot as plt
from matplotlib.ticker import FormatStrFormatter
import numpy as np
import pandas as pd

from deeplinear import tutorial
from deeplinear.experiments import PRESETS, Results, grid_search

SEEDS = tutorial.pick((0, 1, 2), (0,))   # the grid draws every start from its seed
FIGURES = tutorial.figures_dir()
NAME = "07_paper_vs_adagrad_adadelta"
pd.set_option("display.width", 160)

STEPS = tutorial.pick(100_000, 1000)
RECORD_EVERY = tutorial.pick(100, 10)
LRS = {
    "sgd": tutorial.pick((1e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3), (5e-4,)),
    "adagrad": tutorial.pick((5e-3, 1e-2, 2e-2, 5e-2), (1e-2,)),
    "adadelta": tutorial.pick((2e-3, 5e-3, 1e-2, 2e-2, 1.0), (5e-3,)),
}

data = tutorial.load_data("ethanol")
CAPTION = tutorial.data_caption(data)
print(CAPTION)
preset = PRESETS["paper-vs-adagrad-adadelta"]
print(f"preset {preset.name!r}: {preset.description}")
for grid in preset.grids:
    print("  ", {k: grid[k] for k in ("hidden", "optimizer", "loss", "lrs")})

# %%
# The runs
# --------
# Each grid of the preset, with our lrs, steps and recording. In full mode a
# process pool runs them on two cores (its workers are forked from this
# process, after `grid_search` has compiled the kernels, so no `__main__`
# guard is needed); quick mode runs serially.

# %%
grids = [{**grid, "lrs": LRS[grid["optimizer"]], "steps": STEPS, "seeds": SEEDS,
          "record_every": RECORD_EVERY} for grid in preset.grids]
start = time.perf_counter()
if tutorial.quick_mode():
    parts = [grid_search(data, **grid) for grid in grids]
else:
    with ProcessPoolExecutor(2) as pool:
        parts = [grid_search(data, executor=pool, **grid) for grid in grids]
res = Results.concat(parts)
assert not res.failures(), res.failure_notes()[0]   # a run raised: the grid went on, we stop
print(f"{len(res.runs)} runs of {STEPS} steps in {time.perf_counter() - start:.1f} s")

NAMES = {"sgd": "GD", "adagrad": "AdaGrad", "adadelta": "AdaDelta"}


def method(optimizer, arch):
    """A label such as "GD, depth 2 [1], one extra scalar"."""
    depth = len(arch.strip("[]").split(",")) + 1 if arch != "[]" else 1
    extra = ", one extra scalar" if arch == "[1]" else ""
    return f"{NAMES[optimizer]}, depth {depth} {arch}{extra}"


# %%
# Mean final loss over the seeds for every lr (``div``: a seed diverged, its
# loss went above :math:`10^6` times its start). Each method's best lr is
# inside its grid.

# %%
runs = res.runs.assign(method=[method(o, a) for o, a in zip(res.runs["optimizer"],
                                                            res.runs["arch"])])
for name, group in runs.groupby("method", sort=False):
    means = group.groupby("lr", sort=False)["final_loss"].mean()  # inf if a seed diverged
    cells = ", ".join(f"{lr:g}: " + ("div" if np.isinf(v) else f"{v:.4f}")
                      for lr, v in means.items())
    print(f"{name:<34} {cells}")

# %%
# Steps to target
# ---------------
# Two targets, both 1.1 times a final loss of the linear model (depth 1):
#
# * "GD target": 1.1 times the best final loss of plain GD on depth 1, the
#   baseline the paper accelerates;
# * "best target": 1.1 times the best final loss of *any* depth-1 method
#   (this is the target of `Results.summary()`, which takes every depth-1
#   run).
#
# The speed-up is GD depth 1's steps to the GD target divided by the method's.

# %%
summary = res.summary()
best = res.best().set_index(["optimizer", "arch"])
gd1 = summary[(summary["optimizer"] == "sgd") & (summary["depth"] == 1)].iloc[0]
targets = {"GD target": 1.1 * gd1["final_mean"], "best target": float(summary["target"].iloc[0])}
CHECKS = (STEPS // 100, STEPS // 10)


def first_step(steps, values, target):
    hit = np.nonzero(values <= target)[0]
    return int(steps[hit[0]]) if hit.size else None


rows, curves = [], {}
for row in summary.itertuples():
    ids = best.loc[(row.optimizer, row.arch), "run_ids"]
    if not ids:
        continue
    steps, mean, _, _ = res.mean_curve(ids)
    curves[(row.optimizer, row.arch)] = (steps, mean, row.best_lr)
    reach = {k: first_step(steps, mean, t) for k, t in targets.items()}
    seeds = {k: [first_step(*res.curves[r], t) for r in ids] for k, t in targets.items()}
    finals = res.runs.set_index("run").loc[ids, "final_loss"]
    rows.append({"method": method(row.optimizer, row.arch), "best lr": row.best_lr,
                 **{f"loss@{c}": float(mean[np.searchsorted(steps, c)]) for c in CHECKS},
                 "final loss": row.final_mean,
                 "final min-max": f"{finals.min():.4f}-{finals.max():.4f}",
                 **{f"steps to {k}": reach[k] for k in targets},
                 "GD target, per seed": ", ".join("never" if s is None else str(s)
                                                  for s in seeds["GD target"])})
table = pd.DataFrame(rows)
base = table.loc[table["method"].str.startswith("GD, depth 1"), "steps to GD target"].iloc[0]
table["speed-up vs GD depth 1"] = base / table["steps to GD target"]   # NaN: never reached
for k in targets:
    table[f"steps to {k}"] = table[f"steps to {k}"].map(
        lambda s: "never" if pd.isna(s) else int(s))
print("targets: " + ", ".join(f"{k} = {t:.4g}" for k, t in targets.items()))
print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))

# %%
# Width 1 or width 10: the same run
# ---------------------------------
# Under a balanced start with the same :math:`W_e`, the hidden width does not
# change the end-to-end dynamics at all (tutorial 8): ``[1]`` and ``[10]``
# follow the same curve at the same lr (in the committed CSV they differ by
# at most :math:`9.6 \times 10^{-15}` relative, in any seed), so the "one
# extra scalar" is all depth 2 needs here.

# %%
narrow, wide = curves.get(("sgd", "[1]")), curves.get(("sgd", "[10]"))
if narrow and wide and narrow[2] == wide[2]:
    gap = np.max(np.abs(narrow[1] - wide[1]) / np.abs(wide[1]))
    print(f"GD depth 2 at lr {wide[2]:g}: max relative difference [1] vs [10] = {gap:.1e}")

# %%
# Against the paper
# -----------------
# Read the tables above (the verdicts here are those of the full run, in the
# committed CSV, mean [min, max] over seeds 0-2; a quick run prints others):
#
# * **GD, depth 1 vs depth 2.** The extra scalar reaches the GD target 3.4
#   times sooner (19,300 [19,000, 19,800] against 65,400 [65,300, 65,600]
#   steps) and ends far lower (0.2689 [0.2672, 0.2700] against 0.4158 [0.4156,
#   0.4160]), in every seed: the acceleration of tutorial 6.
# * **AdaGrad.** Behind depth-2 GD, and at its best lr behind plain GD on
#   depth 1 too, in every seed: slower to the GD target (78,500 [76,700,
#   80,100] steps) and higher at the end (0.4304 [0.4276, 0.4330]). Its
#   per-coordinate steps shrink as the squared gradients pile up, the
#   opposite of what :math:`\ell_4` needs. This agrees with the paper.
# * **AdaDelta.** A split, not a defeat. It starts much slower (loss 4.02
#   [3.97, 4.07] at step 1000 against 1.71 for depth-2 GD: its first steps are
#   tiny, since :math:`\mathrm{RMS}[\Delta x]` starts at :math:`\sqrt{\epsilon}`),
#   then reaches the GD target sooner in every seed (16,400 [16,300, 16,600]
#   against 19,300 [19,000, 19,800] steps) but ends higher in every seed
#   (0.2746 [0.2744, 0.2747] against 0.2689 [0.2672, 0.2700]). So at
#   :math:`10^5` steps we reproduce "depth 2 beats GD and AdaGrad", but not a
#   win over AdaDelta (torch's :math:`\rho` and :math:`\epsilon`; at torch's
#   default lr 1.0 it diverges). Tutorial 10 follows the race to the paper's
#   :math:`10^6` steps.
#
# The figure
# ----------
# Best-lr curves, log-log; the dotted line is the GD target.

# %%
STYLE = {("sgd", "[]"): dict(color="C0", lw=2), ("adagrad", "[]"): dict(color="C4", lw=2),
         ("adadelta", "[]"): dict(color="C5", lw=2), ("sgd", "[1]"): dict(color="C1", lw=2.4),
         ("sgd", "[10]"): dict(color="k", lw=1, ls="--")}
fig, ax = plt.subplots(figsize=(11, 6.2), constrained_layout=True)
frames = []
for (opt, arch), (steps, mean, lr) in curves.items():
    shown = steps > 0                           # log x: the start is at step 0
    ax.plot(steps[shown], mean[shown], label=f"{method(opt, arch)} (lr {lr:g})",
            **STYLE.get((opt, arch), {}))
    ids = best.loc[(opt, arch), "run_ids"]     # each seed's curve, then their mean
    for seed, (s, v) in [*((str(res.runs.at[r, "seed"]), res.curves[r]) for r in ids),
                         ("mean", (steps, mean))]:
        frames.append(pd.DataFrame({"method": method(opt, arch), "optimizer": opt, "arch": arch,
                                    "depth": int(best.loc[(opt, arch), "depth"]),
                                    "init": "balanced", "loss": "l4", "lr": lr,
                                    "seed": seed, "step": s, "value": v}))
ax.axhline(targets["GD target"], color="gray", ls=":", lw=1.2,
           label=f"GD target: 1.1 x GD depth-1 best = {targets['GD target']:.3g}")
ax.set_xscale("log")
ax.set_yscale("log")
ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
ax.tick_params(axis="y", which="minor", labelsize=7)
ax.set_xlabel("step (log scale)")
ax.set_ylabel("training loss, l4 = mean |residual|^4 (log scale)")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=9, loc="lower left")

by_method = table.set_index("method")
deep = by_method.loc[method("sgd", "[1]")]


def contest(other):
    """("beats" | "ties" | "loses", detail): depth-2 GD against a depth-1 method, on
    steps to the GD target and on final loss."""
    row = by_method.loc[method(other, "[]")]
    steps = [np.inf if s == "never" else s for s in (deep["steps to GD target"],
                                                     row["steps to GD target"])]
    faster, lower = steps[0] < steps[1], deep["final loss"] < row["final loss"]
    if faster == lower:
        return ("beats" if faster else "loses to"), ""
    return "ties with", (f" ({'faster' if faster else 'slower'} to the GD target, "
                         f"{'lower' if lower else 'higher'} final loss)")


verdicts = {o: contest(o) for o in ("sgd", "adagrad", "adadelta")}
phrases = []
for word in ("beats", "ties with", "loses to"):
    names = [NAMES[o] + detail for o, (w, detail) in verdicts.items() if w == word]
    if names:
        phrases.append(f"{word} {' and '.join(names)}")
title = ("l4 regression: GD on depth 2 with one extra scalar " + ", ".join(phrases) + "\n"
         f"(all on depth 1); same balanced start, best lr each, {STEPS:,} steps; {CAPTION}")
fig.suptitle(title, fontsize=10)
tutorial.save(fig, pd.concat(frames, ignore_index=True), NAME, FIGURES)
