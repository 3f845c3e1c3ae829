"""Input checks shared by the public functions.

Every check raises ``ValueError`` with a message that names the offending
argument and says what was expected, so that a student sees *which* input is
wrong instead of a numba typing error or a silently broadcast result.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "check_shape",
    "check_mask",
    "read_only_copy",
    "as_matrix",
    "as_array_list",
    "as_factors",
    "check_data",
    "check_positive",
    "check_nonnegative",
    "check_depth",
    "check_dims",
    "as_rng",
]


def as_matrix(a, name: str, *, allow_nonfinite: bool = False) -> np.ndarray:
    """Return ``a`` as a C-contiguous, aligned float64 2-D array, or raise ``ValueError``.

    Floating arrays of any precision are accepted and converted to float64.
    Integer, boolean, object or complex arrays are refused: a silent cast of
    an integer design matrix hides a data bug more often than it helps.
    """
    if not isinstance(a, np.ndarray):
        raise ValueError(
            f"{name}: expected a 2-D float numpy array, got {type(a).__name__}"
        )
    if a.dtype.kind != "f":
        raise ValueError(
            f"{name}: expected a float array, got dtype {a.dtype}; "
            f"convert it with {name}.astype(float) if that is what you mean"
        )
    if a.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array, got {a.ndim}-D with shape {a.shape}"
        )
    if a.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {a.shape}")
    if not allow_nonfinite and not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{name}: contains {bad} NaN or infinite entries")
    # Aligned too: an array whose data start at an odd byte offset (as a
    # buffer received from another process can) makes NumPy's matmul skip
    # BLAS for a loop that sums in another order, and numba compile another
    # specialisation. A copy here keeps every result independent of it.
    return np.require(a, dtype=np.float64, requirements=["C_CONTIGUOUS", "ALIGNED"])


def as_array_list(seq, name: str) -> list:
    """Return ``list(seq)``, refusing a bare array or a non-iterable with a clear message."""
    if isinstance(seq, np.ndarray):
        raise ValueError(
            f"{name}: expected a list of 2-D arrays [W_1, ..., W_N], got a single "
            f"array of shape {seq.shape}; wrap it as [W] for a depth-1 network"
        )
    try:
        return list(seq)
    except TypeError:
        raise ValueError(
            f"{name}: expected a list of 2-D arrays [W_1, ..., W_N], got {type(seq).__name__}"
        ) from None


def as_factors(factors, name: str = "factors") -> list[np.ndarray]:
    """Check a list ``[W_1, ..., W_N]`` and return float64 C-contiguous copies-or-views.

    ``W_j`` must have shape ``(d_j, d_{j-1})``, so consecutive factors must
    chain: ``factors[j].shape[1] == factors[j-1].shape[0]``.
    """
    factors = as_array_list(factors, name)
    if len(factors) == 0:
        raise ValueError(f"{name}: expected at least one factor (depth >= 1), got none")
    out = []
    for j, W in enumerate(factors):
        W = as_matrix(W, f"{name}[{j}] (W_{j + 1})")
        if j > 0 and W.shape[1] != out[-1].shape[0]:
            raise ValueError(
                f"{name}[{j}] (W_{j + 1}): has shape {W.shape}, but W_{j} has "
                f"{out[-1].shape[0]} rows; expected shape ({W.shape[0]}, "
                f"{out[-1].shape[0]}) since W_j is (d_j, d_(j-1))"
            )
        out.append(W)
    return out


def check_data(X, Y, d_in: int | None = None, d_out: int | None = None):
    """Check data ``X`` (n, d_0) and targets ``Y`` (n, d_N) and return float64 copies-or-views."""
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"Y: has {Y.shape[0]} rows but X has {X.shape[0]}; expected one target row per sample"
        )
    if d_in is not None and X.shape[1] != d_in:
        raise ValueError(
            f"X: has {X.shape[1]} columns but W_1 expects d_0 = {d_in} inputs"
        )
    if d_out is not None and Y.shape[1] != d_out:
        raise ValueError(
            f"Y: has {Y.shape[1]} columns but W_N produces d_N = {d_out} outputs"
        )
    return X, Y


def _as_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return value


def check_positive(value, name: str) -> float:
    """Return ``float(value)`` if it is finite and > 0, else raise ``ValueError``."""
    value = _as_real(value, name)
    if value <= 0:
        raise ValueError(f"{name}: expected a value > 0, got {value!r}")
    return value


def check_nonnegative(value, name: str) -> float:
    """Return ``float(value)`` if it is finite and >= 0, else raise ``ValueError``."""
    value = _as_real(value, name)
    if value < 0:
        raise ValueError(f"{name}: expected a value >= 0, got {value!r}")
    return value


def check_depth(depth, name: str = "depth") -> int:
    """Return ``depth`` as an int >= 1, else raise ``ValueError``."""
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral):
        raise ValueError(f"{name}: expected an integer >= 1, got {depth!r}")
    if depth < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {depth!r}")
    return int(depth)


def check_dims(dims, name: str = "dims") -> list[int]:
    """Return ``dims = [d_0, ..., d_N]`` as a list of ints >= 1 with N >= 1."""
    try:
        dims = list(dims)
    except TypeError:
        raise ValueError(f"{name}: expected a list [d_0, ..., d_N] of positive ints") from None
    if len(dims) < 2:
        raise ValueError(
            f"{name}: expected at least two sizes [d_0, d_N] (depth >= 1), got {dims!r}"
        )
    for i, d in enumerate(dims):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise ValueError(f"{name}[{i}]: expected a positive integer, got {d!r}")
    return [int(d) for d in dims]


def as_rng(rng, name: str = "rng") -> np.random.Generator:
    """Turn an int seed, ``None`` or a ``Generator`` into a ``np.random.Generator``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ValueError(
        f"{name}: expected an int seed, None or a numpy.random.Generator, got {type(rng).__name__}"
    )


def check_shape(shape, name: str = "shape") -> tuple[int, int]:
    """``shape`` as a pair ``(d_N, d_0)`` of ints >= 1, else ``ValueError`` naming it."""
    try:
        pair = tuple(shape)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                                 and d >= 1 for d in pair):
        raise ValueError(f"{name}: expected a pair (d_N, d_0) of integers >= 1, got {shape!r}")
    return int(pair[0]), int(pair[1])


def check_mask(mask, shape) -> np.ndarray:
    """``mask`` as a boolean array of ``shape`` with at least one True, else ``ValueError``."""
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise ValueError(f"mask: expected a boolean numpy array, got "
                         f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if mask.shape != tuple(shape):
        raise ValueError(f"mask: expected the target's shape {tuple(shape)}, got {mask.shape}")
    if not mask.any():
        raise ValueError("mask: observes no entry; expected at least one True")
    return mask


def read_only_copy(a) -> np.ndarray:
    """A read-only copy of ``a``: an objective's own data, which no one can edit."""
    a = np.array(a)  # a copy
    a.flags.writeable = False
    return a
