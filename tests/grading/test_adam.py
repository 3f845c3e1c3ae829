"""Part 5, adam: ``deeplinear.optim.adam_update_reference(p, g, m, v, vmax, t, lr, beta1,
beta2, eps, weight_decay, amsgrad)``.

One step of torch.optim.Adam's rule, in place on ``p``, ``m``, ``v`` (and
``vmax`` with AMSGrad); see the docstring of ``deeplinear.optim.Adam``::

    g    <- g + weight_decay * p                    (if weight_decay != 0)
    m    <- beta1 m + (1 - beta1) g
    v    <- beta2 v + (1 - beta2) g^2
    vmax <- max(vmax, v);  v_used = vmax if amsgrad else v
    p    <- p - lr / (1 - beta1^t) * m / (sqrt(v_used) / sqrt(1 - beta2^t) + eps)

What is tested (public part; AMSGrad and weight decay are tested when you
hand in): the first step, several steps with the default betas, and other
values of lr, betas and eps (with an eps large enough that where it is added
matters). Expected values are the scalar recurrence above, run entry by entry.
"""

import math

import numpy as np
import pytest

pytestmark = pytest.mark.part("adam")

# A step is a dozen float64 operations on O(1) numbers; an equivalent order
# (e.g. dividing m and v by their bias corrections first) differs by a few
# ulps, far below 1e-11 relative. atol covers entries that cancel to ~0.
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
    """One Adam step on one scalar entry: returns (p, m, v, vmax)."""
    if wd != 0:
        g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    if amsgrad:
        vmax = max(vmax, v)
    v_used = vmax if amsgrad else v
    denom = math.sqrt(v_used) / math.sqrt(1 - b2 ** t) + eps
    return p - lr / (1 - b1 ** t) * (m / denom), m, v, vmax


def _run(rng, shape, opts, steps, t0=1):
    from deeplinear import optim

    p = rng.standard_normal(shape)
    state = [np.zeros(shape), np.zeros(shape), np.zeros(shape)]  # m, v, vmax
    exp = [p.copy()] + [s.copy() for s in state]
    for t in range(t0, t0 + steps):
        g = rng.standard_normal(shape)
        g_before = g.copy()
        new = [np.empty(shape) for _ in range(4)]
        for i in np.ndindex(shape):
            out = _adam_scalar(float(exp[0][i]), float(g[i]), *(float(a[i]) for a in exp[1:]),
                               t, **opts)
            for a, value in zip(new, out):
                a[i] = value
        exp = new
        result = optim.adam_update_reference(p, g, *state, t, opts["lr"], opts["b1"],
                                             opts["b2"], opts["eps"], opts["wd"],
                                             opts["amsgrad"])
        assert result is None or result is p, (
            "adam_update_reference works in place on p, m, v, vmax (it should return None)")
        where = (f"Adam step t={t} (lr={opts['lr']}, betas=({opts['b1']}, {opts['b2']}), "
                 f"eps={opts['eps']}, weight_decay={opts['wd']}, amsgrad={opts['amsgrad']})")
        names = ["m (first moment)", "v (second moment)"] + \
            (["vmax (running max of v)"] if opts["amsgrad"] else [])
        for name, yours, expected in zip(names, state, exp[1:]):
            _assert_close(yours, expected, f"{where}: {name} differs from torch.optim.Adam's "
                          "rule (update the state arrays in place, m[...] = ...)")
        _assert_close(p, exp[0], f"{where}: p differs from torch.optim.Adam's rule "
                      "(p must be updated in place)")
        assert np.array_equal(g, g_before), (
            f"{where}: the gradient array g was modified; only p, m, v, vmax may change")


DEFAULTS = dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, amsgrad=False)


@pytest.mark.points(3)
def test_first_step(rng):
    # With |g| >> eps the first step is about -lr * sign(g).
    _run(rng, (8,), DEFAULTS, steps=1)


@pytest.mark.points(3)
def test_several_steps_default_betas(rng):
    _run(rng, (6,), DEFAULTS, steps=6)


@pytest.mark.points(3)
def test_other_hyperparameters(rng):
    # eps = 0.1 is comparable to sqrt(v_hat): adding eps inside the square
    # root, or before the bias correction, gives a visibly different step.
    _run(rng, (5,), dict(lr=0.05, b1=0.5, b2=0.8, eps=0.1, wd=0.0, amsgrad=False), steps=4)
