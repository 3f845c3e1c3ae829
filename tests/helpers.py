"""Helpers that the tests of this repository import (fixtures stay in conftest.py).

The grading tests have their own, shipped checks (``deeplinear/assignment/judge/checks``);
the tests of the assignment tools have ``assignmentlib.py``.
"""

import os
from pathlib import Path

import numpy as np

__all__ = ["random_factors", "REAL_DATA", "judge_reference"]


def random_factors(rng, dims, scale=1.0):
    """Gaussian factors W_j of shape (d_j, d_{j-1}) with entries of std scale/sqrt(d_{j-1})."""
    return [scale * rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j])
            for j in range(len(dims) - 1)]


# The original UCI files: $DEEPLINEAR_DATA_DIR, else ../shared/data beside the repository.
_ENV_DATA = os.environ.get("DEEPLINEAR_DATA_DIR", "").strip()
REAL_DATA = Path(_ENV_DATA) if _ENV_DATA else \
    (Path(__file__).resolve().parent.parent.parent / "shared" / "data")


def judge_reference():
    """The judge's private reference (``instructor/gradereference.py``): each graded rule
    written out independently of the package, the oracle of several library tests."""
    from deeplinear.assignment.judge.private import default_private, reference

    return reference(str(default_private()))


def at_offset(a, offset):
    """A C-contiguous copy of ``a`` (its dtype) whose data start ``offset``
    bytes past a 64-byte boundary: for tests that results do not depend on
    the arrays' alignment."""
    a = np.asarray(a)
    buf = bytearray(a.nbytes + 128)
    base = np.frombuffer(buf, dtype=np.uint8).ctypes.data
    start = (-base) % 64 + offset
    out = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=start).reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 == offset and out.flags.c_contiguous
    return out
