r"""8. Width does not matter (from a balanced start)
================================================

Levy & Wang found that "the results heavily depend on the width of the
layers while the paper suggested that it did not have an impact on the
learning dynamics". Both are right, about different starting points.

Theorem 1 of Arora, Cohen & Hazan (tutorial 2) describes gradient descent
from *balanced* factors by an update of :math:`W_e = W_N \cdots W_1` that
contains the depth :math:`N` and nothing else about the architecture. So
from a balanced start with a given :math:`W_e`, every width must give the
same loss curve. The report trained from PyTorch's default initialization
instead, which is neither balanced nor width-independent.

This script trains depth-3 networks with hidden widths 1, 10, 64 and 512
on Abalone, with SGD at one learning rate and the :math:`\ell_2` loss, twice:

* balanced factors of one and the same :math:`W_e`
  (``init.balanced(..., end_to_end=W_e)``): the four loss curves agree to
  rounding (a relative spread of :math:`2 \times 10^{-15}` at most);
* PyTorch's default init `init.default` (entries
  :math:`\mathcal{U}(\pm 1/\sqrt{\mathrm{fan}_\mathrm{in}})`, the report's): the four
  curves differ.

A full run writes ``figures/08_width_does_not_matter.png`` and ``.csv`` (a
quick run: a temporary folder).

Note for readers of the report: it writes the product in the other order
(:math:`W_1` first). Here :math:`W_1` touches the input and
:math:`W_e = W_3 W_2 W_1`.
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
NAME = "08_width_does_not_matter"

# %%
# Data, architectures, one end-to-end matrix
# ------------------------------------------
# A single output (the number of rings), so :math:`W_e` is a
# :math:`1 \times 10` row vector: it has rank 1, and even a hidden width of 1
# can represent it.

# %%
data = tutorial.load_data("abalone")
X, Y = data.X, data.Y
print(tutorial.data_caption(data))

WIDTHS = [1, 10, 64, 512]
LOSS = "l2"
LR = 0.01                                  # the same for every width
STEPS = tutorial.pick(1000, 100)


def dims_of(width):
    return [data.d, width, width, 1]


W_e = 0.1 * rng.standard_normal((1, data.d))
print(f"W_e: shape {W_e.shape}, ||W_e|| = {np.linalg.norm(W_e):.4f}")

# %%
# Why the width is invisible from a balanced start
# ------------------------------------------------
# Two facts.
#
# **Gradient descent is equivariant under orthogonal changes of basis of the
# hidden spaces.** Replace :math:`W_j` by :math:`Q_j W_j Q_{j-1}^\top` with
# orthogonal :math:`Q_j` on every hidden space (:math:`Q_0 = Q_N = I`). The
# product, hence the loss, does not change, and each factor gradient
# transforms the same way, so the whole trajectory is the old one seen in
# the new bases.
#
# **Balanced factors of a rank-one** :math:`W_e` **are one scalar chain,
# embedded.** With :math:`W_e = s u v^\top` (here :math:`u = 1`),
# `init.balanced` gives
#
# .. math::
#
#     W_1 = q_1 s^{1/3} v^\top, \qquad W_2 = q_2 s^{1/3} q_1^\top, \qquad
#     W_3 = u s^{1/3} q_2^\top
#
# with unit vectors :math:`q_1, q_2 \in \mathbb{R}^{\text{width}}`. Gradient
# descent keeps this shape: with :math:`G = \partial L / \partial W_e`,
#
# .. math::
#
#     \frac{\partial L}{\partial W_1} &= W_2^\top W_3^\top G = q_1 \, (\cdots)^\top, \\
#     \frac{\partial L}{\partial W_2} &= W_3^\top G W_1^\top = q_2 (\text{scalar}) q_1^\top, \\
#     \frac{\partial L}{\partial W_3} &= G W_1^\top W_2^\top = (\cdots) \, q_2^\top
#
# so at every step :math:`W_1 = q_1 a^\top`, :math:`W_2 = q_2 b q_1^\top`,
# :math:`W_3 = c q_2^\top`, and :math:`(a, b, c)` follow exactly the gradient
# descent of the width-1 network :math:`[a^\top], [b], [c]`. The vectors
# :math:`q_1, q_2` are isometric embeddings of :math:`\mathbb{R}` into
# :math:`\mathbb{R}^{\text{width}}`: the width never enters, in discrete time
# too, not just to :math:`O(\mathrm{lr})`. (With :math:`k` outputs
# :math:`W_e` has rank up to :math:`k` and the same holds for every width
# :math:`\ge` that rank.)
#
# We check this on the starting factors: the product is :math:`W_e` for
# every width, the factors are balanced, and :math:`W_1` has rank 1. The
# table also lists :math:`\|W_1\|_F^2 / d_0`, the mean eigenvalue of
# :math:`W_1^\top W_1`, used below.

# %%
starts = {"balanced": {}, "default": {}}
for width in WIDTHS:
    starts["balanced"][width] = dl.init.balanced(dims_of(width), rng=rng, end_to_end=W_e)
    starts["default"][width] = dl.init.default(dims_of(width), rng=rng)

rows = []
for init, by_width in starts.items():
    for width, factors in by_width.items():
        We0 = dl.end_to_end(factors)
        _, grad_e = dl.Objective(X, Y, LOSS).value_and_grad_e(We0)
        # How fast does W_e move? One SGD step on the factors, measured on W_e,
        # divided by what plain gradient descent on W_e would do (lr * ||grad_e||).
        _, grads = dl.value_and_grads(factors, X, Y, loss=LOSS)
        moved = dl.end_to_end([W - LR * g for W, g in zip(factors, grads)]) - We0
        rows.append({
            "init": init, "width": width,
            "||W_e||": np.linalg.norm(We0),
            "|W_e - target|": np.abs(We0 - W_e).max() if init == "balanced" else np.nan,
            "balancedness": dl.balancedness(factors),
            "rank W_1": np.linalg.matrix_rank(factors[0]),
            "||W_1||_F^2 / d_0": np.sum(factors[0] ** 2) / data.d,
            "speed of W_e": np.linalg.norm(moved) / (LR * np.linalg.norm(grad_e)),
        })
start_table = pd.DataFrame(rows)
print(start_table.to_string(index=False, float_format="%.3g"))

# %%
# The last column is the first-step speed of :math:`W_e` relative to plain
# gradient descent on :math:`W_e`. From balanced starts it is the same for
# every width: it is Theorem 1's :math:`\|W_e\|^{2-2/N}` times the push along
# :math:`W_e`, both functions of :math:`W_e` and :math:`N` alone.
#
# From the default init it grows with the width. The factors are far from
# balanced, so Theorem 1 does not apply, and the speed comes from the
# factors' own sizes. Each of them is a sum over paths through the hidden
# units. For example :math:`W_1` (:math:`\text{width} \times d_0`, entries of
# variance :math:`1/(3 d_0)`) gives :math:`W_1^\top W_1` close to
# :math:`\text{width} / (3 d_0)` times the identity (the column
# :math:`\|W_1\|_F^2 / d_0` above): its size grows linearly with the width,
# while the forward signal does not (:math:`E \|W_e\|^2 = 1/27` for every
# width: each layer's fan-in scaling cancels its width). The initial
# :math:`W_e` is also a different random vector for every width (its norm
# varies a lot from draw to draw for width 1). Same lr, different widths:
# different effective step sizes and different starting points, so
# different curves.

# %%
# Training
# --------
# Full-batch SGD, same lr, same number of steps, every step recorded.

# %%
curves = {}
for init, by_width in starts.items():
    for width, factors in by_width.items():
        h = dl.train(factors, X, Y, loss=LOSS, lr=LR, steps=STEPS)
        assert not h.diverged, (init, width)
        curves[init, width] = h


def spread(init):
    """Per step: max over widths of |loss_w - loss_ref| / loss_ref, ref = width 1."""
    ref = curves[init, WIDTHS[0]].loss
    return np.max([np.abs(curves[init, w].loss - ref) / ref for w in WIDTHS], axis=0)


summary = []
for init in starts:
    for width in WIDTHS:
        h = curves[init, width]
        summary.append({"init": init, "width": width, "loss step 0": h.loss[0],
                        f"loss step {STEPS // 10}": h.loss[STEPS // 10],
                        f"loss step {STEPS}": h.loss[-1]})
summary = pd.DataFrame(summary)
print(f"{LOSS}, SGD, lr {LR}, {STEPS} steps")
print(summary.to_string(index=False, float_format="%.6f"))
for init in starts:
    print(f"{init:8s}: max over widths and steps of |loss_w - loss_1| / loss_1 = "
          f"{spread(init).max():.2e}")

# %%
# The balanced spread is at rounding level: the four networks compute the
# same numbers in different bases. The default-init spread is macroscopic,
# and it is what the report saw. It says nothing against Theorem 1, which
# only speaks about balanced (or nearly balanced) starts.

# %%
# The figure and its data
# -----------------------
# Long format: ``init, width, step, loss``.

# %%
frame = pd.concat([pd.DataFrame({"init": init, "width": width, "step": h.steps, "loss": h.loss})
                   for (init, width), h in curves.items()], ignore_index=True)

fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), constrained_layout=True)
colors = dict(zip(WIDTHS, ["C0", "C1", "C2", "C3"]))
styles = dict(zip(WIDTHS, [dict(lw=5, alpha=0.35), dict(lw=3, ls="--"), dict(lw=2, ls="-."),
                           dict(lw=1.5, ls=":")]))
for ax, init in zip(axes[:2], starts):
    for width in WIDTHS:
        h = curves[init, width]
        ax.plot(h.steps, h.loss, color=colors[width], label=f"width {width}", **styles[width])
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss ({LOSS})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9, title="hidden widths [w, w]", title_fontsize=9)
axes[0].set_title(f"(a) balanced, same W_e (||W_e|| = {np.linalg.norm(W_e):.2f}):"
                  " the curves coincide", fontsize=10)
axes[1].set_title("(b) PyTorch default init U(±1/sqrt(fan_in)): they do not",
                  fontsize=10)

ax = axes[2]
floor = 1e-17
for init, color in [("balanced", "C0"), ("default", "C1")]:
    ax.plot(curves[init, WIDTHS[0]].steps, np.maximum(spread(init), floor), color=color, lw=2,
            label=f"{init}: max {spread(init).max():.1e}")
ax.axhline(np.finfo(float).eps, color="gray", ls=":", lw=1, label="machine epsilon")
ax.set_yscale("log")
ax.set_ylim(floor / 3, 10)
ax.set_xlabel("step")
ax.set_ylabel("max over widths |loss_w - loss_1| / loss_1")
ax.set_title("(c) spread of the loss across widths", fontsize=10)
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=9)

title = (f"Depth-3 linear nets on {tutorial.data_caption(data)}, SGD lr {LR}, {LOSS}: "
         f"from balanced factors of one W_e, widths {', '.join(map(str, WIDTHS))} give the "
         f"same curve to rounding; from the default init they do not")
fig.suptitle(textwrap.fill(title, 150), fontsize=11)
tutorial.save(fig, frame, NAME, FIGURES)
