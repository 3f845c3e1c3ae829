"""Helpers shared by the grading tests: the public ones (tests/grading) and the
ones run when you hand in.

Failure messages, centred finite differences, the reference recurrences of
torch.optim.SGD and Adam, Theorem 1's step, and the checks of balanced
factors. Expected values are computed here with plain NumPy, independently
of the package. This module holds no tests. It imports only NumPy: a helper
that runs your code imports it inside the function, so that the grader's
``deeplinear`` (yours) is the one used.

A test module imports it as ``from gradelib import ...`` (tests/ is on
``sys.path`` through tests/conftest.py), after
``pytest.register_assert_rewrite("gradelib")``, so that a failed ``assert``
in here is explained (the values compared) as in the test module itself.
"""

import numpy as np

# --- tolerances, per part -------------------------------------------------

# numerical_gradient: float64 centred differences with h ~ 1e-6 err by about
# eps*|f|/h ~ 1e-10 (rounding) plus h^2 |f'''| / 6 ~ 1e-13 (truncation): 1e-6
# relative to the gradient's scale leaves a wide margin and still catches any
# wrong formula (a one-sided difference errs by h|f''|/2 ~ 1e-6 * O(1), a
# missing 1/2 by 100%).
GRADCHECK_TOL = 1e-6

# loss_gradient and factor_gradients: centred differences in float64 with
# h = 1e-6 err by about eps*|L|/h ~ 1e-10 (rounding; L is O(1)) and
# h^2 |L'''| / 6 ~ 1e-12 (truncation; zero for l2, which is quadratic, and for
# L = sum(G * W_N ... W_1), which is linear in each single factor). Relative to
# the largest gradient entry, 1e-6 leaves a wide margin; a wrong formula (a
# missing factor p, 1/n instead of 1/(nk), a lost sign, a transpose or a
# product in the wrong order) is off by 10% or more.
FD_TOL = 1e-6
FD_H = 1e-6

# sgd and adam: a step is a handful (SGD) or a dozen (Adam) float64 operations
# on O(1) numbers, and the order of operations may differ from ours (e.g.
# dividing m and v by their bias corrections first): a few ulps, far below the
# relative tolerances. ATOL covers entries that cancel to ~0.
SGD_RTOL = 1e-12
ADAM_RTOL = 1e-11
ATOL = 1e-14

# balanced_init: an SVD and N products of O(1) float64 matrices reproduce W_e
# to about N * max(d) * eps ~ 1e-14 relative, and balancedness holds to the
# same level; 1e-10 relative leaves a wide margin, while a wrong construction
# (wrong root of s, a transposed Q) is off by O(1).
BALANCED_TOL = 1e-10

# e2e_update: the step is a sum of products of eigendecompositions of O(1)
# float64 matrices: two correct implementations agree to ~1e-14 relative to
# the size of the step. 1e-9 leaves a wide margin; a wrong power (e.g. j/N
# instead of (j-1)/N) or a swapped side changes the step by O(1).
E2E_TOL = 1e-9


# --- messages ---------------------------------------------------------------

def first(a, k=4, digits=6):
    """The first ``k`` entries of ``a`` (flattened), with ``digits`` significant digits."""
    return "[" + ", ".join(f"{v:.{digits}g}" for v in np.ravel(a)[:k]) + "]"


def mismatch(yours, expected, what):
    """``what``, then where ``yours`` and ``expected`` differ most, with full precision."""
    diff = np.abs(np.asarray(yours, dtype=float) - expected)
    i = np.unravel_index(int(np.argmax(diff)), diff.shape)
    idx = i[0] if len(i) == 1 else i
    return (f"{what}; largest difference at entry {idx}: yours {float(yours[i])!r} vs "
            f"expected {float(expected[i])!r} (max abs error {float(diff[i]):.2e}); first "
            f"entries yours {first(yours, digits=10)} vs expected {first(expected, digits=10)}")


def assert_close(yours, expected, what, rtol, atol=ATOL):
    """Assert allclose; on failure say where and by how much, with full precision."""
    ok = bool(np.allclose(yours, expected, rtol=rtol, atol=atol))
    assert ok, mismatch(yours, expected, what)


def assert_relative_error(yours, reference, tol, head, against, scale=None):
    """Assert max|yours - reference| <= tol * scale, by default scale = max|reference|.

    On failure: "<head>: max relative error ... (tolerance ...); first entries
    yours [...] vs <against> [...]".
    """
    if scale is None:
        scale = max(float(np.max(np.abs(reference))), 1e-12)
    err = float(np.max(np.abs(yours - reference))) / scale
    assert err <= tol, (
        f"{head}: max relative error {err:.1e} (tolerance {tol:.0e}); first entries yours "
        f"{first(yours)} vs {against} {first(reference)}")


def assert_array(name, yours):
    assert isinstance(yours, np.ndarray), (
        f"{name}: expected a numpy array, got {type(yours).__name__}")


# --- numerical_gradient -----------------------------------------------------

def changed(x, original):
    """Where x differs from original, with full precision (for restore messages)."""
    bad = [i for i in np.ndindex(x.shape) if not x[i] == original[i]]
    shown = "; ".join(f"entry {i}: now {float(x[i])!r} vs before {float(original[i])!r}"
                      for i in bad[:3])
    return f"{len(bad)} entries changed ({shown})"


def check_gradient(yours, expected, what, tol=GRADCHECK_TOL):
    """Assert that ``yours`` (from numerical_gradient) is an array of the right shape
    close to the exact gradient ``expected`` of ``what``."""
    assert isinstance(yours, np.ndarray), (
        f"numerical_gradient must return a numpy array, got {type(yours).__name__}")
    assert yours.shape == expected.shape, (
        f"numerical_gradient returned shape {yours.shape}; expected the shape of x "
        f"{expected.shape}")
    assert_relative_error(yours, expected, tol,
                          f"numerical_gradient does not match the exact gradient of {what}",
                          "exact")


# --- finite differences (loss_gradient, factor_gradients) -------------------

def lp_loss(pred, Y, p):
    """L = mean(|pred - Y|^p), written out independently of the package."""
    return float(np.mean(np.abs(pred - Y) ** p))


def centred_differences(f, x, h=FD_H):
    """Centred differences of the scalar f() with respect to every entry of x (in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def check_against_fd(name, yours, numeric, tol=FD_TOL):
    """Assert that the gradient ``yours`` matches the finite differences ``numeric``."""
    assert_array(name, yours)
    assert yours.shape == numeric.shape, (
        f"{name} has shape {yours.shape}; expected {numeric.shape}")
    assert np.all(np.isfinite(yours)), f"{name} has NaN or infinite entries: {first(yours)}"
    assert_relative_error(yours, numeric, tol,
                          f"{name} does not match centred finite differences",
                          "finite differences")


# --- factors (factor_gradients, balanced_init, e2e_update) ------------------

def random_factors(rng, dims):
    """Gaussian W_j of shape (d_j, d_{j-1}) with entries of std 1/sqrt(d_{j-1})."""
    return [rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j])
            for j in range(len(dims) - 1)]


def product(factors):
    """W_N ... W_1, written out here."""
    P = factors[0]
    for W in factors[1:]:
        P = W @ P
    return P


def numeric_factor_gradients(factors, G, h=FD_H):
    """Centred differences of L = sum(G * W_e) with respect to every entry of every factor."""
    factors = [W.copy() for W in factors]
    return [centred_differences(lambda: float(np.sum(G * product(factors))), W, h)
            for W in factors]


def check_factor_gradients(factors, G, yours):
    """Assert that ``yours`` lists dL/dW_1, ..., dL/dW_N of L = sum(G * W_N ... W_1)."""
    N = len(factors)
    assert isinstance(yours, (list, tuple)), (
        f"factor_gradients_reference must return a list of N = {N} arrays, "
        f"got {type(yours).__name__}")
    assert len(yours) == N, (
        f"factor_gradients_reference returned {len(yours)} gradients for a depth-{N} "
        f"network; expected one per factor, [dL/dW_1, ..., dL/dW_{N}]")
    numeric = numeric_factor_gradients(factors, G)
    scale = max(float(np.max(np.abs(g))) for g in numeric)
    for j, (dW, num, W) in enumerate(zip(yours, numeric, factors), start=1):
        name = f"dL/dW_{j}"
        assert_array(name, dW)
        assert dW.shape == W.shape, (
            f"{name} has shape {dW.shape}; expected the shape of W_{j}, {W.shape} "
            f"(d_{j}, d_{j - 1})")
        assert_relative_error(dW, num, FD_TOL, f"{name} does not match centred finite "
                              "differences", "finite differences", scale=scale)


def run_factor_gradients(rng, dims):
    """Random factors for ``dims`` and G; check linalg.factor_gradients_reference on them.

    Returns (factors, G, yours).
    """
    from deeplinear import linalg

    factors = random_factors(rng, dims)
    G = rng.standard_normal((dims[-1], dims[0]))
    yours = linalg.factor_gradients_reference([W.copy() for W in factors], G.copy())
    check_factor_gradients(factors, G, yours)
    return factors, G, yours


def check_balanced_shapes(factors, dims):
    """``balanced(dims)`` returned N C-contiguous, finite float64 factors of the right shapes."""
    N = len(dims) - 1
    assert isinstance(factors, (list, tuple)) and len(factors) == N, (
        f"balanced({dims}) must return a list of N = {N} factors, got "
        f"{type(factors).__name__} of length {getattr(factors, '__len__', lambda: '?')()}")
    for j, W in enumerate(factors, start=1):
        assert isinstance(W, np.ndarray) and W.shape == (dims[j], dims[j - 1]), (
            f"balanced({dims}): W_{j} has shape {np.shape(W)}; expected (d_{j}, d_{j - 1}) = "
            f"({dims[j]}, {dims[j - 1]})")
        assert W.dtype == np.float64 and W.flags.c_contiguous, (
            f"balanced({dims}): W_{j} must be a C-contiguous float64 array (the optimizers "
            "update factors in place); wrap it in np.ascontiguousarray")
        assert np.all(np.isfinite(W)), f"balanced({dims}): W_{j} has NaN or inf entries"


def check_balanced_product(factors, W_e, dims):
    """W_N ... W_1 equals W_e."""
    prod = product(factors)
    err = float(np.max(np.abs(prod - W_e))) / float(np.max(np.abs(W_e)))
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


# --- e2e_update ---------------------------------------------------------------

def psd_power_reference(A, power):
    """A^power for a symmetric PSD A, via eigh; rounding-level eigenvalues count as 0."""
    if power == 0:
        return np.eye(A.shape[0])
    lam, Q = np.linalg.eigh(0.5 * (A + A.T))
    keep = lam > 1e-10 * max(lam.max(), 0.0)  # true eigenvalues here are O(1) or exactly 0
    return (Q * np.where(keep, np.abs(lam), 0.0) ** power) @ Q.T


def theorem1(W_e, G, N, lr, wd=0.0):
    """The next W_e by Theorem 1, from numpy.linalg.eigh."""
    left, right = W_e @ W_e.T, W_e.T @ W_e
    step = sum(psd_power_reference(left, (j - 1) / N) @ G
               @ psd_power_reference(right, (N - j) / N) for j in range(1, N + 1))
    return (1.0 - lr * wd * N) * W_e - lr * step


def check_e2e_update(W_e, G, N, lr, wd, expected, what):
    """Assert that e2e_update_reference(W_e, G, N, lr[, weight_decay=wd]) gives ``expected``."""
    # Not "from deeplinear import end_to_end": the package exports a function of
    # that name (deeplinear.linalg.end_to_end) that hides the submodule.
    from deeplinear.end_to_end import e2e_update_reference

    W_before, G_before = W_e.copy(), G.copy()
    if wd:
        yours = e2e_update_reference(W_e, G, N, lr, weight_decay=wd)
    else:
        yours = e2e_update_reference(W_e, G, N, lr)
    assert isinstance(yours, np.ndarray) and yours.shape == W_e.shape, (
        f"e2e_update_reference must return the next W_e, an array of shape {W_e.shape}; "
        f"got {type(yours).__name__} of shape {np.shape(yours)}")
    assert np.array_equal(W_e, W_before) and np.array_equal(G, G_before), (
        "e2e_update_reference must not modify W_e or grad_e: return a new array")
    step_size = max(float(np.max(np.abs(expected - W_e))), 1e-300)
    err = float(np.max(np.abs(yours - expected))) / step_size
    assert err <= E2E_TOL, (
        f"{what} (depth {N}, lr {lr}, weight_decay {wd}): the next W_e differs from "
        f"Theorem 1 by {err:.1e} relative to the size of the step (tolerance {E2E_TOL:.0e}); "
        f"first entries of the step (next W_e - W_e) yours {first(yours - W_e, digits=8)} vs "
        f"expected {first(expected - W_e, digits=8)}"
        + (". An error this small usually means rounding-level eigenvalues (~1e-16) were "
           "raised to a fractional power: treat them as 0, as psd_power does"
           if 1e-9 < err < 1e-3 else ""))


# --- sgd and adam -----------------------------------------------------------
# ``opts`` holds the hyperparameters: lr, mu (momentum), tau (dampening),
# nesterov, wd (weight decay) for SGD; lr, b1, b2, eps, wd, amsgrad for Adam.
# With ``hints`` (the default) a failure says how to fix it and the function
# must return None; without, the message names the shape of the arrays.

def sgd_scalar(p, g, b, t, lr, mu, tau, nesterov, wd):
    """One SGD step on one scalar entry: returns (p, buf)."""
    if wd != 0:
        g = g + wd * p
    if mu != 0:
        b = g if t == 1 else mu * b + (1 - tau) * g
        g = g + mu * b if nesterov else b
    return p - lr * g, b


def sgd_expected_step(p, g, buf, t, opts):
    """The next (p, buf) by torch.optim.SGD's rule, entry by entry."""
    p_new, b_new = np.empty_like(p), np.empty_like(buf)
    for i in np.ndindex(p.shape):
        p_new[i], b_new[i] = sgd_scalar(float(p[i]), float(g[i]), float(buf[i]), t, **opts)
    return p_new, b_new


def run_sgd(rng, shape, opts, steps, t0=1, buf0=None, hints=True):
    """Steps t0, ..., t0 + steps - 1 of optim.sgd_update_reference against the reference,
    from random p and the buffer buf0 (default zeros), with random gradients."""
    from deeplinear import optim

    detail = "" if hints else f", shape {shape}"
    p_hint, buf_hint = (" (p must be updated in place)",
                        " (update it in place, buf[...] = ..., and set it to g at t = 1)") \
        if hints else ("", "")
    p = rng.standard_normal(shape)
    buf = np.zeros(shape) if buf0 is None else buf0.copy()
    p_exp, buf_exp = p.copy(), buf.copy()
    for t in range(t0, t0 + steps):
        g = rng.standard_normal(shape)
        g_before = g.copy()
        p_exp, buf_exp = sgd_expected_step(p_exp, g, buf_exp, t, opts)
        result = optim.sgd_update_reference(p, g, buf, t, opts["lr"], opts["mu"],
                                            opts["tau"], opts["nesterov"], opts["wd"])
        if hints:
            assert result is None or result is p, (
                "sgd_update_reference works in place on p and buf (it should return None)")
        where = f"SGD step t={t} (lr={opts['lr']}, momentum={opts['mu']}, " \
                f"dampening={opts['tau']}, nesterov={opts['nesterov']}, " \
                f"weight_decay={opts['wd']}{detail})"
        assert_close(p, p_exp, f"{where}: p differs from torch.optim.SGD's rule{p_hint}",
                     SGD_RTOL)
        if opts["mu"] != 0:
            assert_close(buf, buf_exp, f"{where}: the momentum buffer differs from "
                         f"torch.optim.SGD's rule{buf_hint}", SGD_RTOL)
        assert np.array_equal(g, g_before), (
            f"{where}: the gradient array g was modified; only p and buf may change")


def adam_scalar(p, g, m, v, vmax, t, lr, b1, b2, eps, wd, amsgrad):
    """One Adam step on one scalar entry: returns (p, m, v, vmax)."""
    if wd != 0:
        g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    if amsgrad:
        vmax = max(vmax, v)
    v_used = vmax if amsgrad else v
    denom = float(np.sqrt(v_used)) / float(np.sqrt(1 - b2 ** t)) + eps
    return p - lr / (1 - b1 ** t) * (m / denom), m, v, vmax


def adam_expected_step(exp, g, t, opts):
    """The next [p, m, v, vmax] from ``exp`` by torch.optim.Adam's rule, entry by entry."""
    new = [np.empty(g.shape) for _ in range(4)]
    for i in np.ndindex(g.shape):
        out = adam_scalar(float(exp[0][i]), float(g[i]), *(float(a[i]) for a in exp[1:]),
                          t, **opts)
        for a, value in zip(new, out):
            a[i] = value
    return new


def run_adam(rng, shape, opts, steps, t0=1, grad_scales=None, state0=None, hints=True):
    """Steps t0, ..., t0 + steps - 1 of optim.adam_update_reference against the reference,
    from random p and the state [m, v, vmax] state0 (default zeros), with random gradients
    (times grad_scales[k] at the k-th step)."""
    from deeplinear import optim

    detail = "" if hints else f", shape {shape}"
    p_hint, state_hint = (" (p must be updated in place)",
                          " (update the state arrays in place, m[...] = ...)") \
        if hints else ("", "")
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
        exp = adam_expected_step(exp, g, t, opts)
        result = optim.adam_update_reference(p, g, *state, t, opts["lr"], opts["b1"],
                                             opts["b2"], opts["eps"], opts["wd"],
                                             opts["amsgrad"])
        if hints:
            assert result is None or result is p, (
                "adam_update_reference works in place on p, m, v, vmax (it should return None)")
        where = (f"Adam step t={t} (lr={opts['lr']}, betas=({opts['b1']}, {opts['b2']}), "
                 f"eps={opts['eps']}, weight_decay={opts['wd']}, amsgrad={opts['amsgrad']}"
                 f"{detail})")
        names = ["m (first moment)", "v (second moment)"] + \
            (["vmax (running max of v)"] if opts["amsgrad"] else [])
        for name, yours, expected in zip(names, state, exp[1:]):
            assert_close(yours, expected,
                         f"{where}: {name} differs from torch.optim.Adam's rule{state_hint}",
                         ADAM_RTOL)
        assert_close(p, exp[0], f"{where}: p differs from torch.optim.Adam's rule{p_hint}",
                     ADAM_RTOL)
        assert np.array_equal(g, g_before), (
            f"{where}: the gradient array g was modified; only p, m, v, vmax may change")
