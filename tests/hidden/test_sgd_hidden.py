"""Hidden tests of part sgd: Nesterov momentum, dampening, 2-D arrays with every option.

Expected values are torch.optim.SGD's scalar recurrence, run entry by entry.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.part("sgd")

# A few float64 operations per entry, possibly in another order: a few ulps.
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


def _run(rng, shape, opts, steps, t0=1, buf0=None):
    from deeplinear import optim

    p = rng.standard_normal(shape)
    buf = np.zeros(shape) if buf0 is None else buf0.copy()
    p_exp, buf_exp = p.copy(), buf.copy()
    for t in range(t0, t0 + steps):
        g = rng.standard_normal(shape)
        g_before = g.copy()
        p_exp, buf_exp = _expected_step(p_exp, g, buf_exp, t, opts)
        optim.sgd_update_reference(p, g, buf, t, opts["lr"], opts["mu"], opts["tau"],
                                   opts["nesterov"], opts["wd"])
        where = f"SGD step t={t} (lr={opts['lr']}, momentum={opts['mu']}, " \
                f"dampening={opts['tau']}, nesterov={opts['nesterov']}, " \
                f"weight_decay={opts['wd']}, shape {shape})"
        _assert_close(p, p_exp, f"{where}: p differs from torch.optim.SGD's rule")
        _assert_close(buf, buf_exp, f"{where}: the momentum buffer differs from "
                      "torch.optim.SGD's rule")
        assert np.array_equal(g, g_before), (
            f"{where}: the gradient array g was modified; only p and buf may change")


@pytest.mark.points(1.5)
def test_nesterov(rng):
    _run(rng, (6,), dict(lr=0.1, mu=0.8, tau=0.0, nesterov=True, wd=0.0), steps=5)


@pytest.mark.points(1.5)
def test_dampening_first_step_is_undampened(rng):
    # At t = 1 the buffer is g itself (no dampening); from t = 2 on it is
    # mu buf + (1 - dampening) g. The starting buffer holds garbage that t = 1
    # must overwrite, not mix in.
    shape = (5,)
    _run(rng, shape, dict(lr=0.2, mu=0.7, tau=0.4, nesterov=False, wd=0.0), steps=4,
         buf0=rng.standard_normal(shape))


@pytest.mark.points(1)
def test_two_dimensional_everything(rng):
    # A resumed run (t starts at 3, with a non-zero buffer), on a 2-D array.
    shape = (3, 4)
    _run(rng, shape, dict(lr=0.05, mu=0.9, tau=0.0, nesterov=True, wd=0.1), steps=3, t0=3,
         buf0=rng.standard_normal(shape))
