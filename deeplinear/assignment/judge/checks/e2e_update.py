"""Checks of part e2e_update: ``dynamics.e2e_update`` and ``e2e_update_single_output``."""

from __future__ import annotations

import numpy as np

from .common import as_array, call, first

# The step is a sum of products of eigendecompositions (or an SVD) of O(1)
# float64 matrices: two correct implementations agree to ~1e-14 relative to
# the size of the step. 1e-9 leaves a wide margin; a wrong power (j/N instead
# of (j-1)/N) or a swapped side changes the step by O(1).
E2E_TOL = 1e-9


def run_e2e(student, case, what, single=False):
    """e2e_update (or e2e_update_single_output) of a case against its expected next W_e."""
    params = case["params"]
    W_e, G, N, lr, wd = (case["W_e"], case["G"], params["depth"], params["lr"],
                         params["weight_decay"])
    name = "e2e_update_single_output" if single else "e2e_update"
    kwargs = {"weight_decay": wd} if wd else {}
    value, after = call(student, f"deeplinear.dynamics:{name}", W_e, G, N, lr, **kwargs)
    yours = as_array(value, f"{name} must return the next W_e, and", W_e.shape)
    assert np.array_equal(after[0], W_e) and np.array_equal(after[1], G), (
        f"{name} must not modify W_e or grad_e: return a new array")
    expected = case["expect"]
    step = max(float(np.max(np.abs(expected - W_e))), 1e-300)
    err = float(np.max(np.abs(yours - expected))) / step
    assert err <= E2E_TOL, (
        f"{what} (depth {N}, lr {lr}, weight_decay {wd}): the next W_e differs from the "
        f"expected one by {err:.1e} relative to the size of the step (tolerance "
        f"{E2E_TOL:.0e}); first entries of the step (next W_e - W_e) yours "
        f"{first(yours - W_e, digits=8)} vs expected {first(expected - W_e, digits=8)}"
        + (". An error this small usually means rounding-level eigenvalues (~1e-16) were "
           "raised to a fractional power: treat them as 0, as psd_power does"
           if 1e-9 < err < 1e-3 else ""))
    return yours
