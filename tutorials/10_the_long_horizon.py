r"""10. The long horizon: the paper's headline at 1e6 steps, with seeds
===================================================================

Tutorial 7 raced gradient descent (GD) on a depth-2 linear net of hidden width 1 against
GD, AdaGrad and AdaDelta on the linear model (Ethanol, :math:`\ell_4`, :math:`10^5` steps).
The paper (Arora, Cohen & Hazan, 2018) ran to about :math:`10^6` steps, where a slow
starter can catch up. We add Adam on depth 1 and 2, the optimizer most readers use.

The preset "paper-headline" (``python -m deeplinear.experiments ethanol --preset
paper-headline``): one balanced start per seed, the same end-to-end row :math:`W_e` for
every method, :math:`\ell_4`, :math:`10^6` full-batch steps, 3 seeds, 3 to 6 lrs each;
AdaDelta with TensorFlow's :math:`\rho = 0.95`, :math:`\epsilon = 10^{-8}`, as in the
paper, and again with torch's :math:`\rho = 0.9`, :math:`\epsilon = 10^{-6}`. Each
method gets two lrs: (a) the lowest mean final loss at :math:`10^6` steps, no seed
diverged; (b) the paper's criterion, speed: the fewest steps to the target,
:math:`1.1 \times` GD depth 1's best mean final loss (the mean of each seed's first
recorded step at or below it, among the lrs that bring every seed there).

Then: why does depth-2 GD diverge late? Its effective lr (Theorem 1)
:math:`\mathrm{lr} \, \|W_e\|^{2-2/N}` grows with :math:`\|W_e\|`, and GD is stable while
:math:`\mathrm{lr} \cdot \text{sharpness} < 2`. We track all three, densely before a blow-up.

Quick mode (``DEEPLINEAR_QUICK=1``): 3000 steps, 2 seeds, 2 lrs per method, in seconds;
its numbers mean nothing. The text quotes the full run (20 min on 2 cores, 14 of them the
preset's grids), whose per-seed curves are in ``figures/10_the_long_horizon.csv``.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import deeplinear as dl
from deeplinear import curvature, tutorial
from deeplinear.experiments import PRESETS, Results, run_grids, starting_factors

SEEDS, NAME = tutorial.pick((0, 1, 2), (0, 1)), "10_the_long_horizon"
pd.set_option("display.width", 160)
STEPS = tutorial.pick(1_000_000, 3000)
SEGMENT = tutorial.pick(10_000, 300)      # tracking: steps between two measurements
WINDOW, DENSE = tutorial.pick((20_000, 100), (1200, 20))   # before a blow-up: every DENSE
RECORD_EVERY = max(1, STEPS // 1000)       # the grid's default recording
PRESET, TORCH_ADADELTA = PRESETS["paper-headline"], {"rho": 0.9, "eps": 1e-6}
data = tutorial.load_data("ethanol")
print(CAPTION := tutorial.data_caption(data))
print(f"preset {PRESET.name!r}: {PRESET.description}")

# %%
# The runs
# --------
# The preset's grids as one batch on two cores (`run_grids`, as `run_preset` does), timed;
# then AdaDelta with torch's settings on the same lrs. Quick mode keeps two lrs each. Each
# run is named from its optimizer, options and architecture.

# %%
grids = [{**g, "steps": STEPS, "seeds": SEEDS, "lrs": tutorial.pick(g["lrs"], g["lrs"][1:3])}
         for g in PRESET.grids]
(adadelta,) = [g for g in grids if g["optimizer"] == "adadelta"]
torch_grid = {**adadelta, "optimizer_options": TORCH_ADADELTA,   # its speed lr is 5e-3:
              "lrs": tutorial.pick((2e-3, *adadelta["lrs"]), adadelta["lrs"])}   # one below
with tutorial.pool() as pool:
    start = time.perf_counter()
    headline = run_grids(data, grids, executor=pool)   # = run_preset("paper-headline", data)
    WALL = time.perf_counter() - start
    res = Results.concat([headline, run_grids(data, [torch_grid], executor=pool)])
assert not res.failures(), res.failure_notes()[0]   # a run raised: the grids went on, we stop
print(f"the preset: {len(headline.runs)} runs of {STEPS:,} steps in {WALL:.0f} s on 2 cores; "
      f"with torch's AdaDelta, {len(res.runs)} runs")

OPTIMIZERS = {"sgd": "GD", "adagrad": "AdaGrad", "adadelta": "AdaDelta", "adam": "Adam"}
SETTINGS = {", ".join(f"{k}={v!r}" for k, v in sorted(o.items())): f" ({n})"   # as in runs
            for o, n in [(adadelta.get("optimizer_options", {}), "TF"), (TORCH_ADADELTA, "torch")]}
runs = res.runs.copy()
depths = runs.groupby("optimizer")["arch"].nunique()


def method(r):
    name = OPTIMIZERS[r.optimizer] + SETTINGS.get(r.options, f" ({r.options})" * bool(r.options))
    if depths[r.optimizer] > 1:    # the optimizer runs at several depths: say which
        name += f", depth {r.depth}" + (f" {r.arch}" if r.depth > 1 else "")
    return name


runs["method"] = [method(r) for r in runs.itertuples()]
METHODS = list(dict.fromkeys(runs["method"]))
TARGET = 1.1 * runs[runs["method"] == "GD, depth 1"].groupby("lr")["final_loss"].mean().min()
runs["steps_to_target"] = [next((s for s, v in zip(*res.curves[r]) if v <= TARGET), np.nan)
                           for r in runs["run"]]   # each run's first recorded step there
runs["diverged_at"] = runs["steps_run"].where(runs["diverged"])
per_lr = runs.groupby(["method", "lr"], sort=False).agg(
    final=("final_loss", "mean"), steps=("steps_to_target", lambda s: s.mean(skipna=False)),
    diverged_at=("diverged_at", "min"))

# %%
# Per method and lr, means over the seeds: final loss (inf: a seed diverged, first at
# ``diverged_at``), steps to the target (NaN: not every seed got there).
print(per_lr.to_string(float_format="{:,.4g}".format))

# %%
# The two criteria, and the ranking under each
# --------------------------------------------
# Each method at the lr of each criterion, mean [min, max] over the seeds, and per seed.

# %%
def choose(column):   # per method, the lr with the least finite mean (NaN if none)
    ok = per_lr[np.isfinite(per_lr[column])].reset_index()
    best = ok.loc[ok.groupby("method")[column].idxmin()].set_index("method")["lr"]
    return {m: best.get(m, np.nan) for m in METHODS}


CHOICE = {"final loss": choose("final"), "speed": choose("steps")}
fastest = res.fastest({"l4": TARGET})["fastest_lr"].to_numpy(dtype=float)
print(f"target: 1.1 x GD depth 1's best = {TARGET:.4f}; the speed lrs are Results.fastest's: "
      f"{np.allclose(fastest, [CHOICE['speed'][m] for m in METHODS], equal_nan=True)}")


def spread(values, fmt):
    values = np.asarray(values, dtype=float)
    bad = {"never reached": np.isnan(values).sum(), "diverged": np.isinf(values).sum()}
    if not values.size or any(bad.values()):
        return ", ".join(f"{k} ({n} seeds)" for k, n in bad.items() if n) or "-"
    return f"{fmt(values.mean())} [{fmt(values.min())}, {fmt(values.max())}]"


def at(name, lr):
    return runs[(runs["method"] == name) & (runs["lr"] == lr)]


PAIRS = [("GD, depth 2 [1]", m) for m in METHODS if m != "GD, depth 2 [1]"] + [
    ("AdaDelta (torch)", "AdaDelta (TF)"), ("Adam, depth 2 [1]", "Adam, depth 1")]
for criterion, key in [("final loss", "final_loss"), ("speed", "steps_to_target")]:
    chosen = {m: at(m, CHOICE[criterion][m]).set_index("seed").reindex(SEEDS) for m in METHODS}
    order = sorted(METHODS, key=lambda m: np.nan_to_num(chosen[m][key].mean(), nan=np.inf))
    print(f"\nranked by {criterion} (per seed: {key} at that lr; lr NaN: no lr qualifies):")
    print(pd.DataFrame([{"method": m, "lr": CHOICE[criterion][m],
                         "steps to 1.1x": spread(chosen[m]["steps_to_target"], "{:,.0f}".format),
                         "final loss": spread(chosen[m]["final_loss"], "{:.4f}".format),
                         **{f"seed {s}": v for s, v in chosen[m][key].items()}}
                        for m in order]).to_string(index=False, float_format="{:.4g}".format))
    for a, b in [(a, b) for a, b in PAIRS if a in chosen and b in chosen]:
        lower = (chosen[a][key].fillna(np.inf) < chosen[b][key].fillna(np.inf)).sum()
        print(f"  {a} {'ends lower' if key == 'final_loss' else 'gets there sooner'} than {b}"
              f" in {lower} of {len(SEEDS)} seeds")

# %%
# Why depth-2 GD diverges late
# ----------------------------
# Depth-2 GD from seed 0's start at the lrs of both criteria, the next larger one,
# :math:`5 \times 10^{-4}` (best for :math:`10^5` steps) and
# :math:`5 \times 10^{-4} / \sqrt{1 + t / 10^5}`, in segments of ``SEGMENT`` steps (GD is
# stateless: the same run, bit for bit; checked), measured between them. A run that blows
# up is re-run from the factors saved before its last ``WINDOW`` steps, every ``DENSE``.

# %%
objective = dl.Objective(data.X, data.Y, "l4")
deep = "GD, depth 2 [1]"
lr_best = CHOICE["final loss"][deep]
lr_next = min([lr for lr in runs.loc[runs["method"] == deep, "lr"] if lr > lr_best] or [lr_best])
DECAY_T = tutorial.pick(100_000, 1000)
START = starting_factors((1,), "balanced", 0, data.X.shape[1], data.Y.shape[1])
LIMIT = 1e6 * objective.value_and_grads(START)[0]   # the grid's rule: 1e6 x the first loss


def tracked(lr_at, label, every, t=0, factors=START, measure_from=0):
    """Depth-2 GD from ``factors`` at step ``t``, lr_at(segment start); measured (and
    the factors saved) every ``every`` steps from ``measure_from``; the blow-up step."""
    rows, saved, steps, losses = [], {}, [], []
    while True:
        lr = lr_at(t - t % SEGMENT)
        if t >= measure_from:
            W_e, H = dl.end_to_end(factors), curvature.factor_hessian(objective, factors)
            rows.append({"run": label, "step": t, "lr": lr, "norm_e": np.linalg.norm(W_e),
                         "loss": objective.value_and_grads(factors)[0],
                         "effective_lr": curvature.effective_lr(lr, W_e, 2),
                         "sharpness": np.linalg.eigvalsh(H)[-1]})
            saved[t] = factors
        if t >= STEPS:
            return pd.DataFrame(rows), saved, np.concatenate(steps), np.concatenate(losses), None
        h = dl.train(factors, data.X, data.Y, loss="l4", lr=lr, steps=min(every, STEPS - t),
                     record_every=min(RECORD_EVERY, every),
                     divergence_factor=LIMIT / objective.value_and_grads(factors)[0])
        steps.append(t + h.steps[1:])
        losses.append(h.loss[1:])
        t, factors = t + int(h.steps[-1]), h.final_factors
        if h.diverged:
            return pd.DataFrame(rows), saved, np.concatenate(steps), np.concatenate(losses), t


LR_1E5 = tutorial.pick(5e-4, 1.2e-3)   # best at 1e5 steps (tutorial 7); quick: one that blows up
schedules = {f"lr {lr:g}": (lambda t, lr=lr: lr)
             for lr in dict.fromkeys([lr_best, CHOICE["speed"][deep], lr_next, LR_1E5])
             if np.isfinite(lr)}
schedules[f"lr {LR_1E5:g} / sqrt(1 + t/{DECAY_T:g})"] = lambda t: LR_1E5 / np.sqrt(1 + t / DECAY_T)
tracks, dense, track_curves = [], [], {}
for label, lr_at in schedules.items():
    frame, saved, steps, losses, blowup = tracked(lr_at, label, SEGMENT)
    tracks.append(frame)
    track_curves[label] = (steps, losses, blowup)
    if blowup:
        first = blowup - WINDOW
        base = max(s for s in saved if s <= max(first, 0))
        near, _, steps_near, losses_near, again = tracked(lr_at, label, DENSE, base,
                                                          saved[base], first)
        dense.append(near.assign(diverged_at=blowup))
        same_run = again == blowup and np.array_equal(
            losses[np.isin(steps, steps_near)], losses_near[np.isin(steps_near, steps)])
        print(f"{label}: the dense re-run is the same run, bit for bit: {same_run}")
    product = (near if blowup else frame).set_index("step").eval("lr * sharpness")
    above = product[product > 2].index.min()
    print(f"{label}: blew up at step {blowup:,}; every {DENSE} steps from step "
          f"{product.index[0]:,}: lr x sharpness {product.iloc[0]:.3f}, first above 2 at step "
          f"{above:,}, last {product.iloc[-1]:.3f}" if blowup else
          f"{label}: final loss {losses[-1]:.4g}; lr x sharpness at most {product.max():.3f}")
track = pd.concat(tracks, ignore_index=True)
dense = pd.concat(dense or [track.iloc[:0]], ignore_index=True)
grid_run = runs[(runs["method"] == deep) & (runs["lr"] == lr_best) & (runs["seed"] == 0)]
same = np.array_equal(res.curves[grid_run["run"].iloc[0]][1][1:],
                      track_curves[f"lr {lr_best:g}"][1])
print(f"segments reproduce the grid's run bit for bit: {same}")

# %%
# What the data show (full run)
# -----------------------------
# * **Adam wins under both criteria**, in every seed: 0.1354 on depth 2, 0.1361 on depth 1;
#   the target in 7,000 and 8,000 steps (recorded every 1,000). Depth helps Adam slightly.
# * **Depth 2 beats GD and AdaGrad under both**: 0.1912 [0.1908, 0.1916] against 0.2469 and
#   0.2598, lower in every seed; the target 2.9 times sooner than GD (194,000 steps).
# * **Against AdaDelta the verdict depends on the criterion.** By final loss AdaDelta ends
#   lower in every seed, with TensorFlow's settings (0.1848) and torch's (0.1908), and gets
#   there sooner (133,000 and 157,000 steps). By speed, depth 2 at :math:`5 \times 10^{-4}`
#   beats both in every seed (97,000 steps against 106,000 for torch's, 131,000 for TF's),
#   but every seed then diverges, between steps 108,458 and 110,395; the depth-2 lrs at
#   which no seed diverges need at least 194,000.
# * **The late divergence is the edge of stability** (the dense samples, every 100 steps):
#   at :math:`5 \times 10^{-4}`, :math:`\mathrm{lr} \cdot \text{sharpness}` first exceeds 2
#   at step 105,400, and the run blows up at 108,458; at :math:`3 \times 10^{-4}`, at
#   785,100 and 791,476. At :math:`2.5 \times 10^{-4}` it reaches 1.72 at :math:`10^6`; the
#   decaying lr stays at most 1.32 and ends at 0.194, behind both AdaDeltas.
#
# The figure
# ----------
# Left: each method at its final-loss lr (mean, band: seed range) and, dashed, its speed
# lr. Right: depth-2 GD tracked, and :math:`\mathrm{lr} \cdot \text{sharpness}` (dots: dense).

# %%
COLORS = dict(zip(METHODS, ["C0", "C1", "C4", "C5", "C2", "C8", "C3", "C7"]))
fig = plt.figure(figsize=(13, 8), constrained_layout=True)
grid_spec = fig.add_gridspec(2, 2, width_ratios=[1.25, 1])
ax_curves = fig.add_subplot(grid_spec[:, 0])
ax_track, ax_sharp = fig.add_subplot(grid_spec[0, 1]), fig.add_subplot(grid_spec[1, 1])
frames = [runs[["method", "lr", "seed", "final_loss", "steps_to_target", "diverged_at"]]
          .assign(panel="runs")]
for name in METHODS:
    for criterion, lr in [(c, CHOICE[c][name]) for c in CHOICE]:
        solid = criterion == "final loss"
        if not np.isfinite(lr) or (not solid and lr == CHOICE["final loss"][name]):
            continue                            # the same curves: drawn and written once
        ids = at(name, lr)["run"]
        steps = max((res.curves[r][0] for r in ids), key=len)   # a diverged run stops early
        values = np.vstack([np.pad(res.curves[r][1], (0, len(steps) - len(res.curves[r][1])),
                                   constant_values=np.nan) for r in ids])
        shown = steps > 0
        ax_curves.plot(steps[shown], np.mean(values, 0)[shown], color=COLORS[name],
                       lw=1.8 if solid else 1.0, ls="-" if solid else "--",
                       label=f"{name}, lr {lr:g}" + ("" if solid else " (speed)"))
        if solid:
            ax_curves.fill_between(steps[shown], values.min(0)[shown], values.max(0)[shown],
                                   color=COLORS[name], alpha=0.2, lw=0)
        frames += [pd.DataFrame({"panel": "curves", "method": name, "lr": lr, "seed": seed,
                                 "step": steps, "loss": v})
                   for seed, v in zip(at(name, lr)["seed"], values)]
ax_curves.axhline(TARGET, color="gray", ls=":", lw=1, label="target: 1.1x GD depth-1 best")
ax_curves.set(xscale="log", yscale="log", xlabel="step", ylabel="training loss (l4)",
              title=f"Each method at its final-loss lr, {len(SEEDS)} seeds (band: min to max); "
              "dashed: its speed lr", ylim=(0.9 * runs["final_loss"].min(), 20))
for color, (label, (steps, losses, blowup)) in zip(["C1", "C3", "C6", "C9", "C7"],
                                                    track_curves.items()):
    ax_track.plot(steps, losses, color=color, lw=1.3, label=label + " (diverged)" * bool(blowup))
    if blowup:   # the blow-up leaves the axes: mark where
        ax_track.plot(blowup, 10.0, marker="x", color=color, ms=9, mew=2, clip_on=False)
    t, d = track[track["run"] == label], dense[dense["run"] == label]
    ax_sharp.plot(t["step"], t["lr"] * t["sharpness"], color=color, lw=1.3, label=label)
    ax_sharp.plot(d["step"], d["lr"] * d["sharpness"], ".", color=color, ms=2)
ax_sharp.axhline(2.0, color="k", ls="--", lw=1)
frames += [track.assign(panel="tracked depth-2 GD"), dense.assign(panel="dense before blow-up")]
ax_track.set(yscale="log", ylim=(0.9 * min(np.nanmin(c[1]) for c in track_curves.values()), 10.0),
             xlabel="step", ylabel="training loss (l4); x: diverged",
             title="Depth-2 GD, seed 0: constant lrs and a decaying one")
ax_sharp.set(xlabel="step", ylabel="lr x sharpness",
             title="GD diverges where lr x sharpness passes 2")
ax_curves.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.08))
ax_track.legend(fontsize=7), ax_sharp.legend(fontsize=7)
for ax in (ax_curves, ax_track, ax_sharp):
    ax.grid(True, which="both", alpha=0.3)
fig.suptitle(f"The paper's headline at {STEPS:,} steps (preset paper-headline); {CAPTION}",
             fontsize=10)
frame = pd.concat(frames, ignore_index=True).set_index("panel").reset_index()   # panel first
tutorial.save(fig, frame, NAME, tutorial.figures_dir())
