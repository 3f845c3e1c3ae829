"""Checks of parts sgd and adam: ``optim.SGD`` and ``optim.Adam``, stepped in a worker."""

from __future__ import annotations

from .common import as_array, assert_close, request

# A step is a handful (SGD) or a dozen (Adam) float64 operations on O(1)
# numbers, and the order of operations may differ from the judge's (dividing m
# and v by their bias corrections first, say): a few ulps, far below these
# relative tolerances. common.ATOL covers entries that cancel to ~0.
SGD_RTOL = 1e-12
ADAM_RTOL = 1e-11


STATE = {"SGD": ["momentum_buffer"], "Adam": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]}
RTOL = {"SGD": SGD_RTOL, "Adam": ADAM_RTOL}
NAMES = {"momentum_buffer": "the momentum buffer", "exp_avg": "m (exp_avg)",
         "exp_avg_sq": "v (exp_avg_sq)", "max_exp_avg_sq": "vmax (max_exp_avg_sq)"}


def run_optimizer(student, name, case, hints=True):
    """``optim.<name>([p], **options)`` stepped once per gradient; every step checked."""
    params = case["params"]
    options, t0 = params["options"], params.get("t0", 1)
    state0 = None
    if params.get("buf0"):
        state0 = [{"momentum_buffer": case["buf0"]}]
    if params.get("state0"):
        state0 = [{"exp_avg": case["m0"], "exp_avg_sq": case["v0"],
                   "max_exp_avg_sq": case["vmax0"]}]
    grads = [[g] for g in case["grads"]]
    answer = request(student, f"{name}.step", "optimizer", target=f"deeplinear.optim:{name}",
                     params=[case["p"]], options=options, grads=grads, t0=t0, state0=state0,
                     state_keys=STATE[name])
    steps = answer.get("value")
    shape = case["p"].shape
    assert isinstance(steps, list) and len(steps) == len(grads), \
        f"{name}: the worker did not report every step"
    opts = ", ".join(f"{k}={v}" for k, v in options.items())
    detail = "" if hints else f", shape {shape}"
    keys = [k for k in STATE[name] if f"expect_{k}" in case and
            (k != "momentum_buffer" or options.get("momentum", 0) != 0) and
            (k != "max_exp_avg_sq" or options.get("amsgrad"))]
    for k, step in enumerate(steps):
        t = t0 + k
        where = f"{name} step t={t} ({opts}{detail})"
        if hints:
            assert step["returned_none"], f"{name}.step works in place (it returns None)"
        p = as_array(step["params"][0], f"{where}: the parameter", shape)
        p_hint = " (update p in place: p -= ...)" if hints else ""
        assert_close(p, case["expect_p"][k], f"{where}: p differs from the expected "
                     f"step{p_hint}", RTOL[name])
        for key in keys:
            state = step["state"][0] if step["state"] else {}
            assert key in state, f"{where}: the state has no {key!r}"
            yours = as_array(state[key], f"{where}: {NAMES[key]}", shape)
            s_hint = f" (update state[{key!r}] in place, with [...] = ...)" if hints else ""
            assert_close(yours, case[f"expect_{key}"][k],
                         f"{where}: {NAMES[key]} differs from the expected value{s_hint}",
                         RTOL[name])
        assert step["grads_unchanged"], (
            f"{where}: the gradient array was modified; only p and the state may change")
