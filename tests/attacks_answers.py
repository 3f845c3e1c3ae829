"""Attacks on the answers: lazy stubs and forged results. Each must earn 0 on its part.

Issue 19 (A3, A4, A5). Every entry of :data:`ANSWER_ATTACKS` is a dict with the
fields of ``tests/test_attacks.py``'s ``Attack``: ``name``, ``part``, ``body``
(code at indentation 0 for every region of the part, or a list with one body
per region, in file order; see ``assignmentlib.inject``), and optionally
``module_code`` (put at the top of the part's first file) and
``first_region_only``. Graded with the hidden tests, each must earn 0 on its
part while the other parts keep full marks.

* **Lazy stubs**: code that does none of the part's work (returns zeros, its
  inputs, does nothing, always raises the error a test expects). Every test
  of every part must fail them.
* **Forged answers** of ``numerical_gradient``: the closed form of the old
  test functions (which used to sit in the shipped worker), the old report
  fields written by hand, and swallowing the exception of ``f``. The judge
  now evaluates ``f`` itself and checks the points and values it saw.
* **The complex step** (``Im L(w + ih e_i) / h``, exact to rounding) in place
  of the formulas of ``loss_gradient`` and ``factor_gradients``: every test
  of those parts also runs on a wide case, where it cannot finish in time.
* **The lookup table**: the answers of the stored public cases
  (``tests/grading/cases.npz`` of a release), put into the package as data
  and looked up by a hash of the inputs. The judge grades the public tests on
  fresh inputs, so nothing is found.
"""

import base64
import io

import numpy as np

from deeplinear.assignment.judge.private import check_private, reference

# --- lazy stubs ----------------------------------------------------------------------

#: The queries of numerical_gradient done right, and nothing else (x restored).
MOVE_AND_RESTORE = '''
for i in np.ndindex(x.shape):
    old = x[i]
    try:
        x[i] = old + h
        f(x)
        x[i] = old - h
        f(x)
    finally:
        x[i] = old
'''

LAZY = [
    {"name": "lazy: calls f twice per entry (x unmoved) and returns zeros",
     "part": "numerical_gradient", "body": '''
for _ in range(x.size):
    f(x)
    f(x)
return np.zeros_like(x)
'''},
    {"name": "lazy: returns x itself", "part": "numerical_gradient", "body": "return x"},
    {"name": "lazy: moves and restores x correctly, returns zeros", "part": "numerical_gradient",
     "body": MOVE_AND_RESTORE + "return np.zeros_like(x)\n"},
    {"name": "lazy: zeros", "part": "loss_gradient",
     "body": ["return np.zeros_like(pred)", "return 0.0, np.zeros_like(W_e)"]},
    {"name": "lazy: zeros", "part": "factor_gradients",
     "body": "return [np.zeros_like(W) for W in factors]"},
    {"name": "lazy: returns the factors", "part": "factor_gradients",
     "body": "return [W.copy() for W in factors]"},
    {"name": "lazy: returns grad_e for every factor (right at depth 1)",
     "part": "factor_gradients", "body": "return [grad_e.copy() for W in factors]"},
    {"name": "lazy: a step that does nothing", "part": "sgd", "body": "pass"},
    {"name": "lazy: a step that does nothing", "part": "adam", "body": "pass"},
    {"name": "lazy: zero factors", "part": "balanced_init",
     "body": "return [np.zeros((dims[j + 1], dims[j])) for j in range(N)]"},
    {"name": "lazy: identity-like factors", "part": "balanced_init",
     "body": "return [np.eye(dims[j + 1], dims[j]) for j in range(N)]"},
    {"name": "lazy: always raises ValueError", "part": "balanced_init",
     "body": 'raise ValueError("no factorization")'},
    {"name": "lazy: returns W_e", "part": "e2e_update", "body": "return W_e.copy()"},
    {"name": "lazy: zeros", "part": "e2e_update", "body": "return np.zeros_like(W_e)"},
    {"name": "lazy: plain gradient descent whatever the depth and decay", "part": "e2e_update",
     "body": "return W_e - lr * grad_e"},
]

# --- forged answers of numerical_gradient (A3) -----------------------------------------

# The old worker defined the test functions itself (quadratic, sin_quartic,
# cubes_of_x, ...) and built f as a closure over their parameters ("spec"):
# their gradients could be written down instead of measured. This looks for
# that spec in f's closure and in the worker's frames, after moving x as the
# tests want; without it, it falls back to the gradient of the old public
# closure test, sum(x^3).
OLD_CLOSED_FORM = MOVE_AND_RESTORE + '''
import sys
spec = None
for cell in getattr(f, "__closure__", None) or ():
    try:
        if isinstance(cell.cell_contents, dict) and "name" in cell.cell_contents:
            spec = cell.cell_contents
    except ValueError:
        pass
frame = sys._getframe()
while frame is not None and spec is None:
    found = frame.f_locals.get("spec")
    spec = found if isinstance(found, dict) and "name" in found else None
    frame = frame.f_back
if spec is not None:
    name = spec["name"]
    if name == "quadratic":
        return spec["A"] @ x + spec["b"]
    if name == "sin_quartic":
        return spec["C"] * np.cos(x) + x ** 3
    if name == "weighted_squares":
        return 2 * spec["D"] * x
    if name in ("cubes", "cubes_of_x"):
        return 3 * x ** 2 + h ** 2
return 3 * x ** 2 + h ** 2
'''

# The old worker answered how f was called (calls, calls_with_x, x_after,
# raised, result_is_x) in its own response.json, which the student's process
# can write: write it by hand, with the fields a correct run would give, and
# leave before the worker writes its own.
FORGE_OLD_REPORT = '''
import json, os
def save(array, name):
    np.save(name, np.array(array, dtype=float), allow_pickle=False)
    return {"__array__": name}
answer = {"value": save(3 * x ** 2 + h ** 2, "out_0.npy"), "x_after": save(x, "out_1.npy"),
          "base_after": None, "calls": 2 * x.size, "calls_with_x": 2 * x.size,
          "raised": "LookupError", "result_is_x": False}
with open("response.json", "w") as fh:
    json.dump({"ok": True, "answer": answer}, fh)
os._exit(0)
'''

SWALLOW_AND_GO_ON = '''
for i in np.ndindex(x.shape):
    old = x[i]
    try:
        x[i] = old + h
        f(x)
        x[i] = old - h
        f(x)
    except LookupError:
        pass  # swallowed: go on with the next entry
    finally:
        x[i] = old
return np.zeros_like(x)
'''

SWALLOW_AND_RETURN = '''
grad = np.zeros_like(x)
for i in np.ndindex(x.shape):
    old = x[i]
    try:
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
    except LookupError:
        return np.zeros_like(x)  # swallowed: x restored below, a result returned
    finally:
        x[i] = old
return np.zeros_like(x)
'''

FORGED_NUMERICAL = [
    {"name": "closed form of the old test functions (spec from f's closure or the frames)",
     "part": "numerical_gradient", "body": OLD_CLOSED_FORM},
    {"name": "forge the old worker report (calls, x_after, raised) in response.json",
     "part": "numerical_gradient", "body": FORGE_OLD_REPORT},
    {"name": "swallow f's LookupError and go on", "part": "numerical_gradient",
     "body": SWALLOW_AND_GO_ON},
    {"name": "swallow f's LookupError and return at once", "part": "numerical_gradient",
     "body": SWALLOW_AND_RETURN},
]

# --- the complex step in place of the formulas (A4) -------------------------------------

H = "1e-20"  # the complex step: no cancellation, exact to rounding for any small h

CS_LOSS_PRED = f'''
h, q = {H}, self.p
P = np.array(pred, dtype=complex)
out = np.zeros(P.shape)
for i in np.ndindex(P.shape):
    old = P[i]
    P[i] = old + 1j * h
    out[i] = np.mean(((P - Y) ** 2) ** (q / 2)).imag / h  # (r^2)^(q/2): |r|^q, analytic
    P[i] = old
return out
'''

CS_LOSS_E = f'''
h, q = {H}, self.p
W = np.array(W_e, dtype=complex)
def L():
    return np.mean(((X @ W.T - Y) ** 2) ** (q / 2))
out = np.zeros(W.shape)
for i in np.ndindex(W.shape):
    old = W[i]
    W[i] = old + 1j * h
    out[i] = L().imag / h
    W[i] = old
return float(L().real), out
'''

CS_FACTORS = f'''
h = {H}
fs = [np.array(W, dtype=complex) for W in factors]
def L():
    P = fs[0]
    for W in fs[1:]:
        P = W @ P
    return np.sum(grad_e * P)
dW = []
for W in fs:
    D = np.zeros(W.shape)
    for i in np.ndindex(W.shape):
        old = W[i]
        W[i] = old + 1j * h
        D[i] = L().imag / h
        W[i] = old
    dW.append(D)
return dW
'''

COMPLEX_STEP = [
    {"name": "the complex step, entry by entry, in place of the formula",
     "part": "loss_gradient", "body": [CS_LOSS_PRED, CS_LOSS_E]},
    {"name": "the complex step, entry by entry, in place of the formula",
     "part": "factor_gradients", "body": CS_FACTORS},
]

# --- the lookup table of the stored public cases ------------------------------------------

#: Runs both here (to build the table) and in the student's module (to look up).
KEY = '''
def _dl_key(*items):
    """A hash of the inputs as the function sees them."""
    import hashlib
    digest = hashlib.sha256()
    for item in items:
        if isinstance(item, str):
            digest.update(item.encode())
        elif isinstance(item, np.ndarray):
            digest.update(str(item.shape).encode())
            digest.update(np.ascontiguousarray(item, dtype=float).tobytes())
        else:
            digest.update(repr(float(item)).encode())
    return digest.hexdigest()


def _dl_answer(key):
    """The stored answer of the case with these inputs; LookupError if there is none."""
    import base64, io
    if key not in _DL_TABLE:
        raise LookupError("these inputs are not in the stored public cases")
    return [np.load(io.BytesIO(base64.b64decode(s)), allow_pickle=False)
            for s in _DL_TABLE[key]]
'''

_space = {"np": np}
exec(KEY, _space)  # noqa: S102 - the same code as the attack runs
_key = _space["_dl_key"]


def _pack(arrays):
    out = []
    for a in arrays:
        buf = io.BytesIO()
        np.save(buf, np.asarray(a, dtype=float), allow_pickle=False)
        out.append(base64.b64encode(buf.getvalue()).decode())
    return out


def _tables():
    """Per part, {hash of the inputs: the stored answers}, from the release's public cases."""
    cases = reference(str(check_private(None))).public_cases()  # what cases.npz holds
    tables = {p: {} for p in ("loss_gradient", "factor_gradients", "sgd", "adam", "e2e_update")}
    for name, case in cases.items():
        kind = name.split("/")[0]
        params = case["params"]
        if kind == "loss":
            p = params["p"]
            tables["loss_gradient"][_key("pred", p, case["pred"], case["Y"])] = _pack(
                [case["expect_grad_pred"]])
            tables["loss_gradient"][_key("e", p, case["W_e"], case["X"], case["Y"])] = _pack(
                [case["expect_value"], case["expect_grad_e"]])
        elif kind == "factors":
            N = len(params["dims"]) - 1
            factors = [case[f"W{j}"] for j in range(N)]
            tables["factor_gradients"][_key("factors", *factors, case["G"])] = _pack(
                [case[f"expect_dW{j}"] for j in range(N)])
        elif kind == "sgd":
            for k, g in enumerate(case["grads"]):
                tables["sgd"][_key("sgd", g)] = _pack(
                    [case["expect_p"][k], case["expect_momentum_buffer"][k]])
        elif kind == "adam":
            for k, g in enumerate(case["grads"]):
                tables["adam"][_key("adam", g)] = _pack(
                    [case[f"expect_{s}"][k] for s in ("p", "exp_avg", "exp_avg_sq",
                                                      "max_exp_avg_sq")])
        elif kind == "e2e":
            tables["e2e_update"][_key("e2e", case["W_e"], case["G"], params["depth"],
                                      params["lr"], params["weight_decay"])] = _pack(
                [case["expect"]])
    return tables


def _module_code(table):
    return f"import numpy as np\n_DL_TABLE = {table!r}\n{KEY}"


LOOKUP_BODIES = {
    "loss_gradient": [
        "return _dl_answer(_dl_key('pred', self.p, pred, Y))[0]",
        '''
value, grad_e = _dl_answer(_dl_key("e", self.p, W_e, X, Y))
return float(value), grad_e
'''],
    "factor_gradients": "return _dl_answer(_dl_key('factors', *factors, grad_e))",
    "sgd": '''
new_p, buf = _dl_answer(_dl_key("sgd", g))
p[...] = new_p
if "momentum_buffer" in state:
    state["momentum_buffer"][...] = buf
''',
    "adam": '''
new_p, m, v, vmax = _dl_answer(_dl_key("adam", g))
p[...] = new_p
state["exp_avg"][...] = m
state["exp_avg_sq"][...] = v
if "max_exp_avg_sq" in state:
    state["max_exp_avg_sq"][...] = vmax
''',
    "e2e_update": "return _dl_answer(_dl_key('e2e', W_e, grad_e, N, lr, weight_decay))[0]",
}


def _lookup_attacks():
    tables = _tables()
    return [{"name": "the lookup table: answers of the stored public cases (cases.npz)",
             "part": part, "body": body, "module_code": _module_code(tables[part])}
            for part, body in LOOKUP_BODIES.items()]


ANSWER_ATTACKS = LAZY + FORGED_NUMERICAL + COMPLEX_STEP + _lookup_attacks()
