r"""2. Balancedness and the end-to-end dynamics (Theorem 1)
=======================================================

A deep linear network has many factors, but its loss depends on their
product only. Arora, Cohen & Hazan (ICML 2018) ask: when gradient descent
trains the factors, how does the product itself move? Their Theorem 1
answers it in closed form, provided the factors are *balanced*.

For depth :math:`N` and the product :math:`W_e = W_N \cdots W_1`, that is

.. math::

    W_{j+1}^\top W_{j+1} = W_j W_j^\top \qquad (j = 1, \dots, N-1).

Then, for a small learning rate :math:`\mathrm{lr}` and
:math:`\mathrm{grad}_e = \partial L / \partial W_e`,

.. math::

    W_e \leftarrow W_e - \mathrm{lr} \sum_{j=1}^{N} [W_e W_e^\top]^{\frac{j-1}{N}}
    \, \mathrm{grad}_e \, [W_e^\top W_e]^{\frac{N-j}{N}}

up to :math:`O(\mathrm{lr}^2)` per step. With a single output (:math:`W_e` a
row vector) this is

.. math::

    W_e \leftarrow W_e - \mathrm{lr} \, \|W_e\|^{2-\frac{2}{N}} \left(\mathrm{grad}_e
    + (N-1) (\mathrm{grad}_e \cdot u) \, u\right), \qquad u = W_e / \|W_e\|:

plain gradient descent on :math:`W_e` with an *adaptive learning rate*
:math:`\|W_e\|^{2-2/N}` (`dl.curvature.effective_lr`) and an extra push of
:math:`N-1` times the gradient's part along :math:`W_e`: the "implicit
preconditioning" of depth. The theorem holds for any differentiable loss; we
use :math:`\ell_2`, where the comparison is cleanest, and check :math:`\ell_4`.

This script takes one step of Theorem 1 in both forms; trains the deep net and
the closed form (`dl.train(..., optimizer="e2e")`) from one balanced start (a
gap :math:`O(\mathrm{lr})` at a fixed time :math:`\mathrm{lr} \cdot \mathrm{steps}`);
shows that the update is the gradient of no function; and tracks balancedness.
A full run writes `figures/02_end_to_end_dynamics.png` (and `.csv`). Levy & Wang
write products :math:`W_1` first; here :math:`W_e = W_N \cdots W_1`, predictions `X @ W_e.T`.
"""

# %%
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import deeplinear as dl
from deeplinear import tutorial

SEED = 0
rng = np.random.default_rng(SEED)
FIGURES = tutorial.figures_dir()
NAME = "02_end_to_end_dynamics"

# %%
# Data and a balanced depth-3 network
# -----------------------------------
# Abalone (standardized inputs and target), one output. `init.balanced`
# draws :math:`W_e` with :math:`N(0, \mathrm{scale}^2)` entries, takes its SVD
# :math:`W_e = U \operatorname{diag}(s) V^\top` and sets
# :math:`W_j = Q_j \operatorname{diag}(s)^{1/N} Q_{j-1}^\top` (:math:`Q_0 = V`,
# :math:`Q_N = U`, random orthonormal :math:`Q_j` in between): the inner
# :math:`Q_j` cancel in the product, and
# :math:`W_{j+1}^\top W_{j+1} = W_j W_j^\top = Q_j \operatorname{diag}(s)^{2/N} Q_j^\top`.

# %%
data = tutorial.load_data("abalone")
X, Y = data.X, data.Y
print(tutorial.data_caption(data))
LOSS, DEPTH = "l2", 3
dims = [data.d, 10, 10, 1]
factors = dl.init.balanced(dims, scale=0.1, rng=rng)
W_e = dl.end_to_end(factors)
print(f"||W_e|| = {np.linalg.norm(W_e):.4f},  balancedness = {dl.balancedness(factors):.1e}")
for j in range(DEPTH - 1):
    gap = np.linalg.norm(factors[j + 1].T @ factors[j + 1] - factors[j] @ factors[j].T)
    print(f"  ||W_{j + 2}^T W_{j + 2} - W_{j + 1} W_{j + 1}^T||_F = {gap:.1e}")

# %%
# One step of Theorem 1, two ways, and a real step
# ------------------------------------------------
# `Objective.value_and_grad_e` gives :math:`\mathrm{grad}_e`. One step three
# ways: `e2e_update` (Theorem 1's sum, powers from an SVD of :math:`W_e`),
# `e2e_update_single_output` (Claim 1, the one-output form above), and a real
# SGD step on the three factors. The first two agree to rounding; the deep
# step differs by :math:`O(\mathrm{lr}^2)`: halving lr divides it by 4.

# %%
objective = dl.Objective(X, Y, LOSS)
_, grad_e = objective.value_and_grad_e(W_e)


def deep_step(factors, lr):
    """One SGD step on every factor; returns the new end-to-end matrix."""
    _, grads = dl.value_and_grads(factors, X, Y, loss=LOSS)
    return dl.end_to_end([W - lr * g for W, g in zip(factors, grads)])


one_step = []
for lr in [0.04, 0.02, 0.01, 0.005]:
    library = dl.e2e_update(W_e, grad_e, depth=DEPTH, lr=lr)
    claim_1 = dl.e2e_update_single_output(W_e, grad_e, depth=DEPTH, lr=lr)
    one_step.append({"lr": lr, "|e2e_update - single output|": np.abs(library - claim_1).max(),
                     "|deep step - e2e_update|": np.abs(deep_step(factors, lr) - library).max()})
one_step = pd.DataFrame(one_step)
one_step["ratio to previous lr"] = (one_step["|deep step - e2e_update|"].shift(1)
                                    / one_step["|deep step - e2e_update|"])
print(one_step.to_string(index=False, float_format="%.2e"))

# %%
# Whole runs: deep SGD against the closed form
# --------------------------------------------
# `dl.train(factors, ..., optimizer="e2e")` multiplies the factors out once,
# then takes Theorem 1's step (depth: the number of factors) every step. One
# step is off by :math:`O(\mathrm{lr}^2)`; a training time
# :math:`T = \mathrm{lr} \cdot \mathrm{steps}` takes :math:`T / \mathrm{lr}`
# steps, so the errors add up to :math:`O(\mathrm{lr})`. For lrs spaced by 2
# we measure the largest relative gap :math:`|L_\mathrm{deep} - L_\mathrm{e2e}| / L_\mathrm{e2e}`.

# %%
T = 4.0                                    # training time lr * steps
lrs = tutorial.pick([0.04, 0.02, 0.01, 0.005, 0.0025, 0.00125], [0.04, 0.02, 0.01])
LR_SHOW = 0.02                             # the lr whose curves and balancedness we plot

rows, curves = [], {}
for lr in lrs:
    steps = int(round(T / lr))
    # track=True records balancedness at every step (slow): only for the lr we plot.
    deep = dl.train(factors, X, Y, loss=LOSS, lr=lr, steps=steps, track=lr == LR_SHOW)
    e2e = dl.train(factors, X, Y, loss=LOSS, lr=lr, steps=steps, optimizer="e2e")
    assert not (deep.diverged or e2e.diverged)
    gap = float(np.max(np.abs(deep.loss - e2e.loss) / e2e.loss))
    drift = dl.balancedness(deep.final_factors)   # of the deep net at time T
    rows.append({"lr": lr, "steps": steps, "max_relative_gap": gap, "gap / lr": gap / lr,
                 "final balancedness": drift, "balancedness / lr": drift / lr,
                 "final loss deep": deep.final_loss, "final loss e2e": e2e.final_loss})
    curves[lr] = (deep, e2e)
table = pd.DataFrame(rows)
print(f"{LOSS}, depth {DEPTH}, balanced start, training time T = lr * steps = {T:g}")
print(table.to_string(index=False, float_format="%.3e"))
slope = np.polyfit(np.log(table["lr"]), np.log(table["max_relative_gap"]), 1)[0]
print(f"log-log slope of the gap against lr: {slope:.3f}  (1 means gap = O(lr))")

# %%
# Both ratios, `gap / lr` and `balancedness / lr`, are nearly constant: over a
# fixed time the deep net leaves the balanced set, and the closed form's loss
# curve, by :math:`O(\mathrm{lr})`. As :math:`\mathrm{lr} \to 0`, deep gradient
# descent *is* Theorem 1's dynamics.
#
# The same check with the :math:`\ell_4` loss
# --------------------------------------------
# The paper's acceleration is about :math:`\ell_4`; Theorem 1 holds for any loss
# (no precomputed Gram matrix for :math:`\ell_4`: fewer, shorter runs).

# %%
l4_rows = []
T4 = tutorial.pick(2.0, 1.0)               # training time of the l4 runs
for lr in tutorial.pick([0.01, 0.005, 0.0025], [0.01, 0.005]):
    steps = int(round(T4 / lr))
    deep = dl.train(factors, X, Y, loss="l4", lr=lr, steps=steps)
    e2e = dl.train(factors, X, Y, loss="l4", lr=lr, steps=steps, optimizer="e2e")
    gap = float(np.max(np.abs(deep.loss - e2e.loss) / e2e.loss))
    l4_rows.append({"lr": lr, "steps": steps, "max_relative_gap": gap, "gap / lr": gap / lr})
print(f"l4, training time {T4:g}:")
print(pd.DataFrame(l4_rows).to_string(index=False, float_format="%.3e"))

# %%
# Not the gradient of any function: no regularizer does this
# ----------------------------------------------------------
# Gradient descent on :math:`L + R`, for any regularizer :math:`R`, moves along
# a gradient field, whose Jacobian (the Hessian of :math:`L + R`) is symmetric;
# the paper proves that depth is no such field. By hand, the Jacobian :math:`J`
# of the one-output direction :math:`F = \|w\|^{2-2/N} (g + (N-1) (g \cdot u) u)`
# (:math:`g = \nabla L`, :math:`H = \nabla^2 L`) has
#
# .. math::
#
#     J - J^\top = \|w\|^{1-\frac{2}{N}} \left[(3 - N - \tfrac{2}{N})
#     (g u^\top - u g^\top) + (N-1) \|w\| (u u^\top H - H u u^\top)\right],
#
# zero at :math:`N = 1` only. We measure :math:`\|J - J^\top\|_F / \|J\|_F` at
# the start, the end of the lr-0.02 closed-form run and two random points (:math:`F`
# from `e2e_update_single_output` at lr 1, :math:`J` by central differences,
# :math:`h = 10^{-5}`; at :math:`N = 1`, their rounding). tests/test_dynamics.py
# checks the formula and a nonzero loop integral.

# %%
def asymmetry(w, N, h=1e-5):
    """||J - J^T||_F / ||J||_F at w (1, d), J by central differences of F = (w - w_new) / lr."""
    def F(v):  # the step's direction at lr 1: F(v) = v - v_new
        return v - dl.e2e_update_single_output(v, objective.value_and_grad_e(v)[1], depth=N, lr=1.0)
    J = np.column_stack([(F(w + h * e) - F(w - h * e))[0] / (2 * h) for e in np.eye(w.size)])
    return np.linalg.norm(J - J.T) / np.linalg.norm(J)


draws = np.random.default_rng([SEED, 2]).standard_normal((2, data.d)) / np.sqrt(data.d)
points = dict(start=W_e, end=curves[LR_SHOW][1].final_factors[0], rand1=draws[:1], rand2=draws[1:])
asym = pd.DataFrame({name: [asymmetry(w, N) for N in (1, 2, 3)] for name, w in points.items()},
                    index=pd.Index([1, 2, 3], name="N"))
print(asym.to_string(float_format="%.2e"))

# %%
# Depth 2 gives 0.037–0.45 and depth 3 0.35–0.66, against at most 3.1e-10 at
# depth 1. Depth 2's least is at the start: its :math:`g` term vanishes
# (:math:`3 - N - 2/N = 0`), leaving the :math:`H` term, small at :math:`\|w\| = 0.24`.
#
# Balancedness over training, for three initializations
# -----------------------------------------------------
# With :math:`D_j = \partial L / \partial W_j
# = (W_N \cdots W_{j+1})^\top \, \mathrm{grad}_e \, (W_{j-1} \cdots W_1)^\top`
# (tutorial 1), :math:`D_j W_j^\top = W_{j+1}^\top D_{j+1}`; under gradient flow,
# :math:`\dot W_j = -D_j`, so :math:`W_j W_j^\top` and :math:`W_{j+1}^\top W_{j+1}`
# have the same derivative, :math:`-(D_j W_j^\top + W_j D_j^\top)`, and their
# difference never changes (the first step of the paper's proof of Theorem 1).
# A net keeps its init's imbalance:
#
# * balanced: about :math:`10^{-16}` at the start; gradient *descent* adds
#   :math:`\mathrm{lr}^2 (D_{j+1}^\top D_{j+1} - D_j D_j^\top)` per step;
# * near-zero (iid :math:`N(0, 0.02^2)`, the paper's and the report's): as
#   large as :math:`\|W_j W_j^\top\|_F` itself (both printed), so far; conserved;
# * default (PyTorch's :math:`U(\pm 1/\sqrt{\mathrm{fan\_in}})`): far, conserved.

# %%
steps_show = int(round(T / LR_SHOW))
starts = {"balanced": factors, "near_zero": dl.init.near_zero(dims, std=0.02, rng=rng),
          "default": dl.init.default(dims, rng=rng)}
tracks = {}
for name, start in starts.items():
    tracks[name] = h = (curves[LR_SHOW][0] if name == "balanced" else
                        dl.train(start, X, Y, loss=LOSS, lr=LR_SHOW, steps=steps_show, track=True))
    scale = max(np.linalg.norm(W @ W.T) for W in start)
    print(f"{name:10s} balancedness: start {h.balancedness[0]:.2e}, end {h.balancedness[-1]:.2e}"
          f"  (largest ||W_j W_j^T||_F at start {scale:.2e}); loss {h.loss[0]:.3f} -> "
          f"{h.loss[-1]:.3f}")

# %%
# The figure and its data
# -----------------------
# Long format: `panel, series, lr, step, value`.

# %%
deep, e2e = curves[LR_SHOW]
frames = [pd.DataFrame({"panel": "curves", "series": series, "lr": LR_SHOW, "step": h.steps,
                        "value": h.loss}) for series, h in (("deep", deep), ("e2e", e2e))]
frames.append(pd.DataFrame({"panel": "gap", "series": "max_relative_gap", "lr": table["lr"],
                            "step": table["steps"], "value": table["max_relative_gap"]}))
for name, h in tracks.items():
    frames.append(pd.DataFrame({"panel": "balancedness", "series": name, "lr": LR_SHOW,
                                "step": h.steps, "value": h.balancedness}))
frame = pd.concat(frames, ignore_index=True)

fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), constrained_layout=True)
ax = axes[0]
ax.plot(deep.steps, deep.loss, color="C0", lw=3, alpha=0.6, label="deep net, SGD on W_1, W_2, W_3")
ax.plot(e2e.steps, e2e.loss, "--", color="C3", lw=1.5, label="closed form (Theorem 1) on W_e")
ax.set(yscale="log", xlabel="step", ylabel=f"training loss ({LOSS})")
ax.set_title(f"(a) same balanced start, lr = {LR_SHOW:g}", fontsize=10)
inset = ax.inset_axes([0.42, 0.42, 0.53, 0.3])
inset.plot(deep.steps, np.abs(deep.loss - e2e.loss) / e2e.loss, color="k", lw=1)
inset.set_title("|deep - e2e| / e2e", fontsize=8)
inset.tick_params(labelsize=7)
inset.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
inset.yaxis.get_offset_text().set_fontsize(7)
inset.grid(True, alpha=0.3)

ax = axes[1]
ax.loglog(table["lr"], table["max_relative_gap"], "o-", color="C0", label="measured")
ref = table["max_relative_gap"].iloc[-1] * table["lr"] / table["lr"].iloc[-1]
ax.loglog(table["lr"], ref, ":", color="gray", label="slope 1 (gap = O(lr))")
ax.minorticks_off()
ax.set_xticks(table["lr"], [f"{lr:g}" for lr in table["lr"]], fontsize=8)
ax.set(xlabel="learning rate (steps = T / lr, T = %g)" % T,
       ylabel="max relative gap |deep - e2e| / e2e")
ax.set_title(f"(b) the gap is O(lr): log-log slope {slope:.2f}", fontsize=10)

ax = axes[2]
colors = {"balanced": "C0", "near_zero": "C2", "default": "C1"}
for name, h in tracks.items():
    ax.plot(h.steps, np.maximum(h.balancedness, 1e-18), color=colors[name], lw=2,
            label=name.replace("_", "-"))
ax.annotate("balanced: 1e-16 at step 0,\nthen + O(lr$^2$) per step",
            xy=(0, tracks["balanced"].balancedness[0]), xytext=(0.25, 0.3),
            textcoords="axes fraction", fontsize=9, arrowprops=dict(arrowstyle="->", lw=0.8))
ax.set(yscale="log", xlabel="step",
       ylabel=r"balancedness $\max_j \|W_{j+1}^\top W_{j+1} - W_j W_j^\top\|_F$")
ax.set_title(f"(c) balancedness under SGD, lr = {LR_SHOW:g}", fontsize=10)
for ax in axes:
    ax.legend(fontsize=9)
    ax.grid(True, which="both", alpha=0.3)

title = (f"Depth-3 linear net on {tutorial.data_caption(data)}, {LOSS} loss: from a balanced "
         f"start deep SGD follows the closed-form end-to-end update up to O(lr); "
         f"balancedness is conserved up to O(lr^2) per step")
fig.suptitle(textwrap.fill(title, 150), fontsize=11)
tutorial.save(fig, frame, NAME, FIGURES)
