r"""Spectral diagnostics of an end-to-end matrix: how low-rank is what training found?

For ``W_e`` of shape ``(d_N, d_0)`` with singular values
:math:`s_1 \ge \dots \ge s_k \ge 0`, :math:`k = \min(d_N, d_0)`:

.. math::

    \lVert W_e \rVert_* = \sum_i s_i, \qquad
    \operatorname{erank}(W_e) = \exp\Big(-\sum_{i:\, p_i > 0} p_i \log p_i\Big),
    \quad p_i = \frac{s_i}{\sum_j s_j}

The effective rank (Roy & Vetterli, 2007) is the exponential of the Shannon
entropy of the normalised singular values: ``r`` for ``r`` equal nonzero
values, close to 1 when one value dominates, and always between 1 and the
rank. Unlike the rank it does not need a threshold, so it moves smoothly
during training. :func:`spectrum_trajectory` records the singular values of
``W_e`` every ``every`` steps of a training run (the Python loop, in
segments), and :func:`unobserved_error` / :func:`relative_error` measure how
well a completion generalises off the observed entries.

References
----------
.. [1] O. Roy, M. Vetterli. The effective rank: a measure of effective
   dimensionality. EUSIPCO 2007.
.. [2] S. Arora, N. Cohen, W. Hu, Y. Luo. Implicit Regularization in Deep
   Matrix Factorization. NeurIPS 2019.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_matrix
from ._validation import check_mask
from .network import end_to_end
from .train import train_objective

__all__ = ["singular_values", "effective_rank", "nuclear_norm", "relative_error",
           "unobserved_error", "SpectrumTrajectory", "spectrum_trajectory"]


def singular_values(W_e) -> np.ndarray:
    """Singular values of ``W_e``, largest first.

    Parameters
    ----------
    W_e : ndarray, shape (d_N, d_0)

    Returns
    -------
    s : ndarray, shape (min(d_N, d_0),)
    """
    return np.linalg.svd(as_matrix(W_e, "W_e"), compute_uv=False)


def effective_rank(a) -> float:
    r"""Effective rank of a matrix, or of its singular values (Roy & Vetterli 2007).

    .. math::

        \operatorname{erank} = \exp\Big(-\sum_{i:\, p_i > 0} p_i \log p_i\Big),
        \qquad p_i = \frac{s_i}{\sum_j s_j}

    Zero singular values contribute nothing (:math:`0 \log 0 = 0`). It is
    invariant to scaling ``a`` and lies in ``[1, rank]``.

    Parameters
    ----------
    a : ndarray, shape (d_N, d_0) or (k,)
        A matrix, or its singular values (finite, >= 0, not all 0).

    Returns
    -------
    float
    """
    if isinstance(a, np.ndarray) and a.ndim == 1:
        if a.dtype.kind != "f" or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError("a: expected singular values, a non-empty float array of "
                             "finite values >= 0")
        s = a.astype(np.float64)
    else:
        s = np.linalg.svd(as_matrix(a, "a"), compute_uv=False)
    total = float(np.sum(s))
    if total == 0.0:
        raise ValueError("a: has no nonzero singular value; the effective rank of 0 is undefined")
    p = s[s > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def nuclear_norm(W_e) -> float:
    r"""Nuclear norm :math:`\lVert W_e \rVert_* = \sum_i s_i` of ``W_e`` (d_N, d_0)."""
    return float(np.sum(singular_values(W_e)))


def relative_error(W_e, target) -> float:
    r"""Relative Frobenius error over all entries, :math:`\lVert W_e - W^* \rVert_F / \lVert W^* \rVert_F`.

    Parameters
    ----------
    W_e, target : ndarray, shape (d_N, d_0)
        ``target`` not all zero.

    Returns
    -------
    float
    """
    W_e, target = _check_pair(W_e, target)
    return _ratio(W_e - target, target)


def unobserved_error(W_e, target, mask) -> float:
    r"""Relative Frobenius error on the entries *off* the observed set :math:`\Omega`.

    .. math::

        \frac{\lVert P_{\Omega^c}(W_e - W^*) \rVert_F}{\lVert P_{\Omega^c}(W^*) \rVert_F}

    The generalisation error of a completion: 0 is perfect recovery, 1 is
    what the all-zero guess gets.

    Parameters
    ----------
    W_e, target : ndarray, shape (d_N, d_0)
    mask : ndarray of bool, shape (d_N, d_0)
        :math:`\Omega`; at least one entry must be unobserved, where
        ``target`` is not all zero.

    Returns
    -------
    float
    """
    W_e, target = _check_pair(W_e, target)
    hidden = ~check_mask(mask, target.shape)
    if not hidden.any():
        raise ValueError("mask: observes every entry; there is no unobserved error")
    return _ratio((W_e - target)[hidden], target[hidden])


@dataclass
class SpectrumTrajectory:
    """Singular values of ``W_e`` along one training run.

    Attributes
    ----------
    steps : ndarray of int, shape (T,)
        0, every, 2 every, ..., and the last step (or where the run diverged).
    singular_values : ndarray, shape (T, min(d_N, d_0))
        Row t: the singular values of ``W_e`` at ``steps[t]``, largest first.
    W_e : ndarray, shape (T, d_N, d_0)
        The end-to-end matrix at the same steps (NaN after a divergence).
    loss : ndarray, shape (T,)
        The objective at the same steps.
    diverged : bool
    final_factors : list of ndarray, shape (d_j, d_{j-1})
    """

    steps: np.ndarray
    singular_values: np.ndarray
    W_e: np.ndarray
    loss: np.ndarray
    diverged: bool
    final_factors: list


#: Optimizers without state: restarting them at a segment boundary changes nothing.
_STATELESS = ("sgd", "e2e")


def spectrum_trajectory(factors, objective, *, lr, steps, every, optimizer="sgd",
                        optimizer_options=None, divergence_factor=1e6) -> SpectrumTrajectory:
    r"""Train with ``deeplinear.train_objective`` and record the spectrum of ``W_e`` every ``every`` steps.

    The run is made of segments of ``every`` steps, each a call of
    ``train_objective(..., compiled=False)`` from where the last stopped,
    with the singular values of :math:`W_e = W_N \cdots W_1` taken between
    segments. A stateless rule (plain gradient descent, ``"sgd"`` without
    momentum, or the end-to-end update ``"e2e"``) makes the segments the same
    run, bit for bit, as one call: each step reads only the current point.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        Start; not modified.
    objective : Objective
        E.g. a :class:`~deeplinear.completion.CompletionObjective`.
    lr : float
    steps : int
        Total steps, >= 1.
    every : int
        Record every this many steps, >= 1 (and at the last step).
    optimizer : {"sgd", "e2e"}, default "sgd"
        A stateful rule (momentum, Adam, ...) would restart at every segment
        and is refused.
    optimizer_options : mapping, optional
        ``"sgd"``: none but ``momentum=0``; ``"e2e"``: ``depth``.
    divergence_factor : float, default 1e6
        As in ``train``: relative to the loss at step 0 (each segment gets
        the factor that gives the same limit, to rounding).

    Returns
    -------
    SpectrumTrajectory
    """
    options = dict(optimizer_options or {})
    stateful = optimizer not in _STATELESS or options.get("momentum", 0.0) != 0.0
    if stateful:
        raise ValueError(f"optimizer: spectrum_trajectory restarts the optimizer every `every` "
                         f"steps, the same run only for a stateless rule (sgd without momentum, "
                         f"e2e); got {optimizer!r} with options {options}")
    for name, value in (("steps", steps), ("every", every)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    current = [W.copy() for W in objective.check_factors(factors)]
    if optimizer == "e2e":
        options.setdefault("depth", len(current))
    tiny = np.finfo(float).tiny
    done, diverged, factor = 0, False, divergence_factor
    recorded, W_es, losses = [0], [end_to_end(current)], []
    while done < steps and not diverged:
        n = min(every, steps - done)
        history = train_objective(current, objective, lr=lr, steps=n, optimizer=optimizer,
                                  optimizer_options=options, record_every=n,
                                  divergence_factor=factor, compiled=False)
        if not losses:  # the limit of one run: divergence_factor times the loss at step 0
            limit = divergence_factor * max(history.loss[0], tiny)
        losses.append(history.loss[0])
        current, diverged = history.final_factors, history.diverged
        done += int(history.steps[-1])
        recorded.append(done)
        W_es.append(np.full_like(W_es[0], np.nan) if diverged
                    else end_to_end(current, check=False))
        # the same limit for the next segment (capped: a loss of 0 overflows the ratio)
        with np.errstate(over="ignore"):
            factor = min(limit / max(history.loss[-1], tiny), np.finfo(float).max)
    losses.append(history.loss[-1])
    spectra = [singular_values(W) if np.isfinite(W).all() else np.full(min(W.shape), np.nan)
               for W in W_es]
    return SpectrumTrajectory(steps=np.array(recorded, dtype=np.int64),
                              singular_values=np.array(spectra), W_e=np.array(W_es),
                              loss=np.array(losses),
                              diverged=diverged, final_factors=current)


def _check_pair(W_e, target):
    W_e, target = as_matrix(W_e, "W_e"), as_matrix(target, "target")
    if W_e.shape != target.shape:
        raise ValueError(f"W_e: expected the target's shape {target.shape}, got {W_e.shape}")
    return W_e, target


def _ratio(difference, reference) -> float:
    norm = float(np.linalg.norm(reference))
    if norm == 0.0:
        raise ValueError("target: is zero where the error is measured; a relative error "
                         "needs a nonzero reference")
    return float(np.linalg.norm(difference)) / norm
