"""Checks of part factor_gradients: ``network.factor_gradients(factors, grad_e)``."""

from __future__ import annotations

import hashlib

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


#: Added to the message of the wide network's call when it is cut short.
WIDE_NOTE = ("at this size the formula takes a few milliseconds, while differentiating "
             "entry by entry (finite differences or the complex step) multiplies the whole "
             "chain once or twice per entry and does not finish: the part asks for the formula")

#: The verdict of the wide network, per runner and case: None (passed) or the failure.
_WIDE = {}


def run_wide_factor_gradients(student, case):
    """factor_gradients on the wide depth-4 network: run once, and every test needs it.

    Every test of the part calls this after its own network, with the same
    case (``cases("factors/wide")``, fresh when grading). The first call runs
    the student's function; the verdict is kept for the rest of the run, so
    the part costs one more worker call, not one per test. At this size the
    formula takes milliseconds, and anything that differentiates entry by
    entry (finite differences, the complex step) runs for minutes: the call is
    cut short, and every test of the part fails with that message. It also
    makes the depth-1 tests need the general formula (at depth 1,
    ``[grad_e]`` is already the answer).
    """
    runner = getattr(student, "runner", student)  # the fixture's runner, shared by all tests
    key = (id(runner), hashlib.sha256(case["G"].tobytes()).hexdigest())
    if key not in _WIDE:
        try:
            run_factor_gradients(student, case)
            _WIDE[key] = None
        except AssertionError as exc:  # StudentError included
            message, where = str(exc), f"the wide network, dims {case['params']['dims']}"
            if "cut short" in message:  # the message must start as the sandbox's does
                message += f" ({where}: {WIDE_NOTE})"
            else:
                message = f"{where} (checked once for every test of the part): {message}"
            _WIDE[key] = (type(exc), message)
    if _WIDE[key] is not None:
        kind, message = _WIDE[key]
        raise kind(message)
