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
    Calls ``numerical_gradient(f, x[, h])`` where ``f`` is a black box: it
    sends the array it reads (its argument, ``x`` itself, or the base array
    ``x`` is a view of) to the judge's oracle and returns the judge's value.
    Then it sends that array once more, so that the judge sees what the call
    left behind; when ``f`` raised and the LookupError reached the recipe, it
    sends the array, calls ``numerical_gradient`` again on the same ``x`` and
    sends the array after that call. Answers only the result: everything
    else the judge learns from the queries it answered itself.
"""

import json
import os
import sys
import traceback
import types

import numpy as np

LIMIT = 16 * 1024 * 1024  # no single answer array above 16 MB (the largest input is 0.8 MB)


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
    """``numerical_gradient(f, x[, h])`` with the judge's f; see the module's docstring.

    ``req["reads"]`` says which array f sends: ``"argument"`` (its argument
    v), ``"x"`` (x itself, through the closure: only an in-place
    perturbation moves it) or ``"base"`` (the array x is a view of,
    ``x = base[::2, 1::2].T``). The recipe reports nothing about the call:
    the judge checks the queries it recorded.
    """
    from deeplinear import gradcheck

    ask = oracle(req)
    if "view" in req:
        base = load(req["view"]["base"])
        x = base[::2, 1::2].T  # the judge indexes the same view
    else:
        base, x = None, load(req["x"])
    reads = req["reads"]
    if reads == "argument":
        def f(v):
            return ask(v)
    elif reads == "x":
        def f(v):
            return ask(x)
    else:
        def f(v):
            return ask(base)

    def snapshot():  # the array f reads, as it is now
        ask(x if base is None else base)

    def run():
        if req.get("h") is None:
            return gradcheck.numerical_gradient(f, x)
        return gradcheck.numerical_gradient(f, x, h=req["h"])

    try:
        result = run()
    except LookupError:
        if not req.get("f_raises"):
            raise
        snapshot()      # x as the exception left it
        result = run()  # again, from the same x (f raises only once)
    snapshot()          # x after the call
    return {"value": result}


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
    # Tell the judge that the sandbox started and the student's code runs from
    # here: a worker that ends without this line never reached it, and the
    # judge starts the call again (sandbox.STARTED). Student code cannot unsay it.
    sys.stdout.write(os.environ.get("DEEPLINEAR_WORKER_STARTED", ""))
    sys.stdout.flush()
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
