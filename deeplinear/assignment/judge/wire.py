"""The wire between the judge and a worker: JSON and ``.npy`` files, never pickles.

The judge writes ``request.json`` and ``in_*.npy`` into the worker's scratch
folder (:func:`encode`); the worker (``worker.py``, which has its own copy of
the worker side, since it is sent as text) answers with ``response.json`` and
``out_*.npy``. The answer is untrusted: :func:`read_answer` loads at most
``ARRAYS_CAP`` arrays of ``ARRAY_BYTES_CAP`` bytes in all, each through a
read-only memory map first, with ``allow_pickle=False``, and refuses symlinks
and files that are not the worker's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Response", "NumpyScalar", "Unsupported", "BadAnswer", "encode", "read_answer"]

ANSWER_CAP = 1 << 20        # response.json larger than 1 MB is refused


def encode(value, arrays):
    """``value`` as JSON, with each ndarray stored in ``arrays`` as ``in_<k>.npy``."""
    if isinstance(value, np.ndarray):
        name = f"in_{len(arrays)}.npy"
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {k: encode(v, arrays) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


@dataclass
class Response:
    """What came back from one call."""

    ok: bool                      # the student's code returned (False: it raised)
    answer: object = None         # the decoded answer (arrays are plain float ndarrays)
    error: dict | None = None     # type, message, where, traceback (text from the worker)
    failure: str | None = None    # why there is no answer at all (timeout, crash, limits)
    seconds: float = 0.0
    output: str = ""              # the first OUTPUT_CAP bytes the worker printed
    output_bytes: int = 0         # how much it printed in all
    queries: list = field(default_factory=list)  # with an oracle: each array the worker sent
    values: list = field(default_factory=list)   # ... and the judge's value (None: raised)
    started: bool = True          # the worker reached the student's code (sandbox.STARTED)



def read_answer(scratch) -> Response | None:
    path = scratch / "response.json"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > ANSWER_CAP:
            return None
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("ok"), bool):
        return None
    if doc["ok"]:
        try:
            return Response(ok=True, answer=decode(doc.get("answer"), scratch))
        except BadAnswer as exc:
            return Response(ok=True, answer=Unsupported(str(exc)))
    error = doc.get("error") if isinstance(doc.get("error"), dict) else {}
    clean = {k: str(error.get(k, ""))[:4000] for k in ("type", "message", "traceback")}
    where = error.get("where")
    if isinstance(where, dict):
        clean["where"] = {"file": str(where.get("file", ""))[:200],
                          "line": int(where["line"]) if isinstance(where.get("line"), int) else 0,
                          "function": str(where.get("function", ""))[:100]}
    return Response(ok=False, error=clean)


class BadAnswer(ValueError):
    pass


@dataclass(frozen=True)
class Unsupported:
    """A returned value that did not arrive as plain data; ``what`` says what it was."""

    what: str


ARRAYS_CAP = 256           # arrays in one answer
ARRAY_BYTES_CAP = 64 << 20  # bytes of all the arrays of one answer


def decode(obj, scratch, depth=0, budget=None):
    """The worker's JSON answer, with arrays loaded as plain ndarrays (never pickles).

    The answer is untrusted: at most ARRAYS_CAP arrays of ARRAY_BYTES_CAP bytes
    in all are loaded, each through a read-only memory map first, so that a
    header that claims more data than the file holds fails without allocating.
    """
    budget = budget if budget is not None else {"arrays": ARRAYS_CAP, "bytes": ARRAY_BYTES_CAP}
    if depth > 10:
        raise BadAnswer("an answer nested too deep")
    if isinstance(obj, list):
        return [decode(v, scratch, depth + 1, budget) for v in obj]
    if not isinstance(obj, dict):
        if obj is None or type(obj) in (bool, int, str):
            return obj
        raise BadAnswer(f"an answer of JSON type {type(obj).__name__}")
    if "__array__" in obj:
        name = str(obj["__array__"])
        path = scratch / name
        if "/" in name or not name.startswith("out_") or path.is_symlink() or not path.is_file():
            raise BadAnswer("an array file that is not the worker's own")
        budget["arrays"] -= 1
        budget["bytes"] -= path.stat().st_size
        if budget["arrays"] < 0 or budget["bytes"] < 0:
            raise BadAnswer("an answer with too many or too large arrays")
        try:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
            arr = np.array(mapped)
        except (OSError, ValueError) as exc:
            raise BadAnswer(f"an unreadable array file ({type(exc).__name__})") from None
        del mapped
        if type(arr) is not np.ndarray:
            raise BadAnswer("an array file that does not hold a plain array")
        return arr
    if "__float__" in obj:
        return float.fromhex(str(obj["__float__"]))
    if "__numpy_scalar__" in obj:
        return NumpyScalar(float.fromhex(str(obj["__numpy_scalar__"])), str(obj.get("dtype")))
    if "__tuple__" in obj:
        return tuple(decode(v, scratch, depth + 1, budget) for v in obj["__tuple__"])
    if "__unsupported__" in obj:
        return Unsupported(str(obj["__unsupported__"])[:200])
    return {str(k): decode(v, scratch, depth + 1, budget) for k, v in obj.items()}


@dataclass(frozen=True)
class NumpyScalar:
    """A NumPy scalar the student returned (for example ``np.float64``), as a float."""

    value: float
    dtype: str


# --- isolation and cleanup ------------------------------------------------------
