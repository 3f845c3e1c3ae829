"""Part 4, sgd: ``deeplinear.optim.sgd_update_reference(p, g, buf, t, lr, momentum,
dampening, nesterov, weight_decay)``.

One step of torch.optim.SGD's rule, in place on ``p`` and ``buf`` (see the
docstring of ``deeplinear.optim.SGD``)::

    g <- g + weight_decay * p                      (if weight_decay != 0)
    buf <- g  (t = 1),  buf <- mu buf + (1 - dampening) g  (t > 1)   (if mu != 0)
    g <- g + mu buf  if nesterov  else  g <- buf                     (if mu != 0)
    p <- p - lr g

What is tested (public part; more tests are run when you hand in): plain
SGD, momentum over several steps (including the first step t = 1, which
initialises the buffer), and weight decay. Expected values are the scalar
recurrence above, run entry by entry in this file.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.part("sgd")

# A step is a handful of float64 operations on O(1) numbers, and the order of
# operations may differ from ours: a few ulps, far below 1e-12 relative.
# atol covers entries that cancel to ~0.
RTOL, ATOL = 1e-12, 1e-14


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


def _sgd_scalar(p, g, b, t, lr, mu, tau, nesterov, wd):
    """One SGD step on one scalar entry: returns (p, buf)."""
    if wd != 0:
        g = g + wd * p
    if mu != 0:
        b = g if t == 1 else mu * b + (1 - tau) * g
        g = g + mu * b if nesterov else b
    return p - lr * g, b


def _expected_step(p, g, buf, t, opts):
    p_new, b_new = np.empty_like(p), np.empty_like(buf)
    for i in np.ndindex(p.shape):
        p_new[i], b_new[i] = _sgd_scalar(float(p[i]), float(g[i]), float(buf[i]), t, **opts)
    return p_new, b_new


def _run(rng, shape, opts, steps, t0=1):
    from deeplinear import optim

    p = rng.standard_normal(shape)
    buf = np.zeros(shape)
    p_exp, buf_exp = p.copy(), buf.copy()
    for t in range(t0, t0 + steps):
        g = rng.standard_normal(shape)
        g_before = g.copy()
        p_exp, buf_exp = _expected_step(p_exp, g, buf_exp, t, opts)
        result = optim.sgd_update_reference(p, g, buf, t, opts["lr"], opts["mu"],
                                            opts["tau"], opts["nesterov"], opts["wd"])
        assert result is None or result is p, (
            "sgd_update_reference works in place on p and buf (it should return None)")
        where = f"SGD step t={t} (lr={opts['lr']}, momentum={opts['mu']}, " \
                f"dampening={opts['tau']}, nesterov={opts['nesterov']}, " \
                f"weight_decay={opts['wd']})"
        _assert_close(p, p_exp, f"{where}: p differs from torch.optim.SGD's rule "
                      "(p must be updated in place)")
        if opts["mu"] != 0:
            _assert_close(buf, buf_exp, f"{where}: the momentum buffer differs from "
                          "torch.optim.SGD's rule (update it in place, buf[...] = ..., "
                          "and set it to g at t = 1)")
        assert np.array_equal(g, g_before), (
            f"{where}: the gradient array g was modified; only p and buf may change")


@pytest.mark.points(2)
def test_plain_sgd(rng):
    _run(rng, (7,), dict(lr=0.1, mu=0.0, tau=0.0, nesterov=False, wd=0.0), steps=3)


@pytest.mark.points(2)
def test_momentum_several_steps(rng):
    _run(rng, (6,), dict(lr=0.05, mu=0.9, tau=0.0, nesterov=False, wd=0.0), steps=5)


@pytest.mark.points(2)
def test_weight_decay_with_momentum(rng):
    _run(rng, (5,), dict(lr=0.1, mu=0.5, tau=0.0, nesterov=False, wd=0.3), steps=4)
