"""Checks of part factor_gradients: ``network.factor_gradients(factors, grad_e)``."""

from __future__ import annotations

import numpy as np

from .common import as_array, assert_relative_error, call, describe
from .loss_gradient import GRADIENT_TOL


def run_factor_gradients(student, case):
    """factor_gradients(factors, G) against the expected dL/dW_j of L = sum(G * W_e)."""
    dims = case["params"]["dims"]
    N = len(dims) - 1
    factors = [case[f"W{j}"] for j in range(N)]
    value, after = call(student, "deeplinear.network:factor_gradients", factors, case["G"])
    ok = isinstance(value, (list, tuple)) and len(value) == N
    assert ok, (f"factor_gradients must return a list of N = {N} arrays [dL/dW_1, ..., "
                f"dL/dW_{N}] for dims {dims}; got {describe(value)}"
                + (f" of length {len(value)}" if isinstance(value, (list, tuple)) else ""))
    expected = [case[f"expect_dW{j}"] for j in range(N)]
    scale = max(float(np.max(np.abs(g))) for g in expected)
    for j, (dW, exp) in enumerate(zip(value, expected), start=1):
        name = f"dL/dW_{j}"
        as_array(dW, f"{name} (dims {dims})")
        assert dW.shape == exp.shape, (
            f"{name} has shape {dW.shape}; expected the shape of W_{j}, {exp.shape} "
            f"(d_{j}, d_{j - 1})")
        assert_relative_error(dW, exp, GRADIENT_TOL, f"{name} (dims {dims}) differs from "
                              "(W_N...W_{j+1})^T grad_e (W_{j-1}...W_1)^T", scale=scale)
    assert all(np.array_equal(a, b) for a, b in zip(after[0], factors)) and \
        np.array_equal(after[1], case["G"]), "factor_gradients must not modify its inputs"
