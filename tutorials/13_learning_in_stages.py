r"""13. Learning in stages: each mode waits, then jumps
===================================================

From a small start, a deep linear network learns its target one *mode* (singular value)
at a time, strongest first: each mode waits on a plateau near its start, then jumps to
its target. Depth 1 has no plateaus. The wait is set by the mode's strength :math:`s` and
the start :math:`a_0`: like :math:`\ln(1/a_0)/s` at depth 2, :math:`a_0^{-(1-2/N)}/s` deeper.

It is exact (Saxe, McClelland & Ganguli 2014) for whitened inputs (:math:`X^\top X / n =
I`), a target :math:`W^* = U \operatorname{diag}(s) V^\top` and a balanced start
:math:`W_e(0) = U \operatorname{diag}(a_0) V^\top`. Our :math:`\ell_2` loss is then
:math:`\|W_e - W^*\|_F^2 / k` (:math:`k` outputs), with gradient :math:`c (W_e - W^*)`,
:math:`c = 2/k`; gradient descent keeps :math:`W_e = U \operatorname{diag}(\sigma)
V^\top`, and in the time :math:`t = \mathrm{lr} \cdot \mathrm{steps}` each mode follows
the balanced end-to-end flow (Theorem 1 of Arora, Cohen & Hazan 2018, per mode):

.. math::

    \frac{d\sigma}{dt} = N c\, \sigma^{2 - 2/N} (s - \sigma), \qquad
    \sigma(t) = \frac{s}{1 + (s/a_0 - 1)\, e^{-2 c s t}} \ (N = 2), \qquad
    \sigma(t) = s - (s - a_0)\, e^{-c t} \ (N = 1),

integrated (`modes.mode_curve`) at :math:`N \ge 3`. While :math:`\sigma \ll s` the rate
is :math:`N c s \sigma^{2-2/N}`: constant at depth 1, exponential growth at depth 2, slower
deeper. The time to :math:`s/2` (`modes.plateau_time`) is :math:`\ln((s - a_0)/a_0) /
(2 c s)` at depth 2, about :math:`a_0^{-(1-2/N)} / ((N-2) c s)` beyond.

Target :math:`s = (3, 1, 0.3)`, each mode three times weaker than the last: the waits
(about :math:`1/s`) are distinct stages, not one blur. 4 inputs, :math:`k = 3` outputs,
hidden widths 5, :math:`a_0 = 10^{-2}`; seeds 0-2 draw the rotations and random starts. A
full run (1.5 min, one core) writes ``figures/13_learning_in_stages.png`` and ``.csv``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import deeplinear as dl
from deeplinear import tutorial
from deeplinear.experiments.problems import simulate_modes
from deeplinear.modes import aligned_start, mode_curve, plateau_time, whitened_problem

SEEDS = tutorial.pick((0, 1, 2), (0,))
FIGURES, NAME = tutorial.figures_dir(), "13_learning_in_stages"
pd.set_option("display.width", 160)

S = np.array([3.0, 1.0, 0.3])             # the target's singular values
D_IN, D_OUT, WIDTH, A0 = 4, 3, 5, 1e-2
C = 2.0 / D_OUT                            # grad_e = c (W_e - W*)
DEPTHS = (1, 2, 3, 4)
LRS = tutorial.pick((0.02, 0.01, 0.005), (0.04, 0.02))
LR = LRS[1]                                # the lr of the curves and plateau panels
RECORD = tutorial.pick(0.1, 0.2)           # record W_e every this much time t
A0_SWEEP = tutorial.pick((1e-1, 1e-2, 1e-3, 1e-4, 1e-5), (1e-1, 1e-2, 1e-3))
RANDOM_SPAN = tutorial.pick(12, 3)         # random starts: this many times the horizon
# Each depth runs until its weakest mode is at 99% of its target, and a fifth longer.
HORIZON = {N: float(np.ceil(1.2 * plateau_time(S[-1:], A0, N, C, 0.99)[0])) for N in DEPTHS}


def simulate(factors, problem, lr, horizon, record=RECORD):
    """Plain GD (l2) from ``factors`` up to time ``horizon``: times (T,), sigma (T, r), off (T,)."""
    times, sigma, off, run = simulate_modes(factors, problem, lr=lr,
                                            steps=int(round(horizon / lr)),
                                            every=int(round(record / lr)))
    assert not run.diverged, f"GD diverged at lr {lr}"
    return times, sigma, off


def time_to_half(times, sigma, s):
    """First time each mode reaches s/2 (NaN if never), interpolated in the logit
    ln(sigma / (s - sigma)), which the depth-2 flow moves at a constant rate."""
    out = np.full(s.size, np.nan)
    for i, k in enumerate(np.argmax(sigma >= s / 2, axis=0)):
        if k > 0:
            v = np.log(np.abs(sigma[k - 1:k + 1, i]) / (s[i] - sigma[k - 1:k + 1, i]))
            out[i] = times[k - 1] + (times[k] - times[k - 1]) * v[0] / (v[0] - v[1])
    return out


# %%
# Gradient descent against the analytic curves
# --------------------------------------------
# Per seed, depth and lr: the aligned balanced start (`modes.aligned_start`), plain
# gradient descent with its ``W_e`` recorded (`spectral.spectrum_trajectory`), read as
# :math:`\sigma_i = u_i^\top W_e v_i` (`modes.mode_strengths`, with the rest of ``W_e``).

# %%
rows, runs = [], {}
for seed in SEEDS:
    problem = whitened_problem(S, D_IN, D_OUT, rng=seed)
    for N in DEPTHS:
        factors = aligned_start(problem, [WIDTH] * (N - 1), A0, rng=seed)
        for lr in LRS:
            times, sigma, off = simulate(factors, problem, lr, HORIZON[N])
            exact = mode_curve(times, S, A0, N, C)
            runs[seed, N, lr] = times, sigma, exact
            rows += [{"seed": seed, "depth": N, "mode": i + 1, "s": S[i], "lr": lr, "max gap": gap,
                      "t_half sim": half, "max off": off.max()} for i, (gap, half) in enumerate(
                          zip(np.abs(sigma - exact).max(axis=0), time_to_half(times, sigma, S)))]
gd = pd.DataFrame(rows)

# %%
# Per depth and mode: the time to :math:`s/2` (GD at lr ``LR``, seed mean and spread;
# `plateau_time`), and the largest gap :math:`\max_t |\sigma_\mathrm{GD} - \sigma|` per
# lr (worst seed) with its log-log slope. GD is the Euler method of each mode's flow:
# over a fixed horizon the gap should be :math:`O(\mathrm{lr})`, slope 1.

# %%
main, lrs_sorted = gd[gd["lr"] == LR].groupby(["depth", "s"])["t_half sim"], np.sort(LRS)
table = pd.DataFrame({"t_half sim": main.mean(), "sim spread": main.max() - main.min()})
table["t_half pred"] = [plateau_time([s], A0, N, C)[0] for N, s in table.index]
gaps = gd.pivot_table(index=["depth", "s"], columns="lr", values="max gap", aggfunc="max")
table[[f"gap lr={lr:g}" for lr in gaps.columns]] = gaps.to_numpy()
table["slope"] = [np.polyfit(np.log(lrs_sorted), np.log(row), 1)[0] for row in gaps.to_numpy()]
print(table.to_string(float_format=lambda v: f"{v:.3g}"))
spread = gd.groupby(["depth", "s", "lr"])["max gap"].agg(np.ptp).max()
print(f"largest spread of a gap over seeds {SEEDS}: {spread:.1e}; largest distance of W_e "
      f"from its modes: {gd['max off'].max():.1e}")

# %%
# Depth 1: the three modes reach :math:`s/2` together (no stages); deeper, each weaker
# mode waits 2.4-3 times longer. Rotating the problem rotates the run: the seeds agree.
#
# What the plateaus' lengths depend on
# ------------------------------------
# The start: the middle mode (:math:`s = 1`) from each :math:`a_0` of ``A0_SWEEP``, GD
# at lr ``LR`` until it passes :math:`s/2`, against `plateau_time`. The strength: the
# three modes above against `plateau_time` over a range of :math:`s` (the figure).

# %%
sweep = []
for seed in SEEDS:
    problem = whitened_problem(S, D_IN, D_OUT, rng=seed)
    for N in DEPTHS:
        for a0 in A0_SWEEP:
            predicted = plateau_time(S[1:2], a0, N, C)[0]
            factors = aligned_start(problem, [WIDTH] * (N - 1), a0, rng=seed)
            times, sigma, _ = simulate(factors, problem, LR, np.ceil(1.1 * predicted) + 1)
            sweep.append({"seed": seed, "depth": N, "a0": a0, "predicted": predicted,
                          "simulated": time_to_half(times, sigma, S)[1]})
sweep = pd.DataFrame(sweep)
by_a0 = sweep.groupby(["depth", "a0"])[["simulated", "predicted"]].mean().unstack("depth")
print(by_a0.to_string(float_format=lambda v: f"{v:.3g}"))
lo, hi = (by_a0["simulated"].loc[a] for a in A0_SWEEP[:-3:-1])  # the two smallest a0
print(f"a0 / 10 adds {lo[2] - hi[2]:.4g} at depth 2 (ln(10) / (2 c s) = {np.log(10) / 2 / C:.4g});"
      f" depths 3, 4: x {lo[3] / hi[3]:.3g}, x {lo[4] / hi[4]:.3g}, powers "
      f"{np.log10(lo[3] / hi[3]):.3f}, {np.log10(lo[4] / hi[4]):.3f} of 1/a0 (theory 1/3, 1/2)")

# %%
# A decade of :math:`a_0` adds a fixed time at depth 2 (a wait like :math:`\ln(1/a_0)`);
# deeper, it multiplies the wait by a power near :math:`1 - 2/N`.
#
# A random small start
# --------------------
# A balanced start from a small random :math:`W_e(0)` (`init.balanced`, entries
# :math:`N(0, a_0^2)`) is not aligned: its :math:`u_i^\top W_e(0) v_i` are of size
# :math:`a_0`, of either sign, and the rest is as large. Time to :math:`s/2` over the
# aligned start's (lr ``LRS[0]``, ``RANDOM_SPAN`` horizons; ``reached``: seeds that did):

# %%
random_runs, random_rows = {}, []
for seed in SEEDS:
    rng = np.random.default_rng([seed, 13])
    problem = whitened_problem(S, D_IN, D_OUT, rng=rng)
    for N in DEPTHS[1:]:
        factors = dl.init.balanced([D_IN, *[WIDTH] * (N - 1), D_OUT], scale=A0, rng=rng)
        times, sigma, _ = simulate(factors, problem, LRS[0], RANDOM_SPAN * HORIZON[N], 0.5)
        random_runs[seed, N] = times, sigma
        half, aligned = time_to_half(times, sigma, S), plateau_time(S, A0, N, C)
        random_rows += [{"panel": "random start t_half", "depth": N, "mode": i + 1, "s": s,
                         "seed": seed, "lr": LRS[0], "a0": A0, "t": half[i],
                         "predicted": aligned[i]} for i, s in enumerate(S)]
random_table = pd.DataFrame(random_rows).assign(ratio=lambda f: f["t"] / f["predicted"])
print(random_table.groupby(["depth", "s"])["ratio"].agg(["mean", "min", "max", "count"]).rename(
    columns={"count": "reached"}).to_string(float_format=lambda v: f"{v:.3g}"))
order = random_table.groupby(["seed", "depth"])["t"].is_monotonic_increasing
print(f"modes reach s/2 strongest first in {order.sum()} of {order.size} (seed, depth) runs")

# %%
# The figure and its data
# -----------------------
# Top: the modes over time (seed 0, lr ``LR``). Bottom: the gap against lr, the wait
# against :math:`a_0` and :math:`s`, random starts. The CSV's rows: ``panel, depth, mode,
# s, seed, lr, a0, t, sigma, predicted, max_gap, off``; in the plateau panels ``t`` is the
# time to :math:`s/2`, ``predicted`` that of `plateau_time` (for random starts: aligned).

# %%
MODE_COLORS, DEPTH_COLORS = ("C0", "C1", "C2"), {1: "0.45", 2: "C3", 3: "C4", 4: "C5"}
frames = [pd.DataFrame({"panel": "curves", "depth": N, "mode": i + 1, "s": s, "seed": seed,
                        "lr": lr, "a0": A0, "t": t, "sigma": sg[:, i], "predicted": ex[:, i]})
          for (seed, N, lr), (t, sg, ex) in runs.items() if lr == LR for i, s in enumerate(S)]
fig, axes = plt.subplots(2, 4, figsize=(18, 8.6), constrained_layout=True)
for ax, N in zip(axes[0], DEPTHS):
    times, sigma, exact = runs[SEEDS[0], N, LR]
    for i, s in enumerate(S):
        ax.plot(times, sigma[:, i] / s, color=MODE_COLORS[i], lw=4, alpha=0.4,
                label=f"GD, mode s = {s:g}")
        ax.plot(times, exact[:, i] / s, "--", color="k", lw=1, label=None if i < 2 else
                "analytic" + (" (integrated)" if N > 2 else ""))
    ax.set(xlabel="time t = lr * steps", ylabel="sigma / s", ylim=(-0.05, 1.08),
           xlim=(0, HORIZON[N]), title=f"({'abcd'[N - 1]}) depth {N}: " + (
               "no plateaus, one timescale" if N == 1 else "modes learnt in stages"))

ax = axes[1, 0]
for N in DEPTHS:
    worst = gd[gd["depth"] == N].groupby("lr")["max gap"].max()
    slope = np.polyfit(np.log(worst.index), np.log(worst.to_numpy()), 1)[0]
    ax.loglog(worst.index, worst.to_numpy(), "o-", color=DEPTH_COLORS[N],
              label=f"depth {N}: slope {slope:.2f}")
low = gd.groupby(["depth", "lr"])["max gap"].max().min() / 2   # below the lowest line
ax.loglog(lrs_sorted, low * lrs_sorted / lrs_sorted[0], "k:", label="slope 1")
ax.set_xticks(lrs_sorted, [f"{lr:g}" for lr in lrs_sorted])
ax.minorticks_off()
ax.set(xlabel="learning rate", ylabel="max over t and modes of |sigma_GD - sigma|",
       title="(e) GD leaves the curves by O(lr)")
frames.append(gd.drop(columns="t_half sim").rename(columns={"max gap": "max_gap", "max off": "off"})
              .assign(panel="gap", a0=A0, t=gd["depth"].map(HORIZON)))
frames.append(random_table.drop(columns="ratio"))

ax = axes[1, 1]
grid = np.logspace(np.log10(A0_SWEEP[-1]) - 0.5, -0.9, 60)
for N in DEPTHS:
    ax.loglog(grid, plateau_time(np.full(grid.size, S[1]), grid, N, C), color=DEPTH_COLORS[N],
              lw=1.5, label=f"depth {N}")
    if N > 2:
        ax.loglog(grid, grid ** -(1 - 2 / N) / ((N - 2) * C * S[1]), ":", color=DEPTH_COLORS[N])
    points = sweep[sweep["depth"] == N]
    ax.loglog(points["a0"], points["simulated"], "o", color=DEPTH_COLORS[N], mfc="none")
    frames.append(pd.DataFrame({"panel": "plateau vs a0", "depth": N, "mode": 2, "s": S[1],
                                "seed": points["seed"], "lr": LR, "a0": points["a0"],
                                "t": points["simulated"], "predicted": points["predicted"]}))
ax.plot([], [], "ko:", mfc="none", label="circles: GD; dotted: a0^-(1-2/N) / ((N-2) c s)")
ax.set(xlabel="initial strength a0 (log scale)", ylabel="time to s/2, mode s = 1 (log scale)",
       title="(f) the wait against the start")

ax = axes[1, 2]
s_grid = np.logspace(-1.2, 0.7, 50)
for N in DEPTHS:
    ax.loglog(s_grid, plateau_time(s_grid, A0, N, C), color=DEPTH_COLORS[N], label=f"depth {N}")
    points = gd[(gd["depth"] == N) & (gd["lr"] == LR)]
    ax.loglog(points["s"], points["t_half sim"], "o", color=DEPTH_COLORS[N], mfc="none")
    frames.append(pd.DataFrame({"panel": "plateau vs s", "depth": N, "mode": points["mode"],
        "s": points["s"], "seed": points["seed"], "lr": LR, "a0": A0,
        "t": points["t_half sim"], "predicted": plateau_time(points["s"], A0, N, C)}))
ax.set(xlabel="target singular value s (log scale)", ylabel="time to s/2 (log scale)",
       title=f"(g) the wait against the strength, a0 = {A0:g}")

ax, N_SHOW = axes[1, 3], 3
for seed in SEEDS:
    times, sigma = random_runs[seed, N_SHOW]
    exact = mode_curve(times, S, A0, N_SHOW, C)
    for i, s in enumerate(S):
        ax.plot(times, sigma[:, i] / s, color=MODE_COLORS[i], lw=1.2, alpha=0.8,
                label=f"s = {s:g}" if seed == SEEDS[0] else None)
        frames.append(pd.DataFrame({"panel": "random start", "depth": N_SHOW, "mode": i + 1,
                                    "s": s, "seed": seed, "lr": LRS[0], "a0": A0, "t": times,
                                    "sigma": sigma[:, i], "predicted": exact[:, i]}))
for i, s in enumerate(S):
    ax.plot(times, exact[:, i] / s, "--", color=MODE_COLORS[i], lw=1.5,
            label=f"dashed: aligned start, a0 = {A0:g}" if i == 0 else None)
ax.set(xlabel="time t = lr * steps", ylabel="u_i^T W_e v_i / s", ylim=(-0.1, 1.08),
       xlim=(0, 3 * HORIZON[N_SHOW]),
       title=f"(h) random balanced start, depth {N_SHOW}, seeds {', '.join(map(str, SEEDS))}")
for ax in axes.flat:
    ax.grid(True, which="both", alpha=0.3)
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8, loc="best" if ax in axes[1, :3] else "lower right")
fig.suptitle(f"Learning in stages: GD on deep linear nets (whitened inputs, target singular values"
             f" 3, 1, 0.3, aligned balanced start a0 = {A0:g}) against the exact mode dynamics")
tutorial.save(fig, pd.concat(frames, ignore_index=True), NAME, FIGURES)

# %%
# What the full run shows
# -----------------------
# Seeds 0-2, lrs 0.02, 0.01, 0.005 (the committed CSV). **Curves:** at lr 0.01 each mode
# reaches :math:`s/2` within 0.013 of `plateau_time` (depth 4, :math:`s` = 3, 1, 0.3: 2.43,
# 7.04, 21.7, predicted 2.41, 7.03, 21.7); the seeds differ by at most 4e-14, :math:`W_e`
# stays within 3e-15 of its modes, and the gap is :math:`O(\mathrm{lr})`: slopes 1.00-1.01
# at every depth and mode, the largest gap 0.054 at lr 0.005 (:math:`s = 3`, depth 4: the
# steepest jump). **Wait:** from :math:`a_0 = 10^{-4}` to :math:`10^{-5}` depth 2 waits
# 1.733 longer (theory 1.727), depths 3 and 4 2.20 and 3.17 times longer, powers 0.343 and
# 0.502 (asymptotes 1/3, 1/2); at :math:`10^{-5}` the mode :math:`s = 1` waits 8.66, 68.4,
# 237 at depths 2-4 (predicted 8.63, 68.3, 237). **Random starts** (ratio to the aligned
# wait, seed mean [min, max], :math:`s` = 3, 1, 0.3): depth 2 0.99 [0.87, 1.14], 1.17 [1.07,
# 1.22], 1.81 [1.00, 2.64]; depth 4 0.82 [0.66, 1.01], 2.53 [1.51, 4.47], 9.3 [1.9, 20.6].
# The order holds in all 9 runs, but the aligned curves only give the scale: a weak mode
# may start with the wrong sign, and near :math:`\sigma = 0` the deep rate
# :math:`\sigma^{2-2/N}` all but stops it.
#
# Against the papers. Saxe et al. (2014): the depth-2 sigmoid, the order set by :math:`s`
# and the :math:`\ln(1/a_0)` wait hold to :math:`O(\mathrm{lr})`; their deep nets from small
# weights also wait a power of the start (:math:`a_0^{-(1-2/N)} = u_0^{-(N-2)}` for one
# layer's weight :math:`u_0 = a_0^{1/N}`). Their depth-independent times need layer weights
# near one (orthogonal or pretrained starts; untested here); from small starts each mode is
# slower the deeper the net (:math:`s = 3`: 1.03, 1.43, 2.03, 2.43 at depths 1-4). Arora et
# al. (2018): GD follows their balanced end-to-end dynamics to :math:`O(\mathrm{lr})` at
# depths 3-4. No acceleration here, and none is claimed for :math:`\ell_2` (tutorial 6):
# while :math:`\sigma < 1`, :math:`\sigma^{2-2/N} < 1` slows the deeper nets.
