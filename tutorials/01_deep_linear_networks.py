r"""1. Deep linear networks: the model, its gradient, and how to check it
=====================================================================

A deep linear network applies one matrix per layer, so that the whole
network is one linear map: the product of its layers.

A depth-:math:`N` linear network maps an input :math:`x` (:math:`d_0` numbers)
to :math:`W_N \cdots W_1 x`. Layer :math:`j` holds a matrix :math:`W_j` of
shape :math:`(d_j, d_{j-1})`. Data come as rows: :math:`X` is
:math:`(n, d_0)`, the targets :math:`Y` are :math:`(n, d_N)`, and the
predictions are :math:`X W_e^\top` (`X @ W_e.T` in the code), with the
end-to-end matrix

.. math::

    W_e = W_N \cdots W_1, \qquad \text{of shape } (d_N, d_0).

This script shows three things:

1. depth adds nothing to what the network can express;
2. the gradient of every factor, derived by hand (and computed by
   `factor_gradients`);
3. how to check it against finite differences, and why the step :math:`h`
   of a finite difference must be neither too large nor too small.

A full run writes `figures/01_deep_linear_networks.png` (and `.csv`).

Note for readers of the Levy & Wang report: it writes the product in the
other order (:math:`W_1` first). We use :math:`W_e = W_N \cdots W_1`
everywhere.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import deeplinear as dl
from deeplinear import tutorial

SEED = 0
rng = np.random.default_rng(SEED)
FIGURES = tutorial.figures_dir()
NAME = "01_deep_linear_networks"

# %%
# The model and its shapes
# ------------------------
# A depth-3 network from 5 inputs to 2 outputs through hidden widths 4 and 3:
# :math:`(d_0, d_1, d_2, d_3) = (5, 4, 3, 2)`.

# %%
dims = [5, 4, 3, 2]                       # d_0, d_1, d_2, d_3
factors = dl.init.default(dims, rng=rng)  # [W_1, W_2, W_3]
for j, W in enumerate(factors, start=1):
    print(f"W_{j}: shape {W.shape}  (d_{j}, d_{j - 1})")

X = rng.standard_normal((50, dims[0]))
Y = rng.standard_normal((50, dims[-1]))
W_e = dl.end_to_end(factors)
print("W_e:", W_e.shape)

# Layer by layer, one row per sample, gives the same predictions as X @ W_e.T.
H = X
for W in factors:
    H = H @ W.T
print("max |layer-by-layer - X @ W_e.T| =", np.abs(H - X @ W_e.T).max())

# %%
# Depth adds no expressiveness
# ----------------------------
# Any :math:`W_e` (here a random :math:`2 \times 5` matrix) is the product of
# a depth-3 network: `init.balanced` builds factors whose product is exactly
# the matrix asked for. What changes with depth is only *how gradient descent
# moves* :math:`W_e` (tutorial 2).

# %%
target = rng.standard_normal((2, 5))
deep = dl.init.balanced(dims, rng=rng, end_to_end=target)
print("max |W_3 W_2 W_1 - target| =", np.abs(dl.end_to_end(deep) - target).max())

# %%
# The gradient of each factor, by hand
# ------------------------------------
# With the :math:`\ell_2` loss, the mean of :math:`(X W_e^\top - Y)^2` over
# all :math:`n d_N` entries, the gradient with respect to the end-to-end
# matrix is
#
# .. math::
#
#     G = \frac{\partial L}{\partial W_e}
#       = \frac{2}{n d_N} (X W_e^\top - Y)^\top X \qquad \text{of shape } (d_N, d_0).
#
# Because :math:`W_e = (W_N \cdots W_{j+1}) \, W_j \, (W_{j-1} \cdots W_1)`,
# the chain rule for a product :math:`A W_j B`, whose gradient in
# :math:`W_j` is :math:`A^\top G B^\top`, gives
#
# .. math::
#
#     \frac{\partial L}{\partial W_j}
#       = (W_N \cdots W_{j+1})^\top \, G \, (W_{j-1} \cdots W_1)^\top,
#
# with identities (of the right size) for the empty products at the ends.
# `Objective.value_and_grad_e` computes :math:`G`, and `factor_gradients`
# every :math:`\partial L / \partial W_j`. Both are derivations, and a
# derivation needs a check.
#
# Checking against finite differences
# -----------------------------------
# `numerical_gradient(f, x, h)` moves each entry of `x` by :math:`+h` and
# :math:`-h` and divides the change of `f` by :math:`2h`. Here `x` is a factor
# itself, moved in place, and `f` the loss of the network that holds it. Its
# rounding error is about the same for every entry, so we measure it against
# the largest entry (`gradcheck.max_rel_error`): entrywise, an entry near
# zero would show a large relative error from rounding alone.

# %%
objective = dl.Objective(X, Y, "l2")
_, G = objective.value_and_grad_e(W_e)
library = dl.factor_gradients(factors, G)


def l2_of_factors(_):
    return objective.value(factors)   # reads the factors in place, as they are moved


for j, W in enumerate(factors, start=1):
    numeric = dl.numerical_gradient(l2_of_factors, W, 1e-6)
    print(f"dL/dW_{j}: factor_gradients vs finite differences (h = 1e-6), "
          f"error / largest entry {dl.gradcheck.max_rel_error(library[j - 1], numeric):.1e}")

# %%
# The error of a finite difference has two parts: truncation, about
# :math:`h^2 |f'''| / 6`, which falls as :math:`h` shrinks, and rounding,
# about :math:`\epsilon |f| / h` (:math:`\epsilon = 2.2 \times 10^{-16}`),
# which rises. Their sum is a V in a log-log plot, lowest near
# :math:`h = (3 \epsilon)^{1/3}`, about :math:`10^{-5}`.
#
# With :math:`\ell_2` the loss is quadratic in each single factor, so
# :math:`f''' = 0` and centred differences make no truncation error at all.
# We therefore sweep :math:`h` on the :math:`\ell_4` loss, the mean of
# :math:`(X W_e^\top - Y)^4`, whose end-to-end gradient is
#
# .. math::
#
#     G = \frac{4}{n d_N} \left( (X W_e^\top - Y)^3 \right)^\top X,
#
# the cube taken entry by entry.

# %%
W2 = factors[1]


def l4_of_W2(_):
    return dl.Objective(X, Y, "l4").value(factors)   # reads factors[1] == W2, in place


_, grads_l4 = dl.value_and_grads(factors, X, Y, loss="l4")
hs = np.logspace(-13, -1, tutorial.pick(37, 13))
errors = [dl.rel_error(dl.numerical_gradient(l4_of_W2, W2, h), grads_l4[1]) for h in hs]
best = int(np.argmin(errors))
print(f"l4: best h = {hs[best]:.1e} with relative error {errors[best]:.1e}")
print(f"h = 1e-1: {errors[-1]:.1e} (truncation);  h = 1e-13: {errors[0]:.1e} (rounding)")

table = pd.DataFrame({"h": hs, "relative_error": errors})
print(table.iloc[::max(1, len(table) // 7)].to_string(index=False, float_format="%.1e"))

# %%
fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
ax.loglog(hs, errors, "o-", color="C0", label="finite difference vs hand-derived")
scale_t = errors[-1] / hs[-1] ** 2
scale_r = errors[0] * hs[0]
ax.loglog(hs, scale_t * hs ** 2, "--", color="C1", label="truncation ~ h^2")
ax.loglog(hs, scale_r / hs, ":", color="C2", label="rounding ~ eps/h")
ax.set_ylim(min(errors) / 10, max(errors) * 10)
ax.set_xlabel("finite-difference step h")
ax.set_ylabel("relative error of dL/dW_2")
ax.set_title("Gradient check of a depth-3 linear net (l4 loss): the error is a V in h,\n"
             f"smallest ({errors[best]:.0e}) at h = {hs[best]:.0e}", fontsize=10)
ax.legend()
ax.grid(True, which="both", alpha=0.3)
tutorial.save(fig, table, NAME, FIGURES)

# %%
# In the full run (37 steps :math:`h`, the committed
# `figures/01_deep_linear_networks.csv`) the error is smallest,
# :math:`3.8 \times 10^{-9}`, at :math:`h = 4.6 \times 10^{-6}`, near the
# estimate :math:`(3 \epsilon)^{1/3}`; rounding dominates below that step and
# truncation, falling like :math:`h^2`, above it. A quick run tries only 13
# steps, so it may find its minimum at a neighbouring :math:`h`.
