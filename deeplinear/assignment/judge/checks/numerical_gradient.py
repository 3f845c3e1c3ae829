"""Checks of part numerical_gradient: ``gradcheck.numerical_gradient(f, x, h)``.

``f`` is a black box the student's process cannot look inside: the judge's
**oracle**. In the worker, ``f`` sends the array it reads (its argument, the
array ``x`` itself through a closure, or the base array ``x`` is a view of)
over a pipe; the judge evaluates one of the test functions below on it and
sends the value back. The judge records every query (``Response.queries``
and ``values``, kept by ``sandbox.py``), so it knows exactly where ``f`` was
evaluated and what it answered. Nothing the worker reports about the call is
used: its only answer is the result.

What is checked, from the judge's own record (read in ``queries.py``):

* **the points**: every query differs from the original ``x`` (or its base)
  in exactly one entry ``i``, which holds ``fl(x_i + h)`` or ``fl(x_i - h)``,
  and both are there for every entry. A query anywhere else (``x`` itself,
  two entries moved at once, another step, another array) fails.
* **the answer comes from the queries**: entry ``i`` of the result equals
  ``(f+ - f-) / (2h)``, computed from the values the judge itself sent, to a
  few ulps (``queries.ULPS``). Each value carries a small keyed noise
  (:data:`NOISE`, unknown to the worker), so a gradient computed any other
  way, a closed form included, misses by far more than those ulps.
* **the answer is right**: it is close to the exact gradient (or to the
  exact centred difference, where that is known in closed form),
  ``queries.GRADCHECK_TOL``.
* **x is restored**: after the call the recipe sends the array once more;
  the judge compares it bit for bit with what it sent. When ``f`` raises
  (the oracle tells the worker's ``f`` to raise LookupError on a chosen
  query), the recipe sends the array as the exception left it, then calls
  ``numerical_gradient`` again on the same ``x``; that second call is checked
  in full. A query between the raising one and that snapshot, or no second
  call at all, means the exception did not propagate.

What a student could still forge, and why it is no easier than the work:
the worker runs in the student's process, so a student may write the pipe
protocol by hand (read the two file descriptors from ``request.json`` and
send arrays themselves), or send a snapshot of a saved copy of ``x`` instead
of restoring it. But the judge accepts only queries at ``x +- h e_i`` and
only results equal to the centred differences of its own noisy values: to
forge them one has to evaluate ``f`` at exactly those points and divide, which
*is* ``numerical_gradient``; and to send the original ``x`` after the call
one has to have saved it, which is all that restoring it takes
(``x[i] = old``). Faking the propagation of the exception means sending the
snapshot and then a complete, correct second run by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..oracle import OracleRaise
from ..wire import encode
from .common import StudentError, describe_error
from .queries import DEFAULT_H, GRADCHECK_TOL, Setup, check_result, named, restored, where

#: Every value the oracle sends is f(q) + NOISE (1 + |f(x)|) u(q), with u(q)
#: in [-1, 1) from a keyed hash of the query (a fresh key per test, from the
#: test's rng: the same point always gets the same value, so f is a function).
#: The noise moves d by up to NOISE (1 + |f|) / h, about 10 times the ULPS
#: tolerance (4 eps (|f+| + |f-|) / (2h) ~ 8 eps |f| / h = 1.8e-15 |f| / h).
#: So an answer that does not come from the values (the exact gradient, even
#: the exact centred difference of a cubic) passes one entry with probability
#: about 0.05 (measured over 1800 entries) and all of x's >= 6 entries with
#: probability ~1e-8, while the noise stays 20 times below GRADCHECK_TOL.
NOISE = 2e-14


# --- the test functions (the judge knows their gradients) ---------------------------

@dataclass(frozen=True)
class Function:
    """A smooth test function of an array, with its exact gradient."""

    what: str                       # for messages, e.g. "f(v) = v^T A v / 2 + b^T v"
    value: Callable                 # v -> float
    gradient: Callable              # v -> array of v's shape
    centred: Callable | None = None  # (v, h) -> the exact centred difference, if known


def quadratic(rng, n) -> Function:
    """``v^T A v / 2 + b^T v`` with A symmetric positive definite: gradient ``A v + b``.

    Its centred difference is exact for any h (f''' = 0).
    """
    M = rng.standard_normal((n, n))
    A = M @ M.T / n + np.eye(n)
    b = rng.standard_normal(n)
    return Function("f(v) = v^T A v / 2 + b^T v (gradient A v + b)",
                    lambda v: float(0.5 * v @ A @ v + b @ v), lambda v: A @ v + b,
                    lambda v, h: A @ v + b)


def sin_quartic(rng, shape) -> Function:
    """``sum(C sin V) + sum(V^4) / 4``: gradient ``C cos V + V^3``."""
    C = rng.standard_normal(shape)
    return Function("f(V) = sum(C sin V) + sum(V^4)/4 (gradient C cos V + V^3)",
                    lambda v: float(np.sum(C * np.sin(v)) + 0.25 * np.sum(v ** 4)),
                    lambda v: C * np.cos(v) + v ** 3)


def weighted_cubes(rng, shape) -> Function:
    """``sum(D V^3)``: gradient ``3 D V^2``; its centred difference is exactly ``D (3 V^2 + h^2)``."""
    D = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return Function("f(V) = sum(D V^3) (gradient 3 D V^2)",
                    lambda v: float(np.sum(D * v ** 3)), lambda v: 3 * D * v ** 2,
                    lambda v, h: D * (3 * v ** 2 + h ** 2))


def unrestorable(rng, shape, h) -> np.ndarray:
    """Entries that arithmetic does not bring back after the steps ``+h`` and ``-h``.

    For every entry ``((x + h) - 2h) + h != x`` in float64 (about 40% of the
    numbers of size 0.5..3 for h = 1e-4). About a third of the entries are
    tiny (|x| < h), where ``(x + h) - h`` and ``(x - h) + h`` differ from x as
    well; the first entry never is, so that the gradient has the scale of 1.
    Only saving the old value and putting it back restores such an x.
    """
    found = []
    while len(found) < int(np.prod(shape)):
        tiny = bool(found) and rng.random() < 1 / 3
        size = np.exp(rng.uniform(np.log(1e-9), np.log(h))) if tiny else rng.uniform(0.5, 3.0)
        v = float(size * rng.choice([-1.0, 1.0]))
        back = ((v + h) - 2 * h) + h != v
        if back and (not tiny or ((v + h) - h != v and (v - h) + h != v)):
            found.append(v)
    return np.array(found).reshape(shape)


# --- the oracle ------------------------------------------------------------------------

class Oracle:
    """The judge's ``f``: a test function of the array the worker's f reads, plus keyed noise.

    It raises :class:`OracleRaise` (``oracle.py``) on query number ``raise_at``
    (0-based), once: the worker's f then raises LookupError. It never raises
    anything else (an error in the judge's thread would leave the worker
    waiting): an array of the wrong size gets NaN.
    """

    def __init__(self, function, shape, point, rng, raise_at=None):
        self.function, self.shape = function, tuple(shape)
        self.size = int(np.prod(self.shape))
        self.key = rng.bytes(16)
        self.sigma = NOISE * (1.0 + abs(function.value(point.reshape(self.shape))))
        self.raise_at, self.count = raise_at, 0

    def __call__(self, q):
        k, self.count = self.count, self.count + 1
        if k == self.raise_at:
            raise OracleRaise()
        if q.size != self.size:
            return float("nan")
        try:
            with np.errstate(all="ignore"):
                value = float(self.function.value(q.reshape(self.shape)))
        except Exception:  # noqa: BLE001 - whatever the query, the thread must answer
            return float("nan")
        digest = hashlib.blake2b(q.tobytes(), key=self.key, digest_size=8).digest()
        u = int.from_bytes(digest, "little") / 2.0 ** 63 - 1.0  # in [-1, 1)
        return value + self.sigma * u


# --- one run ---------------------------------------------------------------------------

@dataclass
class Run:
    setup: Setup
    response: object      # sandbox.Response, with queries and values
    raise_at: int | None


def run_numerical_gradient(student, function, rng, x=None, h=None, reads="argument",
                           view_base=None, raise_at=None) -> Run:
    """numerical_gradient(f, x[, h]) in a worker, where f is the judge's oracle for ``function``.

    ``reads``: which array f sends to the judge: ``"argument"`` (its argument),
    ``"x"`` (x itself, read through a closure) or ``"base"`` (with
    ``view_base``: x is ``view_base[::2, 1::2].T``, and f reads the base).
    ``raise_at``: the 0-based query on which f raises LookupError.
    """
    fields = {"recipe": "numerical_gradient", "reads": reads, "h": h,
              "f_raises": raise_at is not None}
    if view_base is not None:
        assert reads == "base", "with view_base, f reads the base array (reads='base')"
        fields["view"] = {"base": view_base}
        point = np.array(view_base, dtype=float)
        x = point[::2, 1::2].T  # the same view as the worker's
        index = np.arange(point.size).reshape(point.shape)[::2, 1::2].T.ravel()
    else:
        fields["x"] = x
        point = np.array(x, dtype=float)
        index = np.arange(point.size)
    arrays = {}
    req = encode(fields, arrays)
    oracle = Oracle(function, point.shape, point, rng, raise_at)
    response = student.run(req, arrays, oracle=oracle)
    setup = Setup(np.array(x), point.ravel(), point.shape, index,
                  DEFAULT_H if h is None else float(h), reads, function)
    return Run(setup, response, raise_at)


# --- the checks ------------------------------------------------------------------------

def _answered(run):
    """The queries and values of a call that came back; fails if it did not."""
    response = run.response
    if response.failure:
        raise StudentError(f"numerical_gradient: {response.failure}")
    if not response.ok:
        raise StudentError(f"numerical_gradient: {describe_error(response.error)}")
    queries, values = list(response.queries), list(response.values)
    assert queries, ("numerical_gradient: the worker answered without sending x back to the "
                     "judge (its protocol was not followed)")
    return queries, values


def check_call(run, what, tol=GRADCHECK_TOL):
    """A call without a raise: x restored, the points, the result from the values, the gradient."""
    setup = run.setup
    queries, values = _answered(run)
    answer = run.response.answer
    restored(setup, queries[-1], "after numerical_gradient returned")
    value = answer.get("value") if isinstance(answer, dict) else None
    return check_result(setup, queries[:-1], values[:-1], value, 0, what, tol)


def check_raise(run, what, tol=GRADCHECK_TOL):
    """f raised on query ``run.raise_at``: nothing after it, x restored, then a full second call.

    The recipe's protocol (``worker.py``): if the LookupError reaches it, it
    sends x as it is (query r + 1), calls numerical_gradient again on the same
    x (queries r + 2 ...), and sends x after that call (the last query). If
    numerical_gradient returns normally, only the last query follows.
    """
    setup, r = run.setup, run.raise_at
    response = run.response
    if response.failure:
        raise StudentError(f"numerical_gradient: {response.failure}")
    queries, values = list(response.queries), list(response.values)
    n = setup.index.size
    assert not response.ok or queries, (
        "numerical_gradient: the worker answered without sending x back to the judge (its "
        "protocol was not followed)")
    if not response.ok:
        if len(queries) == r + 1 and (response.error or {}).get("type") == "LookupError":
            raise AssertionError(  # the recipe's own snapshot was query r: f was called r times
                f"numerical_gradient returned after calling f {r} times; it must call f twice "
                f"per entry of x ({2 * n} calls for x of shape {setup.x.shape})")
        after_raise = (f" (f raised LookupError on call {r + 1}; let that exception through "
                       "unchanged)") if len(queries) > r else ""
        raise StudentError(f"numerical_gradient: {describe_error(response.error)}{after_raise}")
    assert len(queries) > r + 1, (
        f"numerical_gradient called f only {len(queries) - 1} times; it must call f twice per "
        f"entry of x ({2 * n} calls for x of shape {setup.x.shape})")
    where(setup, queries[:r + 1])  # the points up to the raise (f raised on call r + 1)
    raised = f"f raised LookupError on call {r + 1}"
    if len(queries) == r + 2:
        raise AssertionError(
            f"{raised}, but numerical_gradient returned normally: the exception must "
            "propagate to the caller. Put the evaluations in try/finally (restore x[i] in "
            "the finally block) and do not catch the exception.")
    after = queries[r + 1]
    if not (after.size == setup.point.size and np.array_equal(after, setup.point)):
        if after.size == queries[r].size and np.array_equal(after, queries[r]):
            i = int(np.flatnonzero(after != setup.point)[0])
            raise AssertionError(
                f"{raised}; x was left as f saw it then, with entry "
                f"{named(setup, {int(j): k for k, j in enumerate(setup.index)}, i)} moved: "
                "restore x[i] in a finally block, so that it is put back when f raises")
        try:
            where(setup, [after], first_call=r + 2)
            moved_once = True
        except AssertionError:
            moved_once = False
        if moved_once:
            raise AssertionError(
                f"{raised}, and numerical_gradient called f again (call {r + 2}): the "
                "exception must propagate at once, not be caught")
        restored(setup, after, f"when {raised} and the exception propagated")
    # The second call, on the same x (f no longer raises), and x after it.
    restored(setup, queries[-1], "after the second call of numerical_gradient")
    answer = response.answer
    value = answer.get("value") if isinstance(answer, dict) else None
    return check_result(setup, queries[r + 2:-1], values[r + 2:-1], value, r + 2,
                         f"{what} (the call after the one where f raised)", tol)
