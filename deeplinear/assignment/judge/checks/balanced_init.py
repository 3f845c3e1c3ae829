"""Checks of part balanced_init: ``init.balanced(dims, scale, rng, end_to_end)``."""

from __future__ import annotations

import numpy as np

from .common import as_array, describe, first, request

# An SVD and N products of O(1) float64 matrices reproduce W_e to about
# N * max(d) * eps ~ 1e-14 relative, and balancedness holds to the same level;
# 1e-10 leaves a wide margin, while a wrong construction (a wrong root of s, a
# transposed Q) is off by O(1).
BALANCED_TOL = 1e-10


def run_balanced(student, dims, **kwargs):
    """init.balanced(dims, **kwargs) in a worker; checks shapes and dtype; returns factors.

    ``rng`` may be an int, or ``("generator", seed)`` for a Generator made in the worker.
    """
    if isinstance(kwargs.get("rng"), tuple):
        kwargs["rng"] = {"__rng__": int(kwargs["rng"][1])}
    answer = request(student, "balanced", "call", target="deeplinear.init:balanced",
                     args=[list(dims)], kwargs=kwargs)
    factors, layout = answer.get("value"), answer.get("c_contiguous")
    N = len(dims) - 1
    ok = isinstance(factors, (list, tuple)) and len(factors) == N
    assert ok, f"balanced({dims}) must return a list of N = {N} factors, got {describe(factors)}"
    for j, W in enumerate(factors, start=1):
        as_array(W, f"balanced({dims}): W_{j}", (dims[j], dims[j - 1]))
        assert layout[j - 1], (
            f"balanced({dims}): W_{j} must be a C-contiguous float64 array (the optimizers "
            "update factors in place); wrap it in np.ascontiguousarray")
        assert np.all(np.isfinite(W)), f"balanced({dims}): W_{j} has NaN or inf entries"
    return factors


def check_balanced_product(factors, W_e, dims):
    """W_N ... W_1 equals W_e."""
    prod = factors[0]
    for W in factors[1:]:
        prod = W @ prod
    err = float(np.max(np.abs(prod - W_e))) / max(float(np.max(np.abs(W_e))), 1e-300)
    assert err <= BALANCED_TOL, (
        f"balanced({dims}): W_N ... W_1 differs from the end-to-end matrix by {err:.1e} "
        f"relative (tolerance {BALANCED_TOL:.0e}); first entries yours {first(prod)} vs W_e "
        f"{first(W_e)}")


def check_balancedness(factors, dims):
    """W_{j+1}^T W_{j+1} == W_j W_j^T at every hidden layer j."""
    for j in range(1, len(factors)):
        upper = factors[j].T @ factors[j]          # W_{j+1}^T W_{j+1}
        lower = factors[j - 1] @ factors[j - 1].T  # W_j W_j^T
        err = float(np.linalg.norm(upper - lower)) / max(float(np.linalg.norm(lower)), 1e-300)
        assert err <= BALANCED_TOL, (
            f"balanced({dims}): not balanced at hidden layer {j}: "
            f"||W_{j + 1}^T W_{j + 1} - W_{j} W_{j}^T||_F / ||W_{j} W_{j}^T||_F = {err:.1e} "
            f"(tolerance {BALANCED_TOL:.0e}); first entries {first(upper)} vs {first(lower)}")
