"""What every check uses: calls of the student's code, the comparisons, and the messages.

A grading test never imports the student's ``deeplinear``. Each call goes
through the ``student`` fixture (``judge/plugin.py``) to a worker process
(``judge/sandbox.py``) and comes back as plain data; the checks turn that data
into verdicts with messages a student can act on. Nothing here implements a
graded rule: expected values come from the stored public cases, or, when the
judge grades, from the instructor's private reference (``judge/cases.py``).

Every message is built from the comparison: shapes, error sizes, the first
entries. When the student's code raised, the message gives the exception's
type, where it was raised in the student's package and its message, and the
message is withheld if it quotes the instructor's private text.
"""

from __future__ import annotations

import re

import numpy as np

from ..wire import NumpyScalar, Unsupported, encode

# Entries that cancel to ~0 are compared with this absolute tolerance (a few
# ulps of O(1) numbers), beside each check's relative one.
ATOL = 1e-14


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


def request(student, what, recipe, **fields):
    """Run one recipe of ``worker.py``; return its answer (a dict).

    ``what`` names the call in messages ("factor_gradients", ...).
    """
    arrays = {}
    req = {"recipe": recipe, **{k: encode(v, arrays) for k, v in fields.items()}}
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

#: The instructor's private text, as a frozenset of WINDOW-character pieces;
#: set by the judge (``plugin.py``) from the private folder. Empty in a release.
SECRETS = frozenset()


def _quotes_secret(text) -> bool:
    return any(text[i:i + WINDOW] in SECRETS for i in range(max(0, len(text) - WINDOW + 1)))


def windows(texts) -> set:
    """Every WINDOW-character piece of ``texts``, whitespace normalised."""
    out = set()
    for text in texts:
        flat = " ".join(text.split())
        out.update(flat[i:i + WINDOW] for i in range(max(0, len(flat) - WINDOW + 1)))
    return out
