"""Hidden tests of part adam: AMSGrad, weight decay (an L2 term added to the
gradient, not AdamW's decoupled decay), both together on a 2-D array.

Expected values are torch.optim.Adam's scalar recurrence, run entry by entry.
"""

import math

import numpy as np
import pytest

pytestmark = pytest.mark.part("adam")

# A dozen float64 operations per entry, possibly in another order: a few ulps.
RTOL, ATOL = 1e-11, 1e-14


def _first(a, k=4):
    return "[" + ", ".join(f"{v:.10g}" for v in np.ravel(a)[:k]) + "]"


def _assert_close(yours, expected, what):
    """Assert allclose; on failure say where and by how much, with full precision."""
    ok = bool(np.allclose(yours, expected, rtol=RTOL, atol=ATOL))
    assert ok, _mismatch(yours, expected, what)


def _mismatch(yours, expected, what):
    diff = np.abs(np.asarray(yours, dtype=float) - expected)
    i = np.unravel_index(int(np.argmax(diff)), diff.shape)
    idx = i[0] if len(i) == 1 else i
    return (f"{what}; largest difference at entry {idx}: yours {float(yours[i])!r} vs "
            f"expected {float(expected[i])!r} (max abs error {float(diff[i]):.2e}); first "
            f"entries yours {_first(yours)} vs expected {_first(expected)}")


def _adam_scalar(p, g, m, v, vmax, t, lr, b1, b2, eps, wd, amsgrad):
    if wd != 0:
        g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    if amsgrad:
        vmax = max(vmax, v)
    v_used = vmax if amsgrad else v
    denom = math.sqrt(v_used) / math.sqrt(1 - b2 ** t) + eps
    return p - lr / (1 - b1 ** t) * (m / denom), m, v, vmax


def _run(rng, shape, opts, steps, t0=1, grad_scales=None, state0=None):
    from deeplinear import optim

    p = rng.standard_normal(shape)
    if state0 is None:
        state = [np.zeros(shape), np.zeros(shape), np.zeros(shape)]  # m, v, vmax
    else:
        state = [s.copy() for s in state0]
    exp = [p.copy()] + [s.copy() for s in state]
    for step, t in enumerate(range(t0, t0 + steps)):
        scale = 1.0 if grad_scales is None else grad_scales[step]
        g = scale * rng.standard_normal(shape)
        g_before = g.copy()
        new = [np.empty(shape) for _ in range(4)]
        for i in np.ndindex(shape):
            out = _adam_scalar(float(exp[0][i]), float(g[i]), *(float(a[i]) for a in exp[1:]),
                               t, **opts)
            for a, value in zip(new, out):
                a[i] = value
        exp = new
        optim.adam_update_reference(p, g, *state, t, opts["lr"], opts["b1"], opts["b2"],
                                    opts["eps"], opts["wd"], opts["amsgrad"])
        where = (f"Adam step t={t} (lr={opts['lr']}, betas=({opts['b1']}, {opts['b2']}), "
                 f"eps={opts['eps']}, weight_decay={opts['wd']}, amsgrad={opts['amsgrad']}, "
                 f"shape {shape})")
        names = ["m (first moment)", "v (second moment)"] + \
            (["vmax (running max of v)"] if opts["amsgrad"] else [])
        for name, yours, expected in zip(names, state, exp[1:]):
            _assert_close(yours, expected, f"{where}: {name} differs from torch.optim.Adam's "
                          "rule")
        _assert_close(p, exp[0], f"{where}: p differs from torch.optim.Adam's rule")
        assert np.array_equal(g, g_before), (
            f"{where}: the gradient array g was modified; only p, m, v, vmax may change")


@pytest.mark.points(2)
def test_amsgrad(rng):
    # Gradients that shrink after two large ones: v falls below its running
    # maximum, so AMSGrad's step differs from Adam's.
    _run(rng, (6,), dict(lr=0.01, b1=0.9, b2=0.9, eps=1e-8, wd=0.0, amsgrad=True), steps=6,
         grad_scales=[3.0, 2.0, 0.3, 0.2, 0.1, 0.5])


@pytest.mark.points(2)
def test_weight_decay_is_added_to_the_gradient(rng):
    # The L2 term enters m and v (torch.optim.Adam), unlike AdamW's decoupled decay.
    _run(rng, (5,), dict(lr=0.01, b1=0.8, b2=0.99, eps=1e-8, wd=0.5, amsgrad=False), steps=4)


@pytest.mark.points(2)
def test_amsgrad_weight_decay_two_dimensional_resumed(rng):
    # A resumed run (t from 4, non-zero moments, vmax above v) on a 2-D array.
    shape = (3, 4)
    m0 = 0.1 * rng.standard_normal(shape)
    v0 = 0.5 * np.abs(rng.standard_normal(shape))
    vmax0 = v0 + np.abs(rng.standard_normal(shape))
    _run(rng, shape, dict(lr=0.02, b1=0.9, b2=0.95, eps=1e-3, wd=0.2, amsgrad=True), steps=3,
         t0=4, grad_scales=[0.5, 1.0, 0.2], state0=[m0, v0, vmax0])
