"""The judge's private reference: each graded rule written out in plain NumPy, and the
cases (inputs with their expected outputs) that the grading tests check.

This file never leaves the instructor's private folder. The release ships only the
public cases, as stored arrays (``tests/grading/cases.npz``, written by
``python -m deeplinear.assignment release`` from :func:`public_cases`); when grading,
the judge calls ``public_cases(seed)`` with a grading seed and grades on fresh inputs, so
that the public tests carry no implementation of a graded rule. Expected
values are computed here, independently of the package: scalar recurrences
entry by entry for the optimizers, products written out for the factor
gradients, ``numpy.linalg.eigh`` for Theorem 1.

A case is a dict of arrays plus ``"params"``, a JSON-able dict of the
options. Every case is drawn from its own seed, so a case reproduces
exactly wherever it is built.
"""

import numpy as np

# --- the rules ------------------------------------------------------------------


def lp_value(pred, Y, p):
    return float(np.mean(np.abs(pred - Y) ** p))


def lp_grad_pred(pred, Y, p):
    r = pred - Y
    return p * np.abs(r) ** (p - 1) * np.sign(r) / r.size


def product(factors):
    P = factors[0]
    for W in factors[1:]:
        P = W @ P
    return P


def factor_gradients(factors, G):
    """(W_N...W_{j+1})^T G (W_{j-1}...W_1)^T, each product formed from scratch."""
    dims = [factors[0].shape[1]] + [W.shape[0] for W in factors]
    out = []
    for j in range(1, len(factors) + 1):
        above = np.eye(dims[j])
        for W in factors[j:]:
            above = W @ above
        below = np.eye(dims[0])
        for W in factors[: j - 1]:
            below = W @ below
        out.append(above.T @ G @ below.T)
    return out


def sgd_scalar(p, g, b, t, lr, momentum, dampening, nesterov, weight_decay):
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        b = g if t == 1 else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b
    return p - lr * g, b


def adam_scalar(p, g, m, v, vmax, t, lr, betas, eps, weight_decay, amsgrad):
    b1, b2 = betas
    if weight_decay != 0:
        g = g + weight_decay * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    if amsgrad:
        vmax = max(vmax, v)
    v_used = vmax if amsgrad else v
    denom = float(np.sqrt(v_used)) / float(np.sqrt(1 - b2 ** t)) + eps
    return p - lr / (1 - b1 ** t) * (m / denom), m, v, vmax


def psd_power(A, power):
    if power == 0:
        return np.eye(A.shape[0])
    lam, Q = np.linalg.eigh(0.5 * (A + A.T))
    keep = lam > 1e-10 * max(lam.max(), 0.0)  # true eigenvalues here are O(1) or exactly 0
    return (Q * np.where(keep, np.abs(lam), 0.0) ** power) @ Q.T


def theorem1(W_e, G, N, lr, wd=0.0):
    left, right = W_e @ W_e.T, W_e.T @ W_e
    step = sum(psd_power(left, (j - 1) / N) @ G @ psd_power(right, (N - j) / N)
               for j in range(1, N + 1))
    return (1.0 - lr * wd * N) * W_e - lr * step


# --- cases ------------------------------------------------------------------------


def loss_case(seed, p, n, d, k, scale=1.0):
    """Inputs of lp(p): pred, Y, X, W_e; expected grad_pred, value and grad_e."""
    rng = np.random.default_rng(seed)
    pred, Y = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    X, W_e = rng.standard_normal((n, d)), scale * rng.standard_normal((k, d))
    P = X @ W_e.T
    return {"pred": pred, "Y": Y, "X": X, "W_e": W_e,
            "expect_grad_pred": lp_grad_pred(pred, Y, p),
            "expect_value": np.array(lp_value(P, Y, p)),
            "expect_grad_e": lp_grad_pred(P, Y, p).T @ X,
            "params": {"p": float(p)}}


def factor_case(seed, dims):
    """Gaussian factors (std 1/sqrt(d_{j-1})) and G; expected dL/dW_j of sum(G * W_e)."""
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j])
               for j in range(len(dims) - 1)]
    G = rng.standard_normal((dims[-1], dims[0]))
    case = {"G": G, "params": {"dims": list(dims)}}
    for j, (W, dW) in enumerate(zip(factors, factor_gradients(factors, G))):
        case[f"W{j}"], case[f"expect_dW{j}"] = W, dW
    return case


def sgd_case(seed, shape, steps, t0=1, buf0=False, **options):
    """Steps t0 .. t0+steps-1 of torch.optim.SGD's rule from random p (and buffer)."""
    opts = dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)
    opts.update(options)
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(shape)
    buf = rng.standard_normal(shape) if buf0 else np.zeros(shape)
    grads = rng.standard_normal((steps, *shape))
    case = {"p": p, "grads": grads, "params": {"options": opts, "t0": t0, "buf0": bool(buf0)}}
    if buf0:
        case["buf0"] = buf.copy()
    exp_p, exp_b = [], []
    cur_p, cur_b = p.copy(), buf.copy()
    for k in range(steps):
        new_p, new_b = np.empty(shape), np.empty(shape)
        for i in np.ndindex(shape):
            new_p[i], new_b[i] = sgd_scalar(float(cur_p[i]), float(grads[k][i]), float(cur_b[i]),
                                            t0 + k, **opts)
        cur_p, cur_b = new_p, new_b
        exp_p.append(new_p)
        exp_b.append(new_b)
    case["expect_p"], case["expect_momentum_buffer"] = np.array(exp_p), np.array(exp_b)
    return case


def adam_case(seed, shape, steps, t0=1, state0=False, grad_scales=None, **options):
    """Steps of torch.optim.Adam's rule from random p (and, resumed, random moments)."""
    opts = dict(lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0, amsgrad=False)
    opts.update(options)
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(shape)
    if state0:
        m = 0.1 * rng.standard_normal(shape)
        v = 0.5 * np.abs(rng.standard_normal(shape))
        vmax = v + np.abs(rng.standard_normal(shape))
    else:
        m, v, vmax = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    scales = np.ones(steps) if grad_scales is None else np.asarray(grad_scales, float)
    grads = scales.reshape(-1, *[1] * len(shape)) * rng.standard_normal((steps, *shape))
    case = {"p": p, "grads": grads,
            "params": {"options": opts, "t0": t0, "state0": bool(state0)}}
    if state0:
        case.update(m0=m.copy(), v0=v.copy(), vmax0=vmax.copy())
    cur = [p.copy(), m.copy(), v.copy(), vmax.copy()]
    out = {"p": [], "exp_avg": [], "exp_avg_sq": [], "max_exp_avg_sq": []}
    for k in range(steps):
        new = [np.empty(shape) for _ in range(4)]
        for i in np.ndindex(shape):
            vals = adam_scalar(*(float(a[i]) for a in cur[:1]), float(grads[k][i]),
                               *(float(a[i]) for a in cur[1:]), t0 + k, **opts)
            for a, value in zip(new, vals):
                a[i] = value
        cur = new
        for key, arr in zip(out, new):
            out[key].append(arr)
    for key, arrs in out.items():
        case["expect_" + key] = np.array(arrs)
    return case


def e2e_case(seed, shape, depth, lr, weight_decay=0.0, rank=None, zero=False):
    """W_e (optionally of a given rank, or zero) and G; expected next W_e by Theorem 1."""
    rng = np.random.default_rng(seed)
    k, d = shape
    if zero:
        W_e = np.zeros(shape)
    elif rank is None:
        W_e = rng.standard_normal(shape)
    else:
        W_e = rng.standard_normal((k, rank)) @ rng.standard_normal((rank, d))
    G = rng.standard_normal(shape)
    return {"W_e": W_e, "G": G, "expect": theorem1(W_e, G, depth, lr, weight_decay),
            "params": {"depth": depth, "lr": lr, "weight_decay": weight_decay}}


# --- the wide cases: only a formula finishes at this size -----------------------------
#
# Every case of loss_gradient is wide, and every test of factor_gradients
# also needs one wide network (run once per grading, its verdict shared: see
# checks/factor_gradients.py). There the formula takes milliseconds, while any
# method that differentiates entry by entry re-evaluates the loss (or the whole
# product) once or twice per entry and runs for minutes, far past the 10 s a
# call may take.
#
# Measured in one process with one BLAS thread, as in a worker (the estimates
# time a few seconds of the loop over entries and scale to all entries; the
# complex step is Im L(w + ih e_i) / h, the centred differences evaluate L
# twice per entry):
#
#   case                                       formula   complex step   centred differences
#   factor_gradients, dims WIDE_DIMS              2 ms        ~120 s           ~70 s
#   lp(p).grad_pred, pred 500 x 200, p = 2/4/3    1 ms     ~140/140/420 s     ~40/90/80 s
#   lp(p).value_and_grad_e, X 500 x 200,          3 ms     ~160/160/260 s     ~70/90/90 s
#     W_e 200 x 200, p = 2/4/3
#
# (Finite differences also miss the 1e-11 tolerance of these parts.) What the
# clock cannot catch: the complex step of the scalar |r|^p applied to all
# entries at once (2 ms), or per entry of W_e moving only its column of pred
# (0.2..0.7 s). Those are not the formula either (the policy of the student
# guide), but only a reader can tell.
#
# The inputs of one call are 0.9..2 MB of float64.

WIDE_LOSS = {"n": 500, "d": 200, "k": 200}
WIDE_DIMS = [140, 160, 150, 170, 130]  # no square factor, so no transpose passes


def wide_loss_case(seed, p):
    """A loss case of the wide size, with predictions X W_e^T of size ~1."""
    return loss_case(seed, p, scale=1.0 / np.sqrt(WIDE_LOSS["d"]), **WIDE_LOSS)


def wide_factor_case(seed):
    """A factor case of the wide depth-4 network WIDE_DIMS."""
    return factor_case(seed, WIDE_DIMS)


# --- the public cases, stored in the release ---------------------------------------


def fresh(base, seed):
    """The seed of a case: ``base`` for the stored cases, else drawn from the grading seed."""
    if seed is None:
        return base
    return int(np.random.SeedSequence([int(seed), int(base)]).generate_state(1)[0])


def public_cases(seed=None):
    """Every case of the public tests, by name.

    ``seed=None`` gives the stored cases that a release ships; a grading seed
    gives fresh inputs of the same shapes and kinds, with their expected values.
    """
    s = lambda base: fresh(base, seed)  # noqa: E731
    cases = {
        "sgd/plain": sgd_case(s(21), (1, 7), 3, lr=0.1),
        "sgd/momentum": sgd_case(s(22), (1, 6), 5, lr=0.05, momentum=0.9),
        "sgd/weight-decay": sgd_case(s(23), (1, 5), 4, lr=0.1, momentum=0.5, weight_decay=0.3),
        "adam/first-step": adam_case(s(31), (1, 8), 1),
        "adam/several-steps": adam_case(s(32), (1, 6), 6),
        "adam/other": adam_case(s(33), (1, 5), 4, lr=0.05, betas=[0.5, 0.8], eps=0.1),
        "e2e/depth1": e2e_case(s(40), (2, 3), 1, 0.1),
        "e2e/depth1-wd": e2e_case(s(40), (2, 3), 1, 0.1, 0.5),
        "e2e/depth2": e2e_case(s(41), (3, 3), 2, 0.1),
        "e2e/depth3": e2e_case(s(42), (3, 5), 3, 0.05),
        "e2e/single-output": e2e_case(s(43), (1, 6), 3, 0.1),
        "e2e/weight-decay": e2e_case(s(44), (3, 3), 2, 0.1, 0.3),
    }
    for name, dims in {"depth1": [4, 3], "depth1-square": [3, 3], "depth2": [4, 5, 3],
                       "depth2-square": [3, 3, 3], "depth3": [5, 4, 6, 2],
                       "depth3-square": [3, 3, 3, 3], "shapes": [3, 7, 2, 5, 4]}.items():
        cases[f"factors/{name}"] = factor_case(s(50 + len(cases)), dims)
    cases["loss/l2-wide"] = wide_loss_case(s(15), 2.0)
    cases["loss/l4-wide"] = wide_loss_case(s(16), 4.0)
    cases["factors/wide"] = wide_factor_case(s(60))
    return cases
