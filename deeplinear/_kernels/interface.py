"""The named tuples that the compiled training loop takes.

``deeplinear._compiled`` and its helper modules build these, once per call of
the loop (``Workspace`` once per architecture), and the kernels of ``train``
read them by field name. numba types a ``typing.NamedTuple`` argument field
by field (a heterogeneous named tuple) and caches the functions that take
one (``cache=True``); with ``NUMBA_DISABLE_JIT=1`` they are plain Python
tuples. This module imports
neither numba nor the rest of deeplinear.

Every per-factor quantity (the factors, their gradients, the optimizer state,
the chain products) is one flat float64 array, the blocks one after the
other, and ``Workspace.kd`` describes the layout (see ``chain``): the kernels
take 2-D views of the blocks, so every field has the same numba type at
every depth. That makes one compiled specialisation for all depths and all
optimizers per kind of ``Data`` (l2 moments, l4 moments or the lp pass),
cached on disk and loaded in a fraction of a second; typed Lists of arrays cost
about 1 ms each to build from Python and their dispatch could not be cached.

Conventions (see ``chain``): the factors the kernels work on are
``[W_1, ..., W_N]``, or ``[W_N^T, ..., W_1^T]`` when ``deeplinear._compiled``
runs the transposed network (``d_0 < d_N``). ``k = min(d_0, d_N)`` is the
number of rows every chain intermediate has, and ``kd = [kd_0, ..., kd_N]``
the dimensions in the kernels' orientation (``dims`` or ``dims[::-1]``);
``P = sum_j kd_j kd_{j-1}`` is the number of parameters.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Workspace", "Data", "States", "Hyper", "OptimizerArgs", "RunArgs"]


class Workspace(NamedTuple):
    """Preallocated buffers of one architecture, written by every evaluation.

    The shapes below are one run's. ``train.train_loop`` takes a batch
    workspace for its B runs: every field but ``kd`` with a leading axis of
    length B (``Chain.batch_workspace`` in ``deeplinear._chain``), and
    ``train.run_workspace`` gives run b's ``Workspace`` of views.

    Attributes
    ----------
    kd : ndarray of int64, shape (N + 1,)
        The dimensions in the kernels' orientation: the layout of the flat arrays.
    suffix : ndarray, shape (k * sum_{j=0..N} kd_j,)
        Stack of N + 1 blocks, block j of shape (k, kd_j): the product of the
        kernels' factors above the j-th (``W_N ... W_{j+1}`` when not
        transposed); block 0 is the end-to-end matrix in the kernels' orientation.
    g_prefix_t : ndarray, shape (k * sum_{j=0..N-1} kd_j,)
        Stack of N blocks of shape (k, kd_j): the loss gradient pushed through the prefixes.
    dW : ndarray, shape (P,)
        The factor gradients (of the objective, weight decay included), in
        the layout of the flat factors.
    W_e : ndarray, shape (d_N, d_0)
        The end-to-end matrix in our orientation, for the loss kernels.
    grad_e : ndarray, shape (d_N, d_0)
        ``dL/dW_e``, written by the loss kernels.
    grad_k : ndarray, shape (k, kd_0)
        ``grad_e`` in the kernels' orientation (``grad_e.T`` if transposed).
    """

    kd: np.ndarray
    suffix: np.ndarray
    g_prefix_t: np.ndarray
    dW: np.ndarray
    W_e: np.ndarray
    grad_e: np.ndarray
    grad_k: np.ndarray


class Data(NamedTuple):
    """What the objective kernel reads: data, loss and weight decay.

    Attributes
    ----------
    X : ndarray, shape (n, d_0), or None
        The data of the lp pass (``loss.lp_batch_value_and_grad_e``), or
        None when the loss is computed from moments.
    Y : ndarray, shape (n, d_N), or None
        The targets, as ``X``.
    C : ndarray, shape (d_0, d_0), or None
        For l2, ``X^T X / n`` (see ``loss.l2_gram_value_and_grad_e``); else None.
    Bt : ndarray, shape (d_N, d_0), or None
        For l2, ``Y^T X / n``; else None.
    yy : float
        For l2, ``||Y||_F^2 / n``; else 0.
    M4 : ndarray, shape (T, d_0 + 1), or None
        For l4 with one output and few features, the fourth moments of
        ``[x, y]`` (``loss.fourth_moments``); else None.
    M4_rows : ndarray of int64, shape (d_0 + 1,) * 3, or None
        The row of ``M4`` of each triple of indices; with ``M4``.
    omega_rows, omega_cols : ndarray of int64, shape (m,), or None
        For matrix completion, the observed entries ``(a, b)`` of ``W_e``
        (``loss.completion_value_and_grad_e``); else None.
    omega_values : ndarray, shape (m,), or None
        The target at those entries; with ``omega_rows``.

    p : float
        Exponent of the loss (2 for l2, 4 for l4).
    weight_decay : float
        lambda of the penalty ``lambda/2 sum_j ||W_j||_F^2``.
    transposed : bool
        Whether the factors are the transposed network's.

    Notes
    -----
    Exactly one of ``X``, ``C``, ``M4`` and ``omega_rows`` is an array: four
    kinds of ``Data``, the l2 moments (``C``), the l4 moments (``M4``), the
    lp pass (``X``, read-only: the ``Objective``'s own copy) and the
    observed entries of a completion problem (``omega_rows``; ``p`` is 2).
    They have different numba types, so each compiles only its own loss form
    (``train.losses_into``): one cached specialisation of the loop per kind,
    each serving every depth and optimizer. ``kernel_data`` in
    ``deeplinear._kernel_data`` chooses the kind.
    """

    X: np.ndarray
    Y: np.ndarray
    C: np.ndarray
    Bt: np.ndarray
    yy: float
    p: float
    weight_decay: float
    transposed: bool
    M4: np.ndarray
    M4_rows: np.ndarray
    omega_rows: np.ndarray
    omega_cols: np.ndarray
    omega_values: np.ndarray


class States(NamedTuple):
    """The optimizers' state arrays, by their keys in ``Optimizer.state[j]``.

    The fields are the union of the optimizers' ``kernel_state``, which are
    the names of the state parameters of the kernels in ``optim``; each
    kernel is passed its own by name. Every field is an array of shape
    (B, P): row b holds run b's state arrays of all the factors, one after
    the other (the layout of the flat factors), updated in place. A field
    the rule (with its options) never touches is an empty (B, 0) array:
    the others' states, SGD's momentum buffer without momentum, AMSGrad's
    ``max_exp_avg_sq`` without AMSGrad.

    Attributes
    ----------
    momentum_buffer : ndarray
        SGD.
    exp_avg, exp_avg_sq, max_exp_avg_sq : ndarray
        Adam.
    sum : ndarray
        AdaGrad.
    square_avg, acc_delta : ndarray
        AdaDelta.
    """

    momentum_buffer: np.ndarray
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray
    sum: np.ndarray
    square_avg: np.ndarray
    acc_delta: np.ndarray


class Hyper(NamedTuple):
    """The optimizers' hyperparameters, by the names the kernels take them under.

    The fields are the union of the optimizers' ``kernel_fields`` and those
    of the end-to-end rule (``deeplinear._compiled.EndToEndRule``), which
    are the names of the hyperparameters of the kernels in ``optim``; each
    kernel is passed its own by name. Every field is a float64 array of
    shape (B,): entry b is run b's value, flags as 0.0 / 1.0, and 0.0 in a
    field the rule does not take.

    Attributes
    ----------
    lr : ndarray
        Every rule's.
    weight_decay : ndarray
        Every rule's own torch-style L2 term (0 from ``deeplinear.train``,
        whose weight decay is the objective's).
    eps : ndarray
        Adam, AdaGrad, AdaDelta.
    momentum, dampening, nesterov : ndarray
        SGD.
    beta1, beta2, amsgrad : ndarray
        Adam.
    lr_decay : ndarray
        AdaGrad.
    rho : ndarray
        AdaDelta.
    depth : ndarray
        The end-to-end update (``optim.e2e_update``): N, an integer as a float.
    """

    lr: np.ndarray
    weight_decay: np.ndarray
    eps: np.ndarray
    momentum: np.ndarray
    dampening: np.ndarray
    nesterov: np.ndarray
    beta1: np.ndarray
    beta2: np.ndarray
    amsgrad: np.ndarray
    lr_decay: np.ndarray
    rho: np.ndarray
    depth: np.ndarray


class OptimizerArgs(NamedTuple):
    """The update rule and the hyperparameters of B runs.

    Attributes
    ----------
    code : int
        One of ``train.SGD, ADAM, ADAGRAD, ADADELTA, E2E`` (``train.CODES`` by name).
    hyper : Hyper
    """

    code: int
    hyper: Hyper


class RunArgs(NamedTuple):
    """How long to run and when to record.

    Attributes
    ----------
    steps : int
        Number of steps, >= 1.
    record_every : int
        Record the objective every this many steps, >= 1.
    divergence_factor : float
        Stop as diverged above this times the initial objective.
    """

    steps: int
    record_every: int
    divergence_factor: float
