"""What the grading tests use: calls of the student's code, the comparisons, and the messages.

The tests never import the student's ``deeplinear``. Each call goes through
the ``student`` fixture (see ``tests/gradeplugin.py``) to a worker process
(``tests/gradesandbox.py``) and comes back as plain data; this module turns
that data into checks with messages a student can act on. It holds no
implementation of a graded rule: the expected values of the public tests are
stored arrays (:func:`public_case`), those of the hidden tests come from the
judge's private reference.

Every message is built here from the comparison: shapes, error sizes, the
first entries. When the student's code raised, the message gives the
exception's type, where it was raised in the student's package and its
message, and the message is withheld if it quotes the instructor's files.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from gradesandbox import NumpyScalar, Unsupported

HERE = Path(__file__).resolve().parent
CASES_FILE = HERE / "grading" / "cases.npz"
REFERENCE_FILE = HERE / "hidden" / "gradereference.py"

# --- tolerances, per part -------------------------------------------------------

# numerical_gradient: float64 centred differences with h ~ 1e-4..1e-6 err by
# about eps*|f|/h <= 1e-10 (rounding) plus h^2 |f'''| / 6 <= 1e-9 (truncation);
# 1e-6 relative to the gradient's scale leaves a wide margin and still catches
# any wrong formula (a one-sided difference errs by h|f''|/2 ~ 1e-4, a missing
# 1/2 by 100%).
GRADCHECK_TOL = 1e-6

# loss_gradient and factor_gradients: yours and the judge's are both exact
# formulas in float64; a different order of the sums and products moves the
# result by a few eps times the number of terms, ~1e-15..1e-14 relative to the
# largest entry. 1e-11 leaves a margin of 1000. Centred differences cannot
# pass for a formula: with h = 1e-6 they err by eps*|L|/h ~ 2e-10 |L|, at least
# 20 times the tolerance here, and a wrong formula (a missing p, 1/n instead
# of 1/(nk), a transpose, a product in the wrong order) is off by 10% or more.
GRADIENT_TOL = 1e-11

# sgd and adam: a step is a handful (SGD) or a dozen (Adam) float64 operations
# on O(1) numbers, and the order of operations may differ from the judge's
# (dividing m and v by their bias corrections first, say): a few ulps, far
# below these relative tolerances. ATOL covers entries that cancel to ~0.
SGD_RTOL = 1e-12
ADAM_RTOL = 1e-11
ATOL = 1e-14

# balanced_init: an SVD and N products of O(1) float64 matrices reproduce W_e
# to about N * max(d) * eps ~ 1e-14 relative, and balancedness holds to the
# same level; 1e-10 leaves a wide margin, while a wrong construction (a wrong
# root of s, a transposed Q) is off by O(1).
BALANCED_TOL = 1e-10

# e2e_update: the step is a sum of products of eigendecompositions (or an SVD)
# of O(1) float64 matrices: two correct implementations agree to ~1e-14
# relative to the size of the step. 1e-9 leaves a wide margin; a wrong power
# (j/N instead of (j-1)/N) or a swapped side changes the step by O(1).
E2E_TOL = 1e-9


# --- messages ---------------------------------------------------------------------

def first(a, k=4, digits=6):
    """The first ``k`` entries of ``a`` (flattened), with ``digits`` significant digits."""
    return "[" + ", ".join(f"{v:.{digits}g}" for v in np.ravel(a)[:k]) + "]"


def mismatch(yours, expected, what):
    """``what``, then where ``yours`` and ``expected`` differ most, with full precision."""
    diff = np.abs(np.asarray(yours, dtype=float) - expected)
    i = np.unravel_index(int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff))), diff.shape)
    idx = i[0] if len(i) == 1 else i
    return (f"{what}; largest difference at entry {idx}: yours {float(yours[i])!r} vs "
            f"expected {float(expected[i])!r}; first entries yours {first(yours, digits=10)} "
            f"vs expected {first(expected, digits=10)}")


def assert_close(yours, expected, what, rtol, atol=ATOL):
    """Assert allclose (NaN never passes); on failure say where and by how much."""
    ok = bool(np.all(np.abs(yours - expected) <= atol + rtol * np.abs(expected)))
    assert ok, mismatch(yours, expected, what)


def assert_relative_error(yours, expected, tol, head, scale=None):
    """Assert max|yours - expected| <= tol * scale (default max|expected|); NaN fails."""
    if scale is None:
        scale = max(float(np.max(np.abs(expected))), 1e-300)
    err = float(np.max(np.abs(yours - expected))) / scale
    assert err <= tol, (
        f"{head}: max error {err:.1e} relative to the largest entry (tolerance {tol:.0e}); "
        f"first entries yours {first(yours, digits=10)} vs expected {first(expected, digits=10)}")


def changed(x, original):
    """Where x differs from original, with full precision (for restore messages)."""
    bad = [i for i in np.ndindex(x.shape) if not x[i] == original[i]]
    shown = "; ".join(f"entry {i}: now {float(x[i])!r} vs before {float(original[i])!r}"
                      for i in bad[:3])
    return f"{len(bad)} entries changed ({shown})"


# --- calls of the student's code -------------------------------------------------

class StudentError(AssertionError):
    """The student's code raised, or its worker gave no answer: the test fails."""


def _encode(value, arrays):
    if isinstance(value, np.ndarray):
        name = f"in_{len(arrays)}.npy"
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, arrays) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def request(student, what, recipe, **fields):
    """Run one recipe of ``tests/gradeworker.py``; return its answer (a dict).

    ``what`` names the call in messages ("factor_gradients", ...).
    """
    arrays = {}
    req = {"recipe": recipe, **{k: _encode(v, arrays) for k, v in fields.items()}}
    response = student.run(req, arrays)
    if response.failure:
        raise StudentError(f"{what}: {response.failure}")
    if not response.ok:
        raise StudentError(f"{what}: {describe_error(response.error)}")
    answer = response.answer
    if not isinstance(answer, dict):
        raise StudentError(f"{what}: the worker's answer was not readable")
    return answer


def call(student, target, *args, what=None, construct=None, method=None, **kwargs):
    """``target(*args, **kwargs)`` in a worker; returns (value, args as they were after).

    ``target`` is ``"deeplinear.module:name"``. With ``construct``, the call is
    ``name(*construct).method(*args, **kwargs)``.
    """
    what = what or (method or target.rsplit(":", 1)[-1])
    answer = request(student, what, "call", target=target, construct=construct, method=method,
                     args=list(args), kwargs=kwargs)
    return answer.get("value"), answer.get("args_after")


def describe(value) -> str:
    """What a returned value is, in a few words."""
    if isinstance(value, Unsupported):
        return value.what
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, NumpyScalar):
        return f"a numpy scalar ({value.dtype})"
    return type(value).__name__ if value is not None else "None"


def as_array(value, what, shape=None):
    """``value`` if it is a float64 array (of ``shape``); else fail saying what it is."""
    ok = isinstance(value, np.ndarray) and value.dtype == np.float64
    assert ok, f"{what}: expected a float64 numpy array, got {describe(value)}"
    if shape is not None:
        assert value.shape == tuple(shape), (
            f"{what}: has shape {value.shape}; expected {tuple(shape)}")
    return value


def as_float(value, what):
    """``value`` as a float if it is a Python or NumPy scalar; else fail."""
    if isinstance(value, NumpyScalar):
        return value.value
    assert type(value) in (float, int), f"{what}: expected a number, got {describe(value)}"
    return float(value)


# --- what the student's code raised -------------------------------------------------

WITHHELD = "(message withheld: it quotes the instructor's files)"


def describe_error(error) -> str:
    """``<Type> in deeplinear/x.py:12 (f): <message>``, built from the worker's report."""
    kind = error.get("type", "") or "an exception"
    kind = kind if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]{0,80}", kind) else "an exception"
    where = error.get("where") or {}
    place = ""
    if re.fullmatch(r"deeplinear/[A-Za-z0-9_/]{1,120}\.py", str(where.get("file", ""))) and \
            re.fullmatch(r"[A-Za-z_<>][A-Za-z0-9_<>]{0,80}", str(where.get("function", ""))):
        place = f" in {where['file']}:{where['line']} ({where['function']})"
    message = redact(error.get("message", ""))
    return f"your code raised {kind}{place}: {message}" if message else \
        f"your code raised {kind}{place}"


def redact(message, limit=400) -> str:
    """One line of at most ``limit`` characters, withheld if it quotes a secret file."""
    text = " ".join(str(message).split())
    if _quotes_secret(text):
        return WITHHELD
    return text if len(text) <= limit else text[:limit - 3] + "..."


WINDOW = 24


def _quotes_secret(text) -> bool:
    secrets = _secret_windows()
    return any(text[i:i + WINDOW] in secrets for i in range(max(0, len(text) - WINDOW + 1)))


@lru_cache(maxsize=1)
def _secret_windows() -> frozenset:
    """Every WINDOW-character piece of the instructor's private text that no public file holds.

    The private text is what a release leaves out: the hidden tests, the
    bodies of the solution regions, and the instructor's tools. What a
    release shows anyway (the stubs' hints, the docstrings, the public tests
    and these helpers) is not withheld, even where a hidden test repeats it.
    In a release none of the private text is here, and nothing is withheld.
    """
    root = HERE.parent
    region = re.compile(r"(# BEGIN SOLUTION[^\n]*\n(?:[ \t]*#   [^\n]*\n)*)(.*?)# END SOLUTION",
                        re.S)
    private, public = [], []
    for folder in (HERE / "hidden", root / "deeplinear" / "assignment"):
        private += [p.read_text(errors="replace") for p in sorted(folder.rglob("*.py"))]
    for path in sorted((root / "deeplinear").rglob("*.py")):
        if "assignment" in path.relative_to(root).parts:
            continue
        text = path.read_text(errors="replace")
        for head, body in region.findall(text):
            private.append(body)
            # the hint as the stub's message shows it: its lines joined
            public.append(" ".join(re.sub(r"^\s*#( BEGIN SOLUTION|  )", "", line).strip()
                                   for line in head.splitlines()))
        public.append(region.sub(lambda m: m.group(1), text))
    public += [p.read_text(errors="replace") for p in sorted(HERE.glob("grad*.py"))]
    public += [p.read_text(errors="replace") for p in sorted((HERE / "grading").glob("*.py"))]

    def windows(texts):
        out = set()
        for text in texts:
            flat = " ".join(text.split())
            out.update(flat[i:i + WINDOW] for i in range(max(0, len(flat) - WINDOW + 1)))
        return out

    return frozenset(windows(private) - windows(public))


# --- the public cases --------------------------------------------------------------

@lru_cache(maxsize=1)
def judge_module():
    """The judge's private module of rules and cases (the instructor's tree only)."""
    spec = importlib.util.spec_from_file_location("gradereference", REFERENCE_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=1)
def _stored_cases() -> dict:
    """tests/grading/cases.npz, as written by the release (deeplinear.assignment.release)."""
    cases = {}
    with np.load(CASES_FILE, allow_pickle=False) as data:
        for key in data.files:
            name, _, field = key.rpartition("/")
            case = cases.setdefault(name, {})
            if field == "params":
                case["params"] = json.loads(str(data[key]))
            else:
                case[field] = data[key]
    return cases


@lru_cache(maxsize=1)
def _judge_cases() -> dict:
    return judge_module().public_cases()


def public_case(name) -> dict:
    """A case of the public tests: built by the judge's reference where it exists (the
    instructor's tree), else read from the stored ``tests/grading/cases.npz`` (a release)."""
    if REFERENCE_FILE.is_file():
        return _judge_cases()[name]
    return _stored_cases()[name]


# --- numerical_gradient --------------------------------------------------------------

def run_numerical_gradient(student, function, x=None, h=None, view_base=None):
    """numerical_gradient(f, x[, h]) in a worker with the named test function.

    Returns the worker's answer: ``value`` (the result), ``x_after``,
    ``base_after``, ``calls``, ``calls_with_x``, ``raised``, ``result_is_x``.
    """
    fields = {"function": function, "h": h}
    if view_base is not None:
        fields["view"] = {"base": view_base}
    else:
        fields["x"] = x
    return request(student, "numerical_gradient", "numerical_gradient", **fields)


def check_gradient(yours, expected, what, tol=GRADCHECK_TOL):
    """``yours`` (from numerical_gradient) is an array of x's shape close to ``expected``."""
    as_array(yours, "numerical_gradient", expected.shape)
    assert_relative_error(yours, expected, tol,
                          f"numerical_gradient does not match the exact gradient of {what}")


# --- loss_gradient ---------------------------------------------------------------------

def run_grad_pred(student, case, what):
    p = case["params"]["p"]
    value, after = call(student, "deeplinear.losses:lp", case["pred"], case["Y"],
                        construct=[p], method="grad_pred")
    yours = as_array(value, f"lp({p:g}).grad_pred", case["pred"].shape)
    assert_relative_error(yours, case["expect_grad_pred"], GRADIENT_TOL, f"dL/dpred ({what})")
    assert np.array_equal(after[0], case["pred"]) and np.array_equal(after[1], case["Y"]), (
        f"lp({p:g}).grad_pred must not modify pred or Y")


def run_value_and_grad_e(student, case, what):
    p = case["params"]["p"]
    value, after = call(student, "deeplinear.losses:lp", case["W_e"], case["X"], case["Y"],
                        construct=[p], method="value_and_grad_e")
    ok = isinstance(value, tuple) and len(value) == 2
    assert ok, f"lp({p:g}).value_and_grad_e must return a pair (value, grad_e), got " \
        f"{describe(value)}"
    loss = as_float(value[0], f"lp({p:g}).value_and_grad_e: the value")
    expected = float(case["expect_value"])
    # One mean of n*k powers: float64 rounding is ~1e-15 relative.
    assert abs(loss - expected) <= 1e-12 * abs(expected), (
        f"loss value ({what}): yours {loss!r} vs expected {expected!r}")
    grad_e = as_array(value[1], f"lp({p:g}).value_and_grad_e: grad_e", case["W_e"].shape)
    assert_relative_error(grad_e, case["expect_grad_e"], GRADIENT_TOL, f"dL/dW_e ({what})")
    assert all(np.array_equal(a, case[k]) for a, k in zip(after, ("W_e", "X", "Y"))), (
        f"lp({p:g}).value_and_grad_e must not modify W_e, X or Y")


# --- factor_gradients -------------------------------------------------------------------

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


# --- sgd and adam ------------------------------------------------------------------------

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


# --- balanced_init ----------------------------------------------------------------------

def run_balanced(student, dims, **kwargs):
    """init.balanced(dims, **kwargs) in a worker; checks shapes and dtype; returns factors.

    ``rng`` may be an int, or ``("generator", seed)`` for a Generator made in the worker.
    """
    if isinstance(kwargs.get("rng"), tuple):
        kwargs["rng"] = {"__rng__": int(kwargs["rng"][1])}
    answer = request(student, "balanced", "call", target="deeplinear.init:balanced",
                     args=[list(dims)], kwargs=kwargs)
    factors, layout = answer.get("value"), answer.get("c_contiguous")
    N = len(dims) - 1
    ok = isinstance(factors, (list, tuple)) and len(factors) == N
    assert ok, f"balanced({dims}) must return a list of N = {N} factors, got {describe(factors)}"
    for j, W in enumerate(factors, start=1):
        as_array(W, f"balanced({dims}): W_{j}", (dims[j], dims[j - 1]))
        assert layout[j - 1], (
            f"balanced({dims}): W_{j} must be a C-contiguous float64 array (the optimizers "
            "update factors in place); wrap it in np.ascontiguousarray")
        assert np.all(np.isfinite(W)), f"balanced({dims}): W_{j} has NaN or inf entries"
    return factors


def check_balanced_product(factors, W_e, dims):
    """W_N ... W_1 equals W_e."""
    prod = factors[0]
    for W in factors[1:]:
        prod = W @ prod
    err = float(np.max(np.abs(prod - W_e))) / max(float(np.max(np.abs(W_e))), 1e-300)
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


# --- e2e_update ---------------------------------------------------------------------------

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
