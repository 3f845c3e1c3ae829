"""The compiled path: the driver of the numba training loop.

The library's Python path is NumPy (``linalg``, ``losses``, ``optim``,
``objective``). The compiled training loop, ``_kernels.train.train_loop``,
runs numba twins of those functions, each tested equal to its NumPy function.
This module drives it, and with its helpers is the only code outside
``deeplinear/_kernels/`` that imports the kernels:

- :func:`available`, :func:`require`: whether this copy of the package has
  its kernels. A student release leaves ``deeplinear/_kernels/`` out; then
  nothing here but these two works, and ``deeplinear.train`` runs the NumPy
  loop. Importing this module imports neither the kernels' helpers nor numba
  then.
- :func:`optimizer_args`, :func:`run_args`, :func:`train_loop`: one call of
  the loop for the runs of one ``RunSettings``.
- :class:`EndToEndRule`: the kernel tables of ``optimizer="e2e"`` (the
  end-to-end update of Theorem 1 for one output, without weight decay),
  which the loop runs on the one-factor chain ``[W_e]``.

Its helpers, one job each: ``deeplinear._chain`` (the workspace of one
architecture, in the kernels' orientation), ``deeplinear._kernel_data`` (the
moments of an objective and the loop's ``Data``), ``deeplinear._compile_notice``
(the notice on stderr before numba compiles).

The kernels take the named tuples of ``deeplinear._kernels.interface``; each
is built in one place: ``Workspace`` by ``Chain.batch_workspace``, ``Data``
by ``_kernel_data.kernel_data``, ``OptimizerArgs`` (with its ``Hyper``) and
``States`` by :func:`optimizer_args`, ``RunArgs`` by :func:`run_args`.

``deeplinear.train`` imports this module lazily, only to run the compiled loop.
"""

from __future__ import annotations

import time

import numpy as np

from ._compile_notice import announce_compiling
from .optim import make_optimizer

try:
    from ._kernels import train as kernel_train
    from ._kernels.interface import Hyper, OptimizerArgs, RunArgs, States

    from . import _kernel_data
except ModuleNotFoundError as exc:  # only a missing _kernels package is "no kernels"
    if exc.name != f"{__package__}._kernels":
        raise
    kernel_train = None

__all__ = ["available", "require", "EndToEndRule", "optimizer_args", "run_args", "train_loop"]


def available() -> bool:
    """True if this copy of deeplinear has its numba kernels (``deeplinear._kernels``)."""
    return kernel_train is not None


def require() -> None:
    """Raise ``ValueError`` naming ``compiled`` if the kernels are absent."""
    if not available():
        raise ValueError(
            "compiled: this copy of deeplinear has no compiled kernels (deeplinear/_kernels "
            "is absent, as in a student release); use compiled=False, or None to pick "
            "the compiled loop only when it is there"
        )


class EndToEndRule:
    """The end-to-end update as the compiled loop reads an optimizer.

    ``optimizer="e2e"`` with one output and no weight decay runs the loop on
    the one-factor chain ``[W_e]``: its factor gradient is ``grad_e``, its
    loss the data loss of ``W_e``, and its update the kernel
    ``_kernels.optim.e2e_update`` (the twin of
    ``deeplinear.dynamics.e2e_update_single_output``). This class gives
    :func:`optimizer_args` what it reads of an ``Optimizer``: the rule's
    ``name``, its kernel tables and its (empty) initial state.

    Parameters
    ----------
    depth : int
        N of the update, >= 1 (checked by ``RunSettings`` or the caller).

    Attributes
    ----------
    name : str
        ``"e2e"``, the key of the rule's code in ``_kernels.train.CODES``.
    kernel_fields : tuple of str
        ``("lr", "depth")``, the hyperparameters of ``e2e_update`` by its
        parameter names.
    kernel_state : tuple of str
        Empty: the update keeps no state.
    depth : int
    state : list of dict
        One empty dict (the one factor ``W_e``).
    """

    name = "e2e"
    kernel_fields = ("lr", "depth")
    kernel_state = ()

    def __init__(self, depth):
        self.depth = int(depth)
        self.state = [{}]

    def kernel_hyperparameters(self) -> dict:
        """``{"depth": N}`` (``lr`` is each run's, set by :func:`optimizer_args`)."""
        return {"depth": self.depth}


def optimizer_args(opt, lrs):
    """The kernel arguments of B runs of one optimizer's rule and options, packed by name.

    Parameters
    ----------
    opt : Optimizer or EndToEndRule
        Built with the runs' options on one run's factors (in the kernels'
        orientation): its hyperparameters but ``lr``, and its initial state,
        are every run's.
    lrs : list of float
        The runs' learning rates, checked.

    Returns
    -------
    OptimizerArgs
        The rule's code, and ``Hyper``: field ``lr`` the ``lrs``, each other
        field ``opt``'s ``kernel_hyperparameters()`` value under that name
        (flags as 0.0 / 1.0; 0.0 where the rule does not take the field),
        all of shape (B,).
    States
        Each field named in the rule's ``kernel_state`` and present in
        ``opt.state``, shape (B, P): every row ``opt``'s state arrays of all
        the factors, one after the other (the layout of the flat factors);
        every other field an empty (B, 0) array.
    """
    if opt.name not in kernel_train.CODES:
        raise ValueError(f"optimizer: no compiled loop for {type(opt).__name__}")
    B = len(lrs)
    values = opt.kernel_hyperparameters()
    hyper = Hyper(**{field: np.full(B, float(values.get(field, 0.0))) for field in Hyper._fields
                     if field != "lr"}, lr=np.array(lrs, dtype=np.float64))
    states = {field: np.empty((B, 0)) for field in States._fields}
    for key in opt.kernel_state:
        if key in opt.state[0]:
            flat = np.concatenate([s[key].ravel() for s in opt.state])
            states[key] = np.tile(flat, (B, 1))
    return OptimizerArgs(code=kernel_train.CODES[opt.name], hyper=hyper), States(**states)


def run_args(settings):
    """The ``RunArgs`` of a ``RunSettings``: how long to run and when to record."""
    return RunArgs(steps=settings.steps, record_every=settings.record_every,
                   divergence_factor=settings.divergence_factor)


def train_loop(objective, factors, lrs, settings, depth=None):
    """All the steps of one run per learning rate, in one call of
    ``_kernels.train.train_loop``: the runs go in lockstep, and each is the
    same, bit for bit, as it would be alone.

    The loop works on the factors in the chain's orientation (the transposed
    network ``[W_N^T, ..., W_1^T]`` when ``d_0 < d_N``); the optimizer state
    is built on those arrays, which is the same computation since every
    update rule is elementwise.

    Parameters
    ----------
    objective : Objective
    factors : list of ndarray, shape (d_j, d_{j-1})
        Checked by ``objective.check_factors``: the start of every run; not modified.
    lrs : list of float
        Checked, > 0.
    settings : RunSettings
        Of an optimizer with a kernel, or of ``"e2e"``: then ``factors`` is
        ``[W_e]`` of one output (shape (1, d_0)), the objective has no
        weight decay, and every step is the end-to-end update of depth
        ``depth`` (see :class:`EndToEndRule`).
    depth : int, optional
        For ``"e2e"`` only: N of the update, >= 1.

    Returns
    -------
    list of tuple, one per lr, in the order of ``lrs``
        ``(losses, recorded, diverged, trained, seconds)``: ``losses`` (m,),
        ``recorded`` (m,) int64, ``diverged`` bool, ``trained`` the list of
        factors (d_j, d_{j-1}), and ``seconds``, the call's time shared
        equally between the runs.
    """
    require()
    ch = _kernel_data.chain(objective, factors)
    B = len(lrs)
    params = np.tile(ch.pack(factors), (B, 1))
    # One optimizer for the rule, options and initial state of every run
    # (they differ only in lr); the optimizer class checks them as it would
    # for a Python run.
    if settings.optimizer == "e2e":
        if len(factors) != 1 or factors[0].shape[0] != 1 or objective.weight_decay != 0.0:
            raise ValueError("optimizer: the compiled e2e loop takes [W_e] of one output "
                             "and an objective without weight decay")
        opt = EndToEndRule(depth)
    else:
        opt = make_optimizer(settings.optimizer, ch.views(params[0].copy()), lr=lrs[0],
                             **settings.optimizer_options)
    optimizer, states = optimizer_args(opt, lrs)
    run = run_args(settings)
    size = run.steps // run.record_every + 2
    losses = np.empty((B, size))
    recorded = np.empty((B, size), dtype=np.int64)
    counts = np.zeros(B, dtype=np.int64)
    diverged = np.zeros(B, dtype=np.bool_)

    data = _kernel_data.kernel_data(objective, ch.transposed)
    args = (params, states, ch.batch_workspace(B), data, optimizer, run, losses, recorded,
            counts, diverged)
    announce_compiling(kernel_train.train_loop, args,
                       f"the training loop (every update rule and depth) for the "
                       f"{_kernel_data.data_kind(objective)}")
    start = time.perf_counter()
    # Overflow in a diverging run is expected, not an error (it can only warn
    # when numba's JIT is disabled and NumPy scalars do the maths).
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        kernel_train.train_loop(*args)
    seconds = (time.perf_counter() - start) / B
    return [(losses[b, :counts[b]].copy(), recorded[b, :counts[b]].copy(), bool(diverged[b]),
             ch.unkernel(ch.views(params[b])), seconds) for b in range(B)]
