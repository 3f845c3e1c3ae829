"""What the compiled loop reads of an ``Objective``: its moments or its data.

Part of the compiled path (see ``deeplinear._compiled``); imported only when
the kernels are present. Per ``Objective`` (keyed by identity, weakly), this
module keeps what the compiled runs on it share, built on first use:

- its :class:`~deeplinear._chain.Chain` per architecture (:func:`chain`);
- for l2, the moments ``X^T X / n``, ``Y^T X / n``, ``||Y||^2 / n`` (:func:`gram`);
- for l4 with one output and few features (:func:`uses_fourth_moments`),
  the fourth moments of ``[x, y]`` (:func:`fourth_moments`).

An ``Objective`` holds read-only copies of its data, so nothing cached here
can go stale. :func:`kernel_data` assembles the ``Data`` of the loop in one
of its four kinds (:func:`data_kind`): three for data objectives and one for
matrix completion (a ``CompletionObjective``, ``kind == "completion"``: its
observed entries, ``observed_entries()``).
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np

from ._chain import Chain
from ._kernels import loss as kernel_loss
from ._kernels.interface import Data

__all__ = ["chain", "gram", "sorted_triple_rows", "uses_fourth_moments", "fourth_moments",
           "data_kind", "kernel_data"]

# Per Objective: its moments and its chain workspaces, built on first use and
# shared by every compiled run on that objective (a grid's lrs).
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cache(objective) -> dict:
    if objective not in _CACHE:
        _CACHE[objective] = {"chains": {}}
    return _CACHE[objective]


def chain(objective, factors) -> Chain:
    """The (cached) :class:`~deeplinear._chain.Chain` of ``objective`` for the
    architecture of ``factors`` (list of ndarray, shape (d_j, d_{j-1}))."""
    dims = tuple([factors[0].shape[1]] + [W.shape[0] for W in factors])
    chains = _cache(objective)["chains"]
    if dims not in chains:
        chains[dims] = Chain(dims)
    return chains[dims]


def gram(objective):
    """For l2, ``(C, Bt, yy)``: C = X^T X / n (d_0, d_0), Bt = Y^T X / n (d_N, d_0),
    yy = ||Y||_F^2 / n, computed once per objective; None for other losses."""
    cache = _cache(objective)
    if "gram" not in cache:
        cache["gram"] = None
        if objective.loss.p == 2.0:
            X, Y = objective.X, objective.Y
            n = X.shape[0]
            C = np.ascontiguousarray(X.T @ X / n)
            Bt = np.ascontiguousarray(Y.T @ X / n)
            yy = float(np.sum(Y * Y) / n)
            cache["gram"] = (C, Bt, yy)
    return cache["gram"]


def sorted_triple_rows(m):
    """``(rows, T)``: ``rows[a, b, c]`` (int64, shape (m, m, m)) is the index of
    the sorted triple of (a, b, c) among the T = m (m + 1) (m + 2) / 6 triples
    ``a <= b <= c`` in lexicographic order (the rows of ``loss.fourth_moments``)."""
    rows = np.empty((m, m, m), dtype=np.int64)
    t = 0
    for a in range(m):
        for b in range(a, m):
            for c in range(b, m):
                for perm in itertools.permutations((a, b, c)):
                    rows[perm] = t
                t += 1
    return rows, t


def uses_fourth_moments(n, d, k, p) -> bool:
    """Whether the loop computes an lp loss from the fourth moments instead of a
    pass over the data: l4 (p = 4) with one output (k = 1), where one step
    from the moments (about T m + m^3 multiply-adds, m = d + 1) costs less
    than a quarter of the pass (2 n d). Abalone (n 4177, d 10): 4477 against
    83540. Computing the moments once costs about ``n T m`` (so about
    ``m^3 / 12`` passes), once per objective.
    """
    if p != 4.0 or k != 1:
        return False
    m = d + 1
    T = m * (m + 1) * (m + 2) // 6
    return 4 * (T * m + m ** 3) < 2 * n * d


def fourth_moments(objective):
    """For l4 where :func:`uses_fourth_moments`, ``(M4, rows)`` (see
    ``loss.fourth_moments``), computed once per objective; else None."""
    cache = _cache(objective)
    if "fourth" not in cache:
        cache["fourth"] = None
        X, Y = objective.X, objective.Y
        if uses_fourth_moments(X.shape[0], X.shape[1], Y.shape[1], objective.loss.p):
            rows, T = sorted_triple_rows(X.shape[1] + 1)
            M4 = np.empty((T, X.shape[1] + 1))
            kernel_loss.fourth_moments(X, Y, rows, M4)
            cache["fourth"] = (M4, rows)
    return cache["fourth"]


def data_kind(objective) -> str:
    """Which of the four kinds of ``Data`` the loop gets for ``objective``:
    ``"l2 moments"``, ``"l4 moments"``, ``"lp pass"`` (no moments computed)
    or ``"completion entries"``."""
    if objective.kind == "completion":
        return "completion entries"
    if objective.loss.p == 2.0:
        return "l2 moments"
    n, d = objective.X.shape
    if uses_fourth_moments(n, d, objective.Y.shape[1], objective.loss.p):
        return "l4 moments"
    return "lp pass"


def kernel_data(objective, transposed: bool) -> Data:
    """The ``Data`` of ``_kernels.train``: what the objective kernel reads.

    Parameters
    ----------
    objective : Objective
    transposed : bool
        Whether the kernels run the transposed network (``Chain.transposed``).

    Returns
    -------
    Data
        Of the kind :func:`data_kind` names; for the lp pass, ``X`` and ``Y``
        are the objective's own read-only arrays.
    """
    # Exactly one form: the others None (a different numba type for each: see Data).
    if objective.kind == "completion":
        omega_rows, omega_cols, omega_values = objective.observed_entries()
        return Data(X=None, Y=None, C=None, Bt=None, yy=0.0, p=2.0,
                    weight_decay=objective.weight_decay, transposed=bool(transposed),
                    M4=None, M4_rows=None, omega_rows=omega_rows, omega_cols=omega_cols,
                    omega_values=omega_values)
    X, Y, C, Bt, yy, M4, rows = objective.X, objective.Y, None, None, 0.0, None, None
    moments, fourth = gram(objective), fourth_moments(objective)
    if moments is not None:  # l2
        (C, Bt, yy), X, Y = moments, None, None
    elif fourth is not None:  # l4, one output, few features
        (M4, rows), X, Y = fourth, None, None
    return Data(X=X, Y=Y, C=C, Bt=Bt, yy=float(yy), p=objective.loss.p,
                weight_decay=objective.weight_decay, transposed=bool(transposed),
                M4=M4, M4_rows=rows, omega_rows=None, omega_cols=None, omega_values=None)
