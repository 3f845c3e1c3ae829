"""Full-batch training of a deep linear network, recorded as a ``History``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from numba.typed import List

from ._kernels import train as _kt
from ._validation import as_factors, check_positive
from .linalg import _balancedness
from .objective import Objective
from .optim import _UNUSED, AdaDelta, AdaGrad, Adam, SGD, make_optimizer

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
          record_every=1, divergence_factor=1e6, track=False, compiled=True,
          **optimizer_options) -> History:
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
        Also record balancedness and ||W_e||_F. Tracking runs the step-by-step
        Python loop (the compiled loop records losses only).
    compiled : bool, default True
        Run all the steps inside one numba-compiled function
        (``deeplinear._kernels.train.train_loop``), which calls the same
        loss, gradient and update kernels as the step-by-step Python loop
        and agrees with it to rounding. ``False`` runs the Python loop, one
        ``Objective`` evaluation and one ``Optimizer.step`` per step.
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
    if compiled and not track:
        return _train_compiled(objective, factors, chain, optimizer, lr, steps,
                               record_every, divergence_factor, optimizer_options)
    opt = make_optimizer(optimizer, factors, lr=lr, **optimizer_options)
    return _train_python(objective, factors, chain, opt, steps, record_every,
                         divergence_factor, track)


def _train_python(objective, factors, chain, opt, steps, record_every, divergence_factor,
                  track) -> History:
    """The step-by-step loop: one objective evaluation and one optimizer step per step."""
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
        info={"compiled": False},
    )


def _optimizer_kernel_args(opt):
    """``(code, hyper)`` and the three state lists for ``_kernels.train.train_loop``."""
    N = len(opt.params)

    def states(*keys):
        lists = []
        for key in keys:
            if key is not None and key in opt.state[0]:
                lists.append(List([s[key].reshape(-1) for s in opt.state]))
            else:
                lists.append(List([_UNUSED for _ in range(N)]))
        return tuple(lists)

    if isinstance(opt, SGD):
        hyper = [opt.lr, opt.momentum, opt.dampening, float(opt.nesterov), opt.weight_decay]
        return (_kt.SGD, np.array(hyper)), states("momentum_buffer", None, None)
    if isinstance(opt, Adam):
        hyper = [opt.lr, opt.betas[0], opt.betas[1], opt.eps, opt.weight_decay,
                 float(opt.amsgrad)]
        return (_kt.ADAM, np.array(hyper)), states("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    if isinstance(opt, AdaGrad):
        hyper = [opt.lr, opt.lr_decay, opt.eps, opt.weight_decay]
        return (_kt.ADAGRAD, np.array(hyper)), states("sum", None, None)
    if isinstance(opt, AdaDelta):
        hyper = [opt.lr, opt.rho, opt.eps, opt.weight_decay]
        return (_kt.ADADELTA, np.array(hyper)), states("square_avg", "acc_delta", None)
    raise ValueError(f"optimizer: no compiled loop for {type(opt).__name__}")


def _train_compiled(objective, factors, chain, optimizer, lr, steps, record_every,
                    divergence_factor, optimizer_options) -> History:
    """All ``steps`` steps in one call of ``_kernels.train.train_loop``.

    The loop works on the factors in the chain's orientation (the transposed
    network ``[W_N^T, ..., W_1^T]`` when ``d_0 < d_N``, see ``linalg.Chain``);
    the optimizer and its state are built on those arrays, which is the same
    computation since every update rule is elementwise.
    """
    if chain.transposed:
        kf = [np.ascontiguousarray(W.T) for W in reversed(factors)]
    else:
        kf = factors
    # The optimizer class validates the options and creates the initial state.
    opt = make_optimizer(optimizer, kf, lr=lr, **optimizer_options)
    opt_args, states = _optimizer_kernel_args(opt)
    kfl = List(kf)

    work, data = chain.work, objective.kernel_data(chain.transposed)
    run = (int(steps), int(record_every), float(divergence_factor))
    size = int(steps) // int(record_every) + 2
    losses = np.empty(size)
    recorded = np.empty(size, dtype=np.int64)

    start = time.perf_counter()
    # Overflow in a diverging run is expected, not an error (it can only warn
    # when numba's JIT is disabled and NumPy scalars do the maths).
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        count, diverged = _kt.train_loop(kfl, states, work, data, opt_args, run,
                                         losses, recorded)
    seconds = time.perf_counter() - start

    trained = chain.unkernel(kfl)
    return History(
        loss=losses[:count].copy(), steps=recorded[:count].copy(), diverged=bool(diverged),
        final_factors=trained, seconds=seconds, info={"compiled": True},
    )

