"""Full-batch training of a deep linear network, recorded as a ``History``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_factors, check_positive
from .linalg import _balancedness
from .objective import Objective
from .optim import make_optimizer

__all__ = ["History", "train"]


@dataclass
class History:
    """What one training run did.

    Attributes
    ----------
    loss : ndarray, shape (m,)
        Objective value before training, then after every ``record_every``-th step.
    steps : ndarray of int, shape (m,)
        The step count of each entry of ``loss`` (0 first).
    diverged : bool
        True if the loss became non-finite or exceeded ``divergence_factor``
        times its initial value; training stopped there.
    final_factors : list of ndarray, shape (d_j, d_{j-1})
    seconds : float
    balancedness, norm_e : ndarray or None
        Per recorded step, when ``track=True``.
    """

    loss: np.ndarray
    steps: np.ndarray
    diverged: bool
    final_factors: list
    seconds: float
    balancedness: np.ndarray | None = None
    norm_e: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        """Last recorded loss; ``inf`` for a diverged run, never NaN."""
        return float("inf") if self.diverged else float(self.loss[-1])


def train(factors, X, Y, *, loss="l2", optimizer="sgd", lr, steps, weight_decay=0.0,
          record_every=1, divergence_factor=1e6, track=False, **optimizer_options) -> History:
    """Train a copy of ``factors`` by full-batch descent on ``(X, Y)``.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        Starting point; not modified.
    X : ndarray, shape (n, d_0)
    Y : ndarray, shape (n, d_N)
    loss : {"l2", "l4", ...}
    optimizer : {"sgd", "adam", "adagrad", "adadelta"}
    lr : float
    steps : int
    weight_decay : float
        L2 penalty ``weight_decay/2 sum ||W_j||^2``, part of the recorded objective.
    record_every : int
    divergence_factor : float
        Stop and mark diverged when the loss exceeds this times its initial value.
    track : bool
        Also record balancedness and ||W_e||_F.
    **optimizer_options
        Passed to the optimizer (momentum, betas, ...).

    Returns
    -------
    History
    """
    lr = check_positive(lr, "lr")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
    if not isinstance(record_every, (int, np.integer)) or record_every < 1:
        raise ValueError(f"record_every: expected an integer >= 1, got {record_every!r}")
    divergence_factor = check_positive(divergence_factor, "divergence_factor")
    objective = Objective(X, Y, loss, weight_decay)
    factors, chain = objective._checked([W.copy() for W in as_factors(factors)])
    opt = make_optimizer(optimizer, factors, lr=lr, **optimizer_options)

    start = time.perf_counter()
    losses, recorded, bal, norms = [], [], [], []
    diverged = False
    limit = None
    for t in range(steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            value, grads = objective._value_and_gradients(factors, chain)
        if limit is None:
            limit = divergence_factor * max(value, np.finfo(float).tiny)
        if not np.isfinite(value) or value > limit:
            diverged = True
        if t % record_every == 0 or t == steps or diverged:
            losses.append(value)
            recorded.append(t)
            if track:
                bal.append(_balancedness(factors))
                norms.append(float(np.linalg.norm(chain.end_to_end(factors))))
        if diverged or t == steps:
            break
        opt.step(grads)
    return History(
        loss=np.array(losses), steps=np.array(recorded), diverged=diverged,
        final_factors=factors, seconds=time.perf_counter() - start,
        balancedness=np.array(bal) if track else None,
        norm_e=np.array(norms) if track else None,
    )

