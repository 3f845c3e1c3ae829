r"""Full-batch training of a deep linear network, recorded as a ``History``.

Besides the factor optimizers of ``deeplinear.optim`` (run compiled or step
by step), ``optimizer="e2e"`` trains the end-to-end matrix alone with the
closed-form update of Theorem 1 of Arora, Cohen & Hazan (2018): from
balanced factors, deep gradient descent and this update follow the same
curve up to :math:`O(\eta)` in the learning rate :math:`\eta`, which is the comparison the paper's theorem is about.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_positive
from .dynamics import e2e_update
from .network import balancedness, end_to_end
from .objective import Objective
from .optim import make_optimizer
from .run_settings import RunSettings

__all__ = ["History", "train", "train_objective", "train_lrs", "train_runs"]


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
        The trained factors; ``[W_e]`` for ``optimizer="e2e"``.
    seconds : float
    balancedness, norm_e : ndarray or None
        Per recorded step, when ``track=True``.
    info : dict
        ``"compiled"`` (bool) for every run; ``"optimizer"`` and ``"depth"``
        for ``optimizer="e2e"``.
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


def train(factors, X, Y, *, lr, steps, loss="l2", weight_decay=0.0, optimizer="sgd",
          optimizer_options=None, record_every=1, divergence_factor=1e6, track=False,
          compiled=None) -> History:
    r"""Train a copy of ``factors`` by full-batch descent on ``(X, Y)``.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        Starting point; not modified.
    X : ndarray, shape (n, d_0)
    Y : ndarray, shape (n, d_N)
    lr : float
        Learning rate, > 0.
    steps : int
    loss : {"l2", "l4", ...}
    weight_decay : float
        L2 penalty ``weight_decay/2 sum ||W_j||^2``, part of the objective
        (``Objective(X, Y, loss, weight_decay)``), so of its gradients and of
        every recorded loss. The one weight decay of training, on every
        entry point and on both loops.
    optimizer : {"sgd", "adam", "adagrad", "adadelta", "e2e"}
        ``"e2e"`` collapses ``factors`` to ``W_e = W_N ... W_1`` and trains that
        single matrix with the end-to-end update of Theorem 1 of Arora, Cohen
        & Hazan (2018) (see Notes), the closed form of gradient descent on
        balanced factors.
    optimizer_options : mapping, optional
        The optimizer's options (momentum, betas, ...); None for none. Not
        ``lr`` and not ``weight_decay``, which are refused (pass them here).
        For ``"e2e"`` the only key is ``depth``, the N of the update, an int
        >= 1 defaulting to ``len(factors)``, so that ``train(balanced_factors,
        ..., optimizer="e2e")`` follows the closed form of the same deep
        network. See :class:`~deeplinear.RunSettings`, which checks them.
    record_every : int
    divergence_factor : float
        Stop and mark diverged when the loss exceeds this times its initial value.
    track : bool
        Also record balancedness and ||W_e||_F. Tracking runs the step-by-step
        Python loop (the compiled loop records losses only).
    compiled : bool or None, default None
        ``True`` runs all the steps inside one numba-compiled function
        (``deeplinear._kernels.train.train_loop``), whose kernels are twins
        of the NumPy functions, tested equal to them; it agrees with the
        Python loop to rounding. ``False`` runs the Python loop on NumPy, one
        ``Objective`` evaluation and one ``Optimizer.step`` per step. ``None``
        means compiled when this copy of deeplinear has its kernels (a
        student release has none), else the Python loop. ``True`` without
        the kernels raises ``ValueError``. ``History.info["compiled"]`` says
        which loop ran. Ignored with ``track=True``. For ``optimizer="e2e"``
        the compiled loop runs one output without weight decay (the twin of
        ``e2e_update_single_output``); several outputs or a weight decay run
        in Python (one SVD per step) whatever ``compiled`` says.

    Returns
    -------
    History

    Notes
    -----
    With ``optimizer="e2e"`` each step is ``deeplinear.e2e_update`` (or its
    one-output form, compiled), with
    :math:`\eta` = ``lr``, :math:`\lambda` = ``weight_decay`` and :math:`L` the
    data loss (no penalty):

    .. math::

        W_e &\leftarrow (1 - \eta \lambda N)\, W_e
            - \eta \sum_{j=1}^{N} \left[W_e W_e^\top\right]^{\frac{j-1}{N}}
              \nabla L(W_e) \left[W_e^\top W_e\right]^{\frac{N-j}{N}} \\
        \text{recorded} &= L(W_e) + \frac{\lambda}{2} N \sum_i s_i^{2/N}

    where :math:`s_i` are the singular values of :math:`W_e`. The penalty
    term is :math:`\frac{\lambda}{2} \sum_j \lVert W_j \rVert_F^2` of balanced
    factors with product :math:`W_e` (each has singular values
    :math:`s_i^{1/N}`), so the recorded curve is comparable with the objective
    of a deep run from balanced factors; the two agree to :math:`O(\eta)`.
    ``final_factors`` is ``[W_e]``; with ``track=True``, ``norm_e`` is
    :math:`\lVert W_e \rVert_F` and ``balancedness`` is 0 at
    every record (a single matrix has no pair of adjacent factors, as in
    ``deeplinear.balancedness([W_e])``). ``info`` holds ``compiled`` (which
    loop ran), ``optimizer="e2e"`` and ``depth=N``. A gradient that overflows while the
    loss does not (possible only within a few powers of the float range)
    cannot be stepped with, and counts as divergence there.
    """
    objective = Objective(X, Y, loss, weight_decay)
    return train_objective(factors, objective, lr=lr, steps=steps, optimizer=optimizer,
                           optimizer_options=optimizer_options, record_every=record_every,
                           divergence_factor=divergence_factor, track=track, compiled=compiled)


def train_objective(factors, objective, *, lr, steps, optimizer="sgd", optimizer_options=None,
                    record_every=1, divergence_factor=1e6, track=False,
                    compiled=None) -> History:
    """``train`` on a prepared ``Objective`` (data, loss and weight decay).

    A grid search trains many networks on the same data: building the
    objective once shares, in the compiled loop, its moments (``X^T X / n``
    for l2) and its chain workspaces between runs. Same keywords and result
    as ``train``; the weight decay is the objective's.
    """
    settings = RunSettings(optimizer=optimizer, optimizer_options=optimizer_options,
                           steps=steps, record_every=record_every,
                           divergence_factor=divergence_factor)
    return train_runs(factors, objective, [lr], settings, track=track, compiled=compiled)[0]


def train_lrs(factors, objective, *, lrs, steps, optimizer="sgd", optimizer_options=None,
              record_every=1, divergence_factor=1e6, track=False,
              compiled=None) -> list[History]:
    """``train_objective`` from one start at each of several learning rates.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        The start of every run; not modified.
    objective : Objective
    lrs : sequence of float
        One run per learning rate, each > 0.
    steps, optimizer, optimizer_options, record_every, divergence_factor, track, compiled
        As in ``train``.

    Returns
    -------
    list of History
        One per learning rate, in the order of ``lrs``; see :func:`train_runs`.
    """
    settings = RunSettings(optimizer=optimizer, optimizer_options=optimizer_options,
                           steps=steps, record_every=record_every,
                           divergence_factor=divergence_factor)
    return train_runs(factors, objective, lrs, settings, track=track, compiled=compiled)


def train_runs(factors, objective, lrs, settings, *, track=False,
               compiled=None) -> list[History]:
    """One run per learning rate from one start, with settings checked once.

    What ``train``, ``train_objective`` and ``train_lrs`` run, and what a
    grid search calls with the :class:`~deeplinear.RunSettings` it built
    once for all its runs.

    The compiled loop runs the runs in lockstep: each step evaluates all of
    them, and for an lp loss with one output (l4 on Ethanol) in one pass over
    the data, which costs less than one pass per run (``benchmarks/
    bench_train.py`` measures it). A run that diverges stops there and the
    others go on. Each run is the same, bit for bit, as
    ``train_objective(..., lr=lr)`` alone; its ``History.seconds`` is an
    equal share of the call's time. The Python loop (``compiled=False``, a
    student release, ``track=True``, ``optimizer="e2e"`` with several
    outputs or weight decay) runs one after the other.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        The start of every run; not modified.
    objective : Objective
        Data, loss and weight decay.
    lrs : sequence of float
        One run per learning rate, each > 0 (checked here, once).
    settings : RunSettings
        Optimizer and its options, steps, recording, divergence.
    track, compiled
        As in ``train``.

    Returns
    -------
    list of History
        One per learning rate, in the order of ``lrs``.
    """
    if not isinstance(objective, Objective):
        raise ValueError(f"objective: expected a deeplinear.Objective, got "
                         f"{type(objective).__name__}")
    if not isinstance(settings, RunSettings):
        raise ValueError(f"settings: expected a deeplinear.RunSettings, got "
                         f"{type(settings).__name__}")
    lrs = _check_lrs(lrs)
    use_compiled = _use_compiled(compiled, track, objective)
    factors = [W.copy() for W in objective.check_factors(factors)]
    info, depth = {"compiled": True}, None
    if settings.optimizer == "e2e":
        depth = settings.optimizer_options.get("depth", len(factors))
        W_e = end_to_end(factors)
        # Compiled: one output, no weight decay (whose recorded penalty needs balanced factors).
        if not (use_compiled and W_e.shape[0] == 1 and objective.weight_decay == 0.0):
            return [_train_e2e(objective, W_e.copy(), depth, lr, settings, track) for lr in lrs]
        factors, info = [W_e], {"compiled": True, "optimizer": "e2e", "depth": depth}
    if use_compiled:
        from . import _compiled  # the numba kernels and their workspaces

        runs = _compiled.train_loop(objective, factors, lrs, settings, depth=depth)
        return [History(loss=losses, steps=recorded, diverged=diverged, final_factors=trained,
                        seconds=seconds, info=dict(info))
                for losses, recorded, diverged, trained, seconds in runs]
    histories = []
    for lr in lrs:
        start = [W.copy() for W in factors]
        opt = make_optimizer(settings.optimizer, start, lr=lr, **settings.optimizer_options)
        histories.append(_train_python(objective, start, opt, settings, track))
    return histories


def _check_lrs(lrs) -> list[float]:
    """``lrs`` as a list of floats > 0: the one check of the learning rates."""
    if np.isscalar(lrs) or not hasattr(lrs, "__len__") or len(lrs) == 0:
        raise ValueError(f"lrs: expected a non-empty sequence of learning rates, got {lrs!r}")
    return [check_positive(lr, "lr" if len(lrs) == 1 else f"lrs[{i}]")
            for i, lr in enumerate(lrs)]


def _use_compiled(compiled, track, objective) -> bool:
    """Whether to run the compiled loop; ``compiled=True`` without kernels, or for
    an objective that has no compiled kind (``Objective.compiled_loop``), is an error."""
    if compiled is not None and not isinstance(compiled, (bool, np.bool_)):
        raise ValueError(f"compiled: expected None, True or False, got {compiled!r}")
    if compiled and not objective.compiled_loop:
        raise ValueError(f"compiled: a {type(objective).__name__} has no compiled loop; "
                         "pass compiled=False or None")
    if compiled is False or (compiled is None and (track or not objective.compiled_loop)):
        return False
    from . import _compiled  # without the kernels, this imports neither them nor numba

    if compiled:
        _compiled.require()
        return not track
    return _compiled.available()


def _run_loop(evaluate, step, observe, settings):
    """The step-by-step loop that both Python paths share.

    ``evaluate()`` returns the objective value and what ``step`` needs (the
    gradients) at the current point; ``step(grads)`` moves the point one step
    (the factors in place, or ``W_e`` replaced); ``observe()`` returns
    ``(balancedness, ||W_e||_F)``, or is None when not tracking. Runs
    ``settings.steps`` steps (a ``RunSettings``). Records at step 0, every
    ``record_every`` steps, at the last step and where the run diverged
    (non-finite, or above ``divergence_factor`` times the initial value),
    where it stops: the rule of the compiled loop.

    Returns
    -------
    losses, recorded : list
    diverged : bool
    tracked : list of (balancedness, norm_e) tuples
    """
    steps, record_every = settings.steps, settings.record_every
    losses, recorded, tracked = [], [], []
    diverged = False
    limit = None
    for t in range(steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            value, grads = evaluate()
        if limit is None:
            limit = settings.divergence_factor * max(value, np.finfo(float).tiny)
        if not np.isfinite(value) or value > limit:
            diverged = True
        if t % record_every == 0 or t == steps or diverged:
            losses.append(value)
            recorded.append(t)
            if observe is not None:
                with np.errstate(over="ignore", invalid="ignore"):
                    tracked.append(observe())
        if diverged or t == steps:
            break
        with np.errstate(over="ignore", invalid="ignore"):
            step(grads)
    return losses, recorded, diverged, tracked


def _history(losses, recorded, diverged, tracked, final_factors, seconds, track, info):
    """A ``History`` from what :func:`_run_loop` returned."""
    bal, norms = zip(*tracked) if tracked else ((), ())
    return History(
        loss=np.array(losses), steps=np.array(recorded, dtype=np.int64), diverged=diverged,
        final_factors=final_factors, seconds=seconds,
        balancedness=np.array(bal, dtype=float) if track else None,
        norm_e=np.array(norms, dtype=float) if track else None,
        info=info,
    )


def _train_python(objective, factors, opt, settings, track) -> History:
    """The step-by-step NumPy loop: one objective evaluation and one optimizer step per step."""

    def observe():
        return (balancedness(factors, check=False),
                float(np.linalg.norm(end_to_end(factors, check=False))))

    start = time.perf_counter()
    run = _run_loop(lambda: objective.value_and_grads_unchecked(factors), opt.step,
                    observe if track else None, settings)
    return _history(*run, factors, time.perf_counter() - start, track, {"compiled": False})


def _train_e2e(objective, W_e, depth, lr, settings, track) -> History:
    """The end-to-end dynamics (Theorem 1), one ``e2e_update`` per step.

    ``W_e`` (d_N, d_0) is a fresh array; it is replaced, not updated in place.
    The recorded value is the data loss plus the weight-decay penalty of
    balanced factors of ``W_e`` (see the Notes of :func:`train`).
    """
    wd = objective.weight_decay
    current = [W_e]

    def evaluate():
        W = current[0]
        if not np.all(np.isfinite(W)):
            return float("inf"), None  # no step can be taken from here: diverged
        value, grad_e = objective.value_and_grad_e(W, check=False)  # L(W_e), no penalty
        if not np.all(np.isfinite(grad_e)):
            return float("inf"), grad_e  # no step can be taken from here: diverged
        if wd != 0.0:
            s = np.linalg.svd(W, compute_uv=False)
            value += 0.5 * wd * depth * float(np.sum(s ** (2.0 / depth)))
        return value, grad_e

    def step(grad_e):
        current[0] = e2e_update(current[0], grad_e, depth, lr, wd)

    def observe():
        return 0.0, float(np.linalg.norm(current[0]))

    start = time.perf_counter()
    run = _run_loop(evaluate, step, observe if track else None, settings)
    return _history(*run, current, time.perf_counter() - start, track,
                    {"compiled": False, "optimizer": "e2e", "depth": depth})
