"""The compiled path: workspaces and arguments for the numba kernels.

The library's Python path is NumPy (``linalg``, ``losses``, ``optim``,
``objective``). The compiled training loop, ``_kernels.train.train_loop``,
runs numba twins of those functions, each tested equal to its NumPy function.
This module is what that loop needs around it, and the only module outside
``deeplinear/_kernels/`` that imports the kernels:

- :func:`available`: whether this copy of the package has its kernels. A
  student release leaves ``deeplinear/_kernels/`` out; then nothing here
  but :func:`available` and :func:`require` works, and ``deeplinear.train``
  runs the NumPy loop.
- :class:`Chain`: the preallocated chain workspace of one architecture, in
  the kernels' orientation (the transposed network when ``d_0 < d_N``).
- :func:`kernel_data`: the ``Data`` of the objective kernel, with the l2
  moments ``X^T X / n``, ``Y^T X / n``, ``||Y||^2 / n`` computed on first use,
  or for l4 on narrow single-output data (:func:`uses_fourth_moments`) the
  fourth moments of ``[x, y]``, or else the data for the lp pass.
- :func:`value_and_grads`, :func:`value_and_grad_e`: one kernel
  evaluation of an ``Objective`` (for tests and benchmarks).
- :func:`optimizer_args`, :func:`train_loop`: one whole training run.

The kernels take the named tuples of ``deeplinear._kernels.interface``
(``Workspace``, ``Data``, ``States``, ``OptimizerArgs``, ``RunArgs``); each is
built here, in one place: ``Chain.__init__``, :func:`kernel_data`,
:func:`optimizer_args` (from the optimizer's ``kernel_args``) and
:func:`train_loop`.

Every per-factor array the kernels take is one flat float64 array in the
layout of ``Chain.kd`` (see ``_kernels.interface``): one compiled
specialisation for every depth per kind of data (l2 moments, l4 moments or
the lp pass), cached on disk.

The first run of the kernels on a machine (or after they changed) compiles
them, which takes several seconds; :func:`announce_compiling` says so on
stderr, once, when numba's cache has no compiled code for the loop on the
data at hand.

``deeplinear.train`` imports this module lazily, only to run the compiled loop.
"""

from __future__ import annotations

import os
import sys
import time
import weakref

import numpy as np

try:
    from ._kernels import chain as _chain
    from ._kernels import loss as _loss
    from ._kernels import train as _kt
    from ._kernels.interface import Data, OptimizerArgs, RunArgs, States, Workspace
except ModuleNotFoundError as exc:  # only a missing _kernels package is "no kernels"
    if exc.name != f"{__package__}._kernels":
        raise
    _chain = _loss = _kt = None

__all__ = ["available", "require", "Chain", "kernel_data", "value_and_grads",
           "value_and_grad_e", "optimizer_args", "train_loop", "needs_compiling",
           "sorted_triple_rows", "uses_fourth_moments", "fourth_moments",
           "announce_compiling", "COMPILE_MESSAGE"]

# Passed to a kernel in place of a state array that the chosen options never
# touch (the momentum buffer when momentum == 0, vmax when amsgrad is off).
_UNUSED = np.empty(0)
# Number of state slots of ``States``.
_N_STATES = 3

# Per Objective: its l2 moments and its chain workspaces, built on first use and
# shared by every compiled run on that objective (a grid's lrs).
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def available() -> bool:
    """True if this copy of deeplinear has its numba kernels (``deeplinear._kernels``)."""
    return _kt is not None


def require() -> None:
    """Raise ``ValueError`` naming ``compiled`` if the kernels are absent."""
    if not available():
        raise ValueError(
            "compiled: this copy of deeplinear has no compiled kernels (deeplinear/_kernels "
            "is absent, as in a student release); use compiled=False, or None to pick "
            "the compiled loop only when it is there"
        )


class Chain:
    """Preallocated workspace for the chain kernels of one architecture.

    The kernels compute every factor gradient
    ``dW_j = (W_N...W_{j+1})^T grad_e (W_{j-1}...W_1)^T`` in O(N) products:
    the suffix products ``W_N...W_{j+1}`` are built once from the top, and
    ``grad_e`` is pushed through the prefixes from the bottom, so that every
    intermediate has only ``min(d_0, d_N)`` rows.

    That order is chosen by the dimensions. With ``d_N = 1``, ``d_0 = 128``
    and two hidden layers of width 512, forming the prefix ``W_2 W_1`` as a
    matrix costs 512*512*128 = 33.6M multiply-adds. Working from the small
    end, ``suffix = W_3 W_2`` is a row vector (1*512*512 = 0.26M) and
    ``grad_e W_1^T`` is another (1*128*512 = 0.07M): a full gradient costs
    about ``3 d_N sum_j d_j d_{j-1}`` = 1M multiply-adds. When ``d_0 < d_N``
    the same kernels run on the transposed network ``W_1^T ... W_N^T`` so
    that the small side is always the one carried.

    Parameters
    ----------
    dims : list of int
        ``[d_0, ..., d_N]``.
    """

    def __init__(self, dims):
        require()
        self.dims = [int(d) for d in dims]
        self.depth = len(self.dims) - 1
        # Work on the transposed network when the input side is the small one.
        self.transposed = self.dims[-1] > self.dims[0]
        kd = self.dims[::-1] if self.transposed else self.dims
        k = kd[-1]
        N = self.depth
        #: The dimensions in the kernels' orientation: the layout of every flat array.
        self.kd = np.array(kd, dtype=np.int64)
        self.shapes = [(kd[j + 1], kd[j]) for j in range(N)]
        #: Number of parameters: the length of the flat factors.
        self.size = sum(r * c for r, c in self.shapes)
        suffix = np.empty(k * sum(kd))
        g_prefix_t = np.empty(k * sum(kd[:-1]))
        dW = np.empty(self.size)
        # 2-D views of the blocks of the flat buffers (what the kernels see).
        self.suffix = _blocks(suffix, [(k, kd[j]) for j in range(N + 1)])
        self.g_prefix_t = _blocks(g_prefix_t, [(k, kd[j]) for j in range(N)])
        self.dW = self.views(dW)
        d_0, d_N = self.dims[0], self.dims[-1]
        # Loss-side buffers: W_e and grad_e as (d_N, d_0), grad_e in the chain's orientation.
        self.work = Workspace(kd=self.kd, suffix=suffix, g_prefix_t=g_prefix_t, dW=dW,
                              W_e=np.empty((d_N, d_0)), grad_e=np.empty((d_N, d_0)),
                              grad_k=np.empty((k, kd[0])))

    def batch_workspace(self, runs) -> Workspace:
        """A ``Workspace`` for ``runs`` runs in lockstep: every buffer of
        :attr:`work` but ``kd`` with a leading axis of length ``runs``."""
        w = self.work
        return Workspace(kd=self.kd, **{name: np.empty((runs, *getattr(w, name).shape))
                                        for name in Workspace._fields if name != "kd"})

    def views(self, flat) -> list[np.ndarray]:
        """The factor-shaped 2-D views of a flat array in the layout of the factors."""
        return _blocks(flat, self.shapes)

    def kernel_factors(self, factors):
        """The factors in the kernels' orientation (``[W_N^T, ..., W_1^T]`` if transposed)."""
        if self.transposed:
            return [np.ascontiguousarray(W.T) for W in reversed(factors)]
        return list(factors)

    def pack(self, factors) -> np.ndarray:
        """A new flat array of ``factors`` (ours, shape (d_j, d_{j-1})) in the kernels' orientation."""
        flat = np.empty(self.size)
        ordered = reversed(factors) if self.transposed else factors
        for view, W in zip(self.views(flat), ordered):
            view[...] = W.T if self.transposed else W
        return flat

    def unkernel(self, arrays) -> list[np.ndarray]:
        """Copies of per-factor arrays in the kernels' orientation, back in ours."""
        if self.transposed:
            return [D.T.copy() for D in reversed(arrays)]  # always a copy, never a view
        return [np.array(D) for D in arrays]

    def end_to_end(self, factors) -> np.ndarray:
        """``W_e = W_N ... W_1``, shape (d_N, d_0), by the kernels; keeps the suffix products."""
        self._params = self.pack(factors)
        _chain.suffix_products(self._params, self.kd, self.work.suffix)
        W_e = self.suffix[0]
        return W_e.T.copy() if self.transposed else W_e.copy()

    def gradients(self, grad_e) -> list[np.ndarray]:
        """Factor gradients (new arrays, shape (d_j, d_{j-1})) at the factors last
        passed to :meth:`end_to_end`, for ``grad_e`` of shape (d_N, d_0)."""
        g = np.ascontiguousarray(grad_e.T) if self.transposed else np.ascontiguousarray(grad_e)
        _chain.factor_gradients(self._params, self.kd, self.work.suffix, g,
                                self.work.g_prefix_t, self.work.dW)
        return self.unkernel(self.dW)


def _blocks(flat, shapes) -> list[np.ndarray]:
    """Consecutive C-contiguous views of ``flat`` with the given 2-D shapes."""
    views, off = [], 0
    for r, c in shapes:
        views.append(flat[off:off + r * c].reshape(r, c))
        off += r * c
    return views


def _cache(objective) -> dict:
    if objective not in _CACHE:
        _CACHE[objective] = {"chains": {}}
    return _CACHE[objective]


def chain(objective, factors) -> Chain:
    """The (cached) :class:`Chain` of ``objective`` for the architecture of ``factors``."""
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
    import itertools

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
            _loss.fourth_moments(np.ascontiguousarray(X), np.ascontiguousarray(Y), rows, M4)
            cache["fourth"] = (M4, rows)
    return cache["fourth"]


def kernel_data(objective, transposed: bool):
    """The ``Data`` of ``_kernels.train``: what the objective kernel reads.

    Parameters
    ----------
    objective : Objective
    transposed : bool
        Whether the kernels run the transposed network (``Chain.transposed``).

    Returns
    -------
    Data
    """
    # Exactly one form: the others None (a different numba type for each: see Data).
    X, Y, C, Bt, yy, M4, rows = objective.X, objective.Y, None, None, 0.0, None, None
    moments, fourth = gram(objective), fourth_moments(objective)
    if moments is not None:  # l2
        (C, Bt, yy), X, Y = moments, None, None
    elif fourth is not None:  # l4, one output, few features
        (M4, rows), X, Y = fourth, None, None
    return Data(X=X, Y=Y, C=C, Bt=Bt, yy=float(yy), p=objective.loss.p,
                weight_decay=objective.weight_decay, transposed=bool(transposed),
                M4=M4, M4_rows=rows)


def value_and_grad_e(objective, W_e):
    """``objective.value_and_grad_e(W_e)`` by the loss kernels, in the form the
    loop uses (``_kernels.train.losses_into`` on :func:`kernel_data`: l2, and
    l4 where :func:`uses_fourth_moments`, from the moments; else the pass)."""
    require()
    W_e = np.ascontiguousarray(W_e, dtype=np.float64)
    k, d = W_e.shape
    grad_e = np.empty((1, k, d))
    value = np.empty(1)
    data = kernel_data(objective, transposed=False)
    _kt.losses_into(W_e.reshape((1, k, d)), grad_e, value, np.ones(1, dtype=np.bool_), data,
                    data.X, data.C, data.M4)
    return float(value[0]), grad_e[0]


def value_and_grads(objective, factors):
    """``objective.value_and_grads(factors)`` by the kernel of one compiled step."""
    factors = objective._checked(factors)
    ch = chain(objective, factors)
    args = (ch.pack(factors), ch.work, kernel_data(objective, ch.transposed))
    announce_compiling(_kt.objective_value_and_grads, args)
    value = _kt.objective_value_and_grads(*args)
    return float(value), ch.unkernel(ch.dW)


def optimizer_args(opt):
    """The kernel arguments of an optimizer, from its ``kernel_args``.

    Parameters
    ----------
    opt : Optimizer
        Built on the factors in the kernels' orientation.

    Returns
    -------
    OptimizerArgs
        The rule's code and hyperparameters.
    States
        One flat array per slot, the factors' state arrays one after the
        other (the layout of the flat factors); ``_UNUSED`` in a slot the
        rule leaves untouched. The optimizer's own state arrays become views
        of these, so that the kernel's updates show in ``opt.state``.
    """
    rule, hyper, names = opt.kernel_args()
    names = tuple(names) + (None,) * (_N_STATES - len(names))
    slots = []
    for key in names:
        if key is None:
            slots.append(_UNUSED)
            continue
        flat = np.empty(sum(int(s[key].size) for s in opt.state))
        off = 0
        for s in opt.state:
            a = s[key]
            view = flat[off:off + a.size].reshape(a.shape)
            view[...] = a
            s[key] = view
            off += a.size
        slots.append(flat)
    return (OptimizerArgs(code=_kt.CODES[rule], hyper=np.asarray(hyper, dtype=np.float64)),
            States(*slots))


def train_loop(objective, factors, optimizer, lrs, steps, record_every, divergence_factor,
               optimizer_options):
    """All ``steps`` steps of one run per learning rate, in one call of
    ``_kernels.train.train_loop``: the runs go in lockstep, and each is the
    same, bit for bit, as it would be alone.

    ``factors`` are checked, fresh arrays (the runs may reuse them), the
    start of every run. The loop works on the factors in the chain's
    orientation (the transposed network ``[W_N^T, ..., W_1^T]`` when
    ``d_0 < d_N``); each run's optimizer and its state are built on those
    arrays, which is the same computation since every update rule is
    elementwise.

    Returns
    -------
    list of tuple, one per lr, in the order of ``lrs``
        ``(losses, recorded, diverged, trained, seconds)``: ``losses`` (m,),
        ``recorded`` (m,) int64, ``diverged`` bool, ``trained`` the list of
        factors (d_j, d_{j-1}), and ``seconds``, the call's time shared
        equally between the runs.
    """
    from .optim import make_optimizer

    require()
    ch = chain(objective, factors)
    B = len(lrs)
    params = np.empty((B, ch.size))
    opt_args, slots = [], []
    for b, lr in enumerate(lrs):
        params[b] = ch.pack(factors)
        # The optimizer class validates the options and creates the initial state.
        opt = make_optimizer(optimizer, ch.views(params[b]), lr=lr, **optimizer_options)
        args, states = optimizer_args(opt)
        opt_args.append(args)
        slots.append(states)
    optimizer_batch = OptimizerArgs(code=opt_args[0].code,
                                    hyper=np.stack([a.hyper for a in opt_args]))
    states = States(*(np.stack([st[i] for st in slots]) for i in range(_N_STATES)))

    data = kernel_data(objective, ch.transposed)
    run = RunArgs(steps=int(steps), record_every=int(record_every),
                  divergence_factor=float(divergence_factor))
    size = int(steps) // int(record_every) + 2
    losses = np.empty((B, size))
    recorded = np.empty((B, size), dtype=np.int64)
    counts = np.zeros(B, dtype=np.int64)
    diverged = np.zeros(B, dtype=np.bool_)

    args = (params, states, ch.batch_workspace(B), data, optimizer_batch, run, losses,
            recorded, counts, diverged)
    announce_compiling(_kt.train_loop, args)
    start = time.perf_counter()
    # Overflow in a diverging run is expected, not an error (it can only warn
    # when numba's JIT is disabled and NumPy scalars do the maths).
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _kt.train_loop(*args)
    seconds = (time.perf_counter() - start) / B
    return [(losses[b, :counts[b]].copy(), recorded[b, :counts[b]].copy(), bool(diverged[b]),
             ch.unkernel(ch.views(params[b])), seconds) for b in range(B)]


#: What :func:`announce_compiling` prints on stderr before numba compiles the loop.
COMPILE_MESSAGE = ("deeplinear: compiling the numba kernels (once; about 10-15 s); "
                   "later runs load them from the cache ...")
# (dispatcher, argument types) already checked in this process, and whether
# the message was printed (a forked worker inherits both).
_CHECKED: set = set()
_ANNOUNCED = [False]


def _argument_types(dispatcher, args):
    """The numba types ``dispatcher`` would compile ``args`` for (None if unknown)."""
    if args is None or not hasattr(dispatcher, "typeof_pyval"):
        return None
    try:
        return tuple(dispatcher.typeof_pyval(a) for a in args)
    except Exception:  # numba internals changed
        return None


def needs_compiling(dispatcher, args=None) -> bool:
    """Whether calling ``dispatcher`` (on ``args``, if given) will compile it:
    numba's on-disk cache has no code for it (for the types of ``args``)
    that matches this numba version and the kernels' source.

    Cheap (one small index file read, no compilation). The index file holds
    the numba version and the source file's stamp (modification time and
    size), and is keyed by the argument types; numba's own loader ignores an
    index whose version or stamp differs, and so does this check. With
    ``args``, only code for their types counts: the loop has one
    specialisation per kind of ``Data`` (l2 moments, l4 moments or the lp
    pass). False
    when the JIT is disabled, when the code is already compiled or loaded in
    this process, or when the cache cannot be inspected (an unknown numba
    internals layout).
    """
    sig = _argument_types(dispatcher, args)
    overloads = getattr(dispatcher, "overloads", None)
    if overloads and (sig is None or sig in overloads):  # compiled or loaded here already
        return False
    cache = getattr(dispatcher, "_cache", None)
    index_file = getattr(cache, "_cache_file", None)
    if index_file is None:  # NUMBA_DISABLE_JIT=1 (a plain function), or no cache
        return False
    try:
        index = index_file._load_index()
    except Exception:  # numba internals changed: say nothing rather than fail
        return False
    if sig is None:
        return not index
    return not any(key[0] == sig for key in index)


def announce_compiling(dispatcher, args=None) -> None:
    """Print :data:`COMPILE_MESSAGE` on stderr, once per process, if calling
    ``dispatcher`` on ``args`` is about to compile it (see :func:`needs_compiling`).

    ``DEEPLINEAR_QUIET_COMPILE=1`` silences it."""
    if _ANNOUNCED[0]:
        return
    key = (dispatcher, _argument_types(dispatcher, args))
    if key in _CHECKED:
        return
    _CHECKED.add(key)
    if needs_compiling(dispatcher, args) and not os.environ.get("DEEPLINEAR_QUIET_COMPILE"):
        _ANNOUNCED[0] = True
        print(COMPILE_MESSAGE, file=sys.stderr, flush=True)
