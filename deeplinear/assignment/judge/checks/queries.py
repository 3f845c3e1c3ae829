"""The judge's record of one call of ``numerical_gradient``, read.

``numerical_gradient.py`` runs the call with the judge's oracle as ``f``; the
sandbox records every array ``f`` sent and every value it got back. Here that
record is checked against what the judge knows about the call (:class:`Setup`):

* :func:`where`: each query is x (or its base) with exactly one entry moved,
  to ``fl(x_i + h)`` or ``fl(x_i - h)``; anything else fails with a message
  that says what was seen;
* :func:`restored`: the array ``f`` reads is, bit for bit, what the judge sent;
* :func:`check_result`: every entry had both steps, and the answer is the
  centred difference of the values the judge sent (:data:`ULPS`), and close
  to the exact gradient (:func:`check_gradient`, :data:`GRADCHECK_TOL`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import as_array, assert_relative_error, changed

__all__ = ["GRADCHECK_TOL", "EPS", "ULPS", "DEFAULT_H", "Setup", "check_gradient", "restored",
           "where", "named", "check_result"]

# Float64 centred differences with h ~ 1e-4..1e-6 err by about eps*|f|/h <=
# 1e-10 (rounding) plus h^2 |f'''|/6 <= 1e-9 (truncation); the judge's noise
# (``numerical_gradient.NOISE``) adds at most NOISE (1 + |f|) / h, measured
# at <= 5e-8 of the gradient's scale at h = 1e-6 (5e-10 at h = 1e-4). 1e-6
# relative to the gradient's scale leaves a margin of 20 and still catches any wrong formula
# (a one-sided difference errs by h|f''|/2 ~ 1e-4, a missing 1/2 by 100%).
GRADCHECK_TOL = 1e-6

EPS = float(np.finfo(np.float64).eps)  # 2.2e-16
#: The answer must equal d = (f+ - f-) / (2h) of the judge's own values to
#: ULPS units of rounding of the terms: |yours - d| <= ULPS eps (|f+| + |f-|) / (2h).
#: Computed as the judge does, (f+ - f-) / (2.0 * h), it is identical (0
#: ulps). Other honest orders of the same operations round differently:
#: (f+ - f-) / 2 / h or (f+ - f-) * (0.5 / h) by 1..2 ulps of d, and
#: f+/(2h) - f-/(2h) by eps (|f+| + |f-|) / (2h) at most (each quotient rounds
#: by half an ulp of itself before the subtraction). ULPS = 4 leaves a margin
#: of 2 over all of them; all three pass (checked).
ULPS = 4
#: The step of numerical_gradient(f, x) when h is not given.
DEFAULT_H = 1e-6


@dataclass
class Setup:
    """What the judge knows about a call: x, the array f reads, where x's entries sit in it."""

    x: np.ndarray         # x as the judge sent it (the view, for reads == "base")
    point: np.ndarray     # the array f reads before the call, flattened (C order)
    shape: tuple          # ... and its shape
    index: np.ndarray     # index[i]: the position in point of entry i of x (C order)
    h: float
    reads: str            # "argument", "x" or "base"
    function: object      # a numerical_gradient.Function: value, gradient, centred

    def entry(self, i):
        """Entry ``i`` (flat) of x as a multi-index, for messages."""
        idx = np.unravel_index(int(i), self.x.shape)
        return tuple(int(k) for k in idx) if len(idx) > 1 else int(idx[0])

    @property
    def array(self):
        """What f reads, for messages: "x" or "the array x is a view of"."""
        return "the array x is a view of" if self.reads == "base" else "x"

    def expected(self):
        """The exact gradient with respect to x (or the exact centred difference)."""
        v = self.point.reshape(self.shape)
        full = (self.function.centred(v, self.h) if self.function.centred is not None
                else self.function.gradient(v))
        return np.asarray(full, dtype=float).ravel()[self.index].reshape(self.x.shape)


def check_gradient(yours, expected, what, tol=GRADCHECK_TOL):
    """``yours`` (from numerical_gradient) is an array of x's shape close to ``expected``."""
    as_array(yours, "numerical_gradient", expected.shape)
    assert_relative_error(yours, expected, tol,
                          f"numerical_gradient does not match the exact gradient of {what}")


def restored(setup, snapshot, when):
    """The array f reads is bit for bit what the judge sent."""
    if snapshot.size == setup.point.size and np.array_equal(snapshot, setup.point):
        return
    if snapshot.size != setup.point.size:
        raise AssertionError(f"{when}, {setup.array} had {snapshot.size} entries instead of "
                             f"{setup.point.size}")
    after = snapshot.reshape(setup.shape)
    before = setup.point.reshape(setup.shape)
    raise AssertionError(
        f"{when}, {setup.array} (shape {setup.shape}) was not restored exactly (bit for bit): "
        f"{changed(after, before)}. Save the old value of x[i] and put it back; "
        "x[i] + h - h is not always x[i] in floating point.")


def where(setup, queries, first_call=1, what="f"):
    """Each query's entry and side: {entry: call} for +h and -h; fails on any other point."""
    plus, minus = {}, {}
    x_vals = setup.point[setup.index]
    plus_at, minus_at = x_vals + setup.h, x_vals - setup.h
    slot = {int(j): i for i, j in enumerate(setup.index)}
    step = (f"h = {setup.h!r}" if setup.h != DEFAULT_H else
            f"h = {setup.h!r} (the default step)")
    for k, q in enumerate(queries):
        call = f"call {first_call + k} of {what}"
        if q.size != setup.point.size:
            raise AssertionError(
                f"{call} sent an array of {q.size} numbers, but {setup.array} has "
                f"{setup.point.size} entries (shape {setup.shape}): call f(x) with x itself")
        moved = np.flatnonzero(q != setup.point)
        if moved.size == 0:
            hint = {"x": "f reads the array x itself (through a closure), so "
                         "numerical_gradient must change x[i] in place, then call f(x)",
                    "base": "x is a view of the array f reads: change x[i] in place (it "
                            "moves the base array's entry), then call f(x)",
                    "argument": "the centred difference uses only f(x + h e_i) and "
                                "f(x - h e_i)"}[setup.reads]
            raise AssertionError(f"{call} saw {setup.array} unchanged, not moved by +-h in "
                                 f"one entry: {hint}")
        if moved.size > 1:
            names = ", ".join(str(named(setup, slot, j)) for j in moved[:3])
            raise AssertionError(
                f"{call} saw {moved.size} entries of {setup.array} moved at once ({names}"
                f"{', ...' if moved.size > 3 else ''}); move one entry at a time and restore it "
                "before the next")
        j = int(moved[0])
        if j not in slot:
            raise AssertionError(
                f"{call} saw entry {np.unravel_index(j, setup.shape)} of the base array "
                f"moved, which is not an entry of the view x; move only x's own entries")
        i = slot[j]
        if q[j] == plus_at[i]:
            plus.setdefault(i, first_call + k - 1)
        elif q[j] == minus_at[i]:
            minus.setdefault(i, first_call + k - 1)
        else:
            near = abs(abs(float(q[j] - x_vals[i])) - setup.h) <= 1e-6 * setup.h
            raise AssertionError(
                f"{call} moved entry {setup.entry(i)} of x from {float(x_vals[i])!r} to "
                f"{float(q[j])!r}, by {float(q[j] - x_vals[i]):.6g}; expected x[i] + h = "
                f"{float(plus_at[i])!r} or x[i] - h = {float(minus_at[i])!r} with {step}"
                + ("; set x[i] = old + h and x[i] = old - h from the saved old value "
                   "(x[i] - 2h after x[i] + h rounds differently)" if near else ""))
    return plus, minus


def named(setup, slot, j):
    """Position ``j`` of the array f reads, for messages: x's entry there, else the base's."""
    return setup.entry(slot[j]) if j in slot else np.unravel_index(int(j), setup.shape)


def check_result(setup, queries, values, value, offset, what, tol):
    """The student's queries of one call (from query ``offset``), then the result."""
    n = setup.index.size
    if not queries:
        raise AssertionError(
            f"numerical_gradient never called f; it must call it twice per entry of x "
            f"({2 * n} calls for x of shape {setup.x.shape})")
    plus, minus = where(setup, queries, first_call=offset + 1)
    for i in range(n):
        for side, found in (("+", plus), ("-", minus)):
            if i not in found:
                x_i = float(setup.point[setup.index[i]])
                raise AssertionError(
                    f"f was never evaluated at x {side} h e_i for entry {setup.entry(i)} "
                    f"(x[i] = {x_i!r}, h = {setup.h!r}); each entry needs f(x + h e_i) and "
                    f"f(x - h e_i) ({len(queries)} calls for {n} entries)")
    yours = as_array(value, "numerical_gradient", setup.x.shape)
    f_plus = np.array([values[plus[i] - offset] for i in range(n)], dtype=float)
    f_minus = np.array([values[minus[i] - offset] for i in range(n)], dtype=float)
    centred = (f_plus - f_minus) / (2.0 * setup.h)
    tol_i = ULPS * EPS * (np.abs(f_plus) + np.abs(f_minus)) / (2.0 * setup.h)
    off = np.abs(yours.ravel() - centred)
    bad = np.flatnonzero(~(off <= tol_i))
    if bad.size:
        i = int(bad[0])
        raise AssertionError(
            f"numerical_gradient: entry {setup.entry(i)} of your result is "
            f"{float(yours.ravel()[i])!r}, but the values f returned give (f(x + h e_i) - "
            f"f(x - h e_i)) / (2h) = ({float(f_plus[i])!r} - {float(f_minus[i])!r}) / (2 * "
            f"{setup.h!r}) = {float(centred[i])!r}; off by {off[i]:.2e} (tolerance "
            f"{tol_i[i]:.1e}, {ULPS} ulps of "
            f"the terms), at {bad.size} of {n} entries. The result must be the centred "
            "difference of the values f returned.")
    check_gradient(yours, setup.expected(), what, tol)
    return yours
