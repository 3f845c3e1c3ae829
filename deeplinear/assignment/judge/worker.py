"""The worker side of one graded call: run the student's code once, answer with data.

``sandbox.py`` starts this program in a fresh interpreter (``python -I -S
-B``), in an empty scratch folder, and sends it this file's text on stdin: it
is never imported. It reads ``request.json``
and the ``in_*.npy`` arrays of the scratch folder, imports the student's
``deeplinear`` from the folder the request names (without running its
``__init__``, so that a broken file costs only the parts that import it),
makes one call and writes ``response.json`` and ``out_*.npy``. Nothing is
pickled in either direction, and it imports only the standard library and
NumPy.

Nothing here is trusted by the judge. Student code runs in this process and
may change anything in it, this program included; the judge reads only the
files it leaves behind, as plain JSON and plain ``.npy`` arrays, and compares
them with values it computed itself.

Recipes (``request["recipe"]``):

``call``
    ``target`` is ``"module:qualname"``; with ``construct`` (a list of
    arguments) the target is called with them first and ``method`` is then
    looked up on the result. Answers the return value and the arguments as
    they are after the call (to check that inputs were left alone).
``optimizer``
    Builds ``target(params, **options)``, optionally resumes it at step
    ``t0`` with the given state, and calls ``step`` once per entry of
    ``grads``; answers the parameters and the named state arrays after every
    step.
``numerical_gradient``
    Calls ``numerical_gradient(f, x[, h])`` with one of the test functions
    below; answers the result, ``x`` (and the array it views) afterwards,
    and how ``f`` was called.
"""

import json
import os
import sys
import traceback
import types

import numpy as np

LIMIT = 16 * 1024 * 1024  # no single answer array above 16 MB (the judge's inputs are tiny)


# --- plain data in and out ---------------------------------------------------

def load(obj):
    """A request value: JSON, with {"__array__": file} and {"__tuple__": [...]} inside."""
    if isinstance(obj, dict):
        if "__rng__" in obj:
            return np.random.default_rng(int(obj["__rng__"]))
        if "__array__" in obj:
            return np.load(obj["__array__"], allow_pickle=False)
        if "__tuple__" in obj:
            return tuple(load(v) for v in obj["__tuple__"])
        return {k: load(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [load(v) for v in obj]
    return obj


class Dumper:
    """Turns an answer into JSON with arrays in ``out_*.npy``; anything else is named."""

    def __init__(self):
        self.count = 0

    def __call__(self, value, depth=0):
        if depth > 8:
            return {"__unsupported__": "a structure nested more than 8 deep"}
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return {"__float__": value.hex()}
        if kind is np.ndarray:
            if value.dtype.kind not in "biuf" or value.nbytes > LIMIT:
                return {"__unsupported__": f"a numpy array of dtype {value.dtype} and "
                                           f"{value.nbytes} bytes"}
            name = f"out_{self.count}.npy"
            self.count += 1
            np.save(name, np.array(value, order="C"), allow_pickle=False)
            return {"__array__": name}
        if kind.__module__ == "numpy" and isinstance(value, np.generic) and \
                value.dtype.kind in "biuf":
            return {"__numpy_scalar__": float(value).hex(), "dtype": str(value.dtype)}
        if kind in (list, tuple):
            if len(value) > 64:
                return {"__unsupported__": f"a {kind.__name__} of {len(value)} items"}
            items = [self(v, depth + 1) for v in value]
            return items if kind is list else {"__tuple__": items}
        if kind is dict:
            return {str(k): self(v, depth + 1) for k, v in list(value.items())[:64]
                    if type(k) is str}
        if isinstance(value, np.ndarray):
            return {"__unsupported__": f"an ndarray subclass ({kind.__module__}.{kind.__qualname__})"}
        return {"__unsupported__": f"{kind.__module__}.{kind.__qualname__}"}


# --- the student's package ----------------------------------------------------

def student_package(folder):
    """A bare ``deeplinear`` whose submodules are read from ``folder/deeplinear``."""
    root = os.path.join(folder, "deeplinear")
    package = types.ModuleType("deeplinear")
    package.__path__ = [root]
    package.__file__ = os.path.join(root, "__init__.py")
    package.__package__ = "deeplinear"
    sys.modules["deeplinear"] = package
    return root


def resolve(target):
    module_name, _, qualname = target.partition(":")
    import importlib

    obj = importlib.import_module(module_name)
    for name in qualname.split("."):
        obj = getattr(obj, name)
    return obj


# --- test functions for numerical_gradient (the judge knows their gradients) ---

def test_function(spec, x, calls):
    """``f(v)`` for the recipe ``numerical_gradient``; records each call in ``calls``."""
    name = spec["name"]
    arrays = {k: v for k, v in spec.items() if isinstance(v, np.ndarray)}
    raise_on = spec.get("raise_on_call")

    def value(v):
        if name == "quadratic":          # x^T A x / 2 + b^T x
            return 0.5 * v @ arrays["A"] @ v + arrays["b"] @ v
        if name == "sin_quartic":        # sum(C sin v) + sum(v^4) / 4
            return float(np.sum(arrays["C"] * np.sin(v)) + 0.25 * np.sum(v ** 4))
        if name == "cubes_of_x":         # sum(x^3), read through the closure
            return float(np.sum(x ** 3))
        if name == "cubes":              # sum(v^3)
            return float(np.sum(v ** 3))
        if name == "squares":            # sum(v^2)
            return float(np.sum(v ** 2))
        if name == "weighted_squares":   # sum(D v^2)
            return float(np.sum(arrays["D"] * v ** 2))
        if name == "sin_of_base":        # sum(C sin B), B the array x is a view of
            return float(np.sum(arrays["C"] * np.sin(spec["__base__"])))
        raise ValueError(f"unknown test function {name!r}")

    def f(v):
        calls.append(v is x)
        if raise_on is not None and len(calls) == raise_on:
            raise LookupError("the test function raised on purpose")
        return value(v)

    return f


# --- the judge's oracle --------------------------------------------------------------

def oracle(req):
    """``ask(array) -> float``: the judge evaluates its function on ``array`` (over a pipe).

    The judge replies with the value, or tells the worker to raise LookupError
    (a function that raises part-way). It records every query itself.
    """
    import struct

    to_judge, from_judge = req["oracle"][1], req["oracle"][0]

    def read(n):
        out = b""
        while len(out) < n:
            chunk = os.read(from_judge, n - len(out))
            if not chunk:
                raise RuntimeError("the judge closed the function's pipe")
            out += chunk
        return out

    def ask(array):
        data = np.ascontiguousarray(array, dtype="<f8").ravel()
        os.write(to_judge, struct.pack("<q", data.size) + data.tobytes())
        reply = read(9)
        if reply[:1] == b"r":
            raise LookupError("the function raised on purpose")
        return struct.unpack("<d", reply[1:])[0]

    return ask


# --- recipes ---------------------------------------------------------------------

def recipe_call(req):
    fn = resolve(req["target"])
    if req.get("construct") is not None:
        fn = getattr(fn(*load(req["construct"])), req["method"])
    args, kwargs = load(req.get("args", [])), load(req.get("kwargs", {}))
    value = fn(*args, **kwargs)
    items = value if type(value) in (list, tuple) else [value]
    layout = [bool(a.flags.c_contiguous) if isinstance(a, np.ndarray) else None for a in items]
    return {"value": value, "args_after": args, "c_contiguous": layout}


def recipe_optimizer(req):
    cls = resolve(req["target"])
    params = load(req["params"])
    opt = cls(params, **load(req.get("options", {})))
    keys = req["state_keys"]
    if req.get("t0", 1) != 1:
        opt.t = int(req["t0"]) - 1
    for j, state in enumerate(load(req.get("state0") or [])):
        for key, arr in state.items():
            opt.state[j][key][...] = arr
    steps = []
    for grads in load(req["grads"]):
        before = [g.copy() for g in grads]
        returned = opt.step(grads)
        steps.append({
            "params": [p.copy() for p in params],
            "state": [{k: np.array(s[k]) for k in keys if k in s} for s in opt.state],
            "returned_none": returned is None,
            "grads_unchanged": all(np.array_equal(g, b) for g, b in zip(grads, before)),
        })
    return {"value": steps}


def recipe_numerical_gradient(req):
    from deeplinear import gradcheck

    spec = load(req["function"])
    if "view" in req:  # x is a view of a base array that f reads
        base = load(req["view"]["base"])
        x = base[::2, 1::2].T
        spec["__base__"] = base
    else:
        base, x = None, load(req["x"])
    calls = []
    f = test_function(spec, x, calls)
    raised = None
    result = None
    try:
        result = gradcheck.numerical_gradient(f, x) if req.get("h") is None else \
            gradcheck.numerical_gradient(f, x, h=req["h"])
    except LookupError:
        if spec.get("raise_on_call") is None:
            raise
        raised = "LookupError"
    shares = isinstance(result, np.ndarray) and bool(np.shares_memory(result, x))
    return {"value": result, "x_after": np.array(x), "base_after": base,
            "calls": len(calls), "calls_with_x": sum(calls), "raised": raised,
            "result_is_x": result is x or shares}


def recipe_ping(req):
    return {"value": np.__version__}


RECIPES = {"ping": recipe_ping, "call": recipe_call, "optimizer": recipe_optimizer,
           "numerical_gradient": recipe_numerical_gradient}


def where(tb):
    """The innermost frame of the traceback that lies in the student's package."""
    root = sys.modules["deeplinear"].__path__[0] if "deeplinear" in sys.modules else None
    found = None
    for frame in traceback.extract_tb(tb):
        if root and frame.filename.startswith(root + os.sep):
            found = {"file": os.path.relpath(frame.filename, os.path.dirname(root)),
                     "line": frame.lineno, "function": frame.name}
    return found


def main():
    with open("request.json") as fh:
        req = json.load(fh)
    student_package(req["package"])
    dump = Dumper()
    try:
        answer = RECIPES[req["recipe"]](req)
        out = {"ok": True, "answer": dump(answer)}
    except BaseException as exc:  # SystemExit, KeyboardInterrupt, pytest outcomes: all data
        tb = exc.__traceback__
        out = {"ok": False, "error": {
            "type": type(exc).__name__, "message": str(exc)[:2000],
            "where": where(tb), "traceback": "".join(traceback.format_exception(exc))[-4000:]}}
    with open("response.json.tmp", "w") as fh:
        json.dump(out, fh)
    os.replace("response.json.tmp", "response.json")
    sys.stdout.flush()
    os._exit(0)  # no atexit hook or finalizer of the student's runs after the answer


main()
