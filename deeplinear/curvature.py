r"""Curvature: Hessians, Hessian-vector products, sharpness and effective learning rates.

Gradient descent with step :math:`\eta` (``lr``) on a quadratic is stable while
:math:`\eta \, \lambda_{\max}(H) < 2`; the top Hessian eigenvalue is the
*sharpness*. The loss
:math:`L(W_e) = \operatorname{mean} \lvert X W_e^\top - Y \rvert^p` over all
:math:`nk` entries has a Hessian that is block diagonal over the :math:`k`
outputs; vectors over :math:`W_e` are ``W_e.ravel()`` (row-major: entry
:math:`(a, i)` at ``a * d + i``).

With :math:`R = X W_e^\top - Y` (shape :math:`(n, k)`), :math:`G = \nabla L(W_e)`,
weight decay :math:`\lambda`, :math:`S_j = W_N \cdots W_{j+1}` and
:math:`P_j = W_{j-1} \cdots W_1`:

.. math::

    h &= \frac{\partial^2 L}{\partial \hat Y^2}
       = (p - 1) \frac{\partial L / \partial \hat Y}{R}
       = \frac{p (p-1) \lvert R \rvert^{p-2}}{nk}
       \quad \text{entrywise; } \frac{2}{nk} \text{ for l2, at every } W_e \\
    H_e &= \operatorname{blockdiag}_a \, X^\top \operatorname{diag}(h_{:a}) X
       \quad \text{shape } (kd, kd); \quad I_k \otimes \frac{2 X^\top X}{nk} \text{ for l2} \\
    \mathrm{d}G[V] &= \left(h \odot (X V^\top)\right)^\top X
       \quad (= H_e \operatorname{vec}(V), \text{ shape } (k, d)) \\
    \frac{\partial F}{\partial W_j} &= S_j^\top G P_j^\top + \lambda W_j \\
    H_F[V]_j &= \mathrm{d}S_j^\top G P_j^\top + S_j^\top \, \mathrm{d}G[\mathrm{d}W_e] \, P_j^\top
       + S_j^\top G \, \mathrm{d}P_j^\top + \lambda V_j \\
    M &= J J^\top = \sum_j (S_j S_j^\top) \otimes (P_j^\top P_j),
       \qquad \mathrm{d}W_e = -\eta M \operatorname{vec}(G) + O(\eta^2) \\
    M \operatorname{vec}(G) &= \operatorname{vec}\Big(\sum_j S_j (S_j^\top G P_j^\top) P_j\Big) \\
    M &= \lVert W_e \rVert^{2 - 2/N} \left(I + (N-1)\, u u^\top\right),
       \quad u = \frac{W_e}{\lVert W_e \rVert}
       \quad \text{(balanced factors, one output)}

:math:`\mathrm{d}S_j`, :math:`\mathrm{d}P_j` and :math:`\mathrm{d}W_e` are the
directional derivatives of the products along :math:`V = (V_1, \ldots, V_N)`.
Everything here is exact up to rounding except :func:`factor_hvp` with
``eps`` given (a centred difference of gradients, error
:math:`O(\mathrm{eps}^2)` from truncation plus
:math:`O(\epsilon_{\mathrm{machine}} / \mathrm{eps})` from rounding) and
:func:`sharpness` and :func:`sharpness_e`, whose power iteration converges at
the rate :math:`\lvert \lambda_2 / \lambda_1 \rvert` per iteration. Power
iteration finds the eigenvalue of largest *magnitude*: the sharpness wherever
the top eigenvalue dominates negative curvature (near minima and along
training runs; not at a saddle such as the origin of a deep net).

Every first derivative here comes from the library's own gradients, never
from a second copy of their formulas: :math:`\partial L / \partial \hat Y` and
:math:`G = \partial L / \partial W_e` from the loss
(:meth:`~deeplinear.losses.Loss.grad_pred`,
:meth:`~deeplinear.losses.Loss.value_and_grad_e`), and every product
:math:`S_j^\top (\cdot) P_j^\top` from :func:`~deeplinear.factor_gradients`.
In the course's student release those are the student's functions, and this
module runs on them. What is computed here is second order: :math:`h` from
:math:`\partial L / \partial \hat Y` (in ``deeplinear._loss_hessian``), and
the derivatives along :math:`V` of the products, by dual numbers written as
block matrices:

.. math::

    \begin{pmatrix} A & A' \\ 0 & A \end{pmatrix}
    \begin{pmatrix} B & B' \\ 0 & B \end{pmatrix}
    = \begin{pmatrix} AB & AB' + A'B \\ 0 & AB \end{pmatrix},

the product rule. So the blocks
:math:`\begin{pmatrix} W_j & V_j \\ 0 & W_j \end{pmatrix}` multiply to
:math:`\begin{pmatrix} W_e & \mathrm{d}W_e \\ 0 & W_e \end{pmatrix}`, and
:func:`~deeplinear.factor_gradients` of them with
:math:`\begin{pmatrix} G & 0 \\ \mathrm{d}G & G \end{pmatrix}` has
:math:`\mathrm{d}S_j^\top G P_j^\top + S_j^\top \mathrm{d}G P_j^\top + S_j^\top G \, \mathrm{d}P_j^\top`
as its lower-left block, shape :math:`(d_j, d_{j-1})`.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan. On the Optimization of Deep Networks:
   Implicit Acceleration by Overparameterization. ICML 2018, Theorem 1.
.. [2] J. Cohen et al. Gradient Descent on Neural Networks Typically Occurs at
   the Edge of Stability. ICLR 2021.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._loss_hessian import hessian_blocks, second_derivative
from ._validation import (as_array_list, as_factors, as_matrix, as_rng, check_depth,
                          check_positive)
from .linalg import psd_power
from .network import end_to_end, factor_gradients
from .objective import Objective

__all__ = ["flatten", "unflatten", "loss_hessian", "loss_hvp", "loss_sharpness", "factor_hvp",
           "factor_hessian", "end_to_end_preconditioner", "gauss_newton_sharpness", "Eigenpair",
           "power_iteration", "sharpness", "sharpness_e", "effective_lr", "balanced_sharpness"]


class Eigenpair(NamedTuple):
    """What power iteration returns: ``value, vector = sharpness(...)``.

    ``value`` is the last Rayleigh quotient ``v.Hv`` (v of unit norm); ``vector``
    is the last product ``H v``, shape (P,), along the top eigenvector but not
    normalised: pass it back as ``v0`` to warm-start the next call.
    """

    value: float
    vector: np.ndarray


def loss_hessian(W_e, X, Y, loss="l2") -> np.ndarray:
    """Hessian of the loss with respect to ``vec(W_e) = W_e.ravel()``.

    Parameters
    ----------
    W_e : ndarray, shape (k, d), or None
        Where to evaluate; None is allowed for l2, whose Hessian is constant.
    X : ndarray, shape (n, d)
    Y : ndarray, shape (n, k)
    loss : str or Loss, default "l2"

    Returns
    -------
    ndarray, shape (k d, k d)
        Block diagonal; for l2 ``kron(I_k, 2 X^T X / (n k))``.
    """
    blocks, repeat = hessian_blocks(W_e, X, Y, loss)
    blocks = blocks * repeat
    d = X.shape[1]
    H = np.zeros((d * len(blocks), d * len(blocks)))
    for a, B in enumerate(blocks):
        H[a * d:(a + 1) * d, a * d:(a + 1) * d] = B
    return H


def loss_hvp(W_e, V, X, Y, loss="l2") -> np.ndarray:
    """The Hessian of the loss at ``W_e`` applied to a direction ``V`` (k, d), in O(n k d).

    Returns ``dG``, shape (k, d): the derivative of ``dL/dW_e`` along V,
    ``loss_hessian(W_e, X, Y, loss) @ V.ravel()`` reshaped.
    """
    W_e, X, Y, loss, h = second_derivative(W_e, X, Y, loss, need_W_e=True)
    V = as_matrix(V, "V")
    if V.shape != W_e.shape:
        raise ValueError(f"V: expected the shape of W_e {W_e.shape}, got {V.shape}")
    return (h * (X @ V.T)).T @ X


def loss_sharpness(W_e, X, Y, loss="l2") -> float:
    """Top eigenvalue of :func:`loss_hessian`, exactly (``eigvalsh`` of each d x d block).

    Gradient descent on ``W_e`` (depth 1) is stable near ``W_e`` while
    ``lr < 2 / loss_sharpness``; for l2 that holds everywhere (W_e may be None).
    """
    blocks, _ = hessian_blocks(W_e, X, Y, loss)
    return float(max(np.linalg.eigvalsh(B).max() for B in blocks))


def _checked(objective, factors) -> list:
    """``factors`` checked for ``objective``, which must be an Objective."""
    if not isinstance(objective, Objective):
        raise ValueError(f"objective: expected a deeplinear.Objective, got "
                         f"{type(objective).__name__}")
    return objective.check_factors(factors)


def _as_direction(V, factors, name="V"):
    """V as a list shaped like the factors (from a list or a flat vector)."""
    size = sum(W.size for W in factors)
    if isinstance(V, np.ndarray) and V.ndim == 1:
        if V.size != size or V.dtype.kind != "f":
            raise ValueError(f"{name}: expected a float vector of {size} entries (all factors "
                             f"raveled), got dtype {V.dtype} and {V.size} entries")
        return unflatten(np.ascontiguousarray(V, dtype=np.float64), factors)
    V = as_array_list(V, name)
    if len(V) != len(factors):
        raise ValueError(f"{name}: expected {len(factors)} arrays (one per factor), got {len(V)}")
    out = [as_matrix(D, f"{name}[{j}]") for j, D in enumerate(V)]
    for j, (D, W) in enumerate(zip(out, factors)):
        if D.shape != W.shape:
            raise ValueError(f"{name}[{j}]: expected the shape of W_{j + 1} {W.shape}, "
                             f"got {D.shape}")
    return out


def flatten(arrays) -> np.ndarray:
    """The arrays (the factors, or per-factor directions) as one vector, factor by factor."""
    return np.concatenate([A.ravel() for A in arrays])


def unflatten(theta, like) -> list:
    """Views of the vector ``theta`` shaped like the arrays of ``like`` (inverse of flatten)."""
    ends = np.cumsum([W.size for W in like])
    return [theta[end - W.size:end].reshape(W.shape) for end, W in zip(ends, like)]


def factor_hvp(objective, factors, V, *, eps=None) -> list:
    """The Hessian of ``objective`` with respect to all factors, applied to V.

    Parameters
    ----------
    objective : Objective
        Data, loss and weight decay.
    factors : list of ndarray, shape (d_j, d_{j-1})
    V : list of ndarray shaped like ``factors``, or ndarray, shape (P,)
        The direction; a flat vector is the factors raveled and concatenated.
    eps : float, optional
        None (default): exact, by differentiating the factor gradient along V
        (the ``H_F[V]`` equation): one :func:`~deeplinear.factor_gradients`
        of the dual blocks ``[[W_j, V_j], [0, W_j]]`` (see the module notes),
        O(N) products of matrices twice the size of the factors.
        Given: the centred difference ``(grad(W + eps V) - grad(W - eps V)) / (2 eps)``
        of :meth:`~deeplinear.Objective.value_and_grads`; relative error about 1e-8 at
        eps = 1e-4 on unit-scale factors (zero truncation error at depth 1 on l2).

    Returns
    -------
    list of ndarray, shape (d_j, d_{j-1})
    """
    factors = _checked(objective, factors)
    V = _as_direction(V, factors)
    if eps is not None:
        eps = check_positive(eps, "eps")
        plus = objective.value_and_grads([W + eps * D for W, D in zip(factors, V)])[1]
        minus = objective.value_and_grads([W - eps * D for W, D in zip(factors, V)])[1]
        return [(a - b) / (2 * eps) for a, b in zip(plus, minus)]
    k, d = factors[-1].shape[0], factors[0].shape[1]
    dual = _dual(factors, V)
    both = end_to_end(dual, check=False)                # [[W_e, dW_e], [0, W_e]]
    W_e, dW_e = both[:k, :d], both[:k, d:]
    _, G = objective.value_and_grad_e(W_e)
    dG = loss_hvp(W_e, dW_e, objective.X, objective.Y, objective.loss)
    blocks = factor_gradients(dual, np.block([[G, np.zeros_like(G)], [dG, G]]))
    wd = objective.weight_decay
    return [B[W.shape[0]:, :W.shape[1]] + wd * D for B, W, D in zip(blocks, factors, V)]


def factor_hessian(objective, factors) -> np.ndarray:
    """The full Hessian over all factors raveled, shape (P, P): one exact
    :func:`factor_hvp` per unit vector, so only for small networks."""
    factors = _checked(objective, factors)
    size = sum(W.size for W in factors)
    return np.column_stack([flatten(factor_hvp(objective, factors, e)) for e in np.eye(size)])


def _dual(factors, directions):
    """The dual blocks ``[[W_j, D_j], [0, W_j]]``, shape (2 d_j, 2 d_{j-1}), one per factor.

    Their product is ``[[W_e, dW_e], [0, W_e]]`` with ``dW_e`` the derivative of
    ``W_N ... W_1`` along ``D = (D_1, ..., D_N)`` (the module notes).
    """
    return [np.block([[W, D], [np.zeros_like(W), W]]) for W, D in zip(factors, directions)]


def end_to_end_preconditioner(factors) -> np.ndarray:
    """``M = J J^T``, shape (k d, k d): one SGD step of lr on the factors moves
    ``vec(W_e)`` by ``-lr M vec(dL/dW_e)`` to first order. Depth 1 gives the
    identity; balanced single-output factors give Theorem 1's
    ``||W_e||^(2-2/N) (I + (N-1) u u^T)``.

    Column by column: for each unit matrix ``E`` (k, d), ``J^T E`` is
    :func:`~deeplinear.factor_gradients` ``(factors, E)`` and ``J`` maps
    those steps ``D_j`` to the move ``sum_j S_j D_j P_j`` of ``W_e`` (the
    upper-right block of the product of the dual blocks). M is symmetric; the
    mean with its transpose removes the rounding-level asymmetry of the columns.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})

    Returns
    -------
    ndarray, shape (k d, k d)
        Symmetric positive semi-definite, over ``W_e.ravel()``.
    """
    factors = as_factors(factors)
    k, d = factors[-1].shape[0], factors[0].shape[1]
    columns = []
    for E in np.eye(k * d):
        steps = factor_gradients(factors, E.reshape(k, d))
        columns.append(end_to_end(_dual(factors, steps), check=False)[:k, d:].ravel())
    M = np.column_stack(columns)
    return 0.5 * (M + M.T)


def gauss_newton_sharpness(objective, factors) -> float:
    """Top eigenvalue of the Gauss-Newton part ``J^T H_e J + wd I`` of the factor
    Hessian, as ``lambda_max(H_e^(1/2) M H_e^(1/2)) + wd`` (exact). It equals the
    sharpness where ``dL/dW_e = 0``; ``2 /`` it is the largest stable lr of the
    linearised step ``W_e <- W_e - lr M grad`` at these factors."""
    factors = _checked(objective, factors)
    root = psd_power(loss_hessian(end_to_end(factors), objective.X, objective.Y,
                                  objective.loss), 0.5)
    top = np.linalg.eigvalsh(root @ end_to_end_preconditioner(factors) @ root).max()
    return float(top) + objective.weight_decay


def power_iteration(matvec, v0, *, iters=100, tol=None) -> Eigenpair:
    """Power iteration: ``v <- H v / ||H v||`` with ``H v = matvec(v)``.

    Parameters
    ----------
    matvec : callable, ndarray (P,) -> ndarray (P,)
        A symmetric linear map.
    v0 : ndarray, shape (P,)
        Start (any nonzero vector; normalised first).
    iters : int, default 100
        The most iterations.
    tol : float, optional
        Stop once the Rayleigh quotient changes by at most ``tol * |value|``;
        None (default) runs all ``iters``, so the cost is fixed.

    Returns
    -------
    Eigenpair
        The eigenvalue of largest magnitude, and the last ``H v``.
    """
    iters = check_depth(iters, "iters")
    if tol is not None:
        tol = check_positive(tol, "tol")
    v = np.asarray(v0, dtype=np.float64)
    if v.ndim != 1 or not np.all(np.isfinite(v)) or not np.any(v):
        raise ValueError("v0: expected a finite, nonzero 1-D vector")
    lam = 0.0
    for _ in range(iters):
        v = v / np.linalg.norm(v)
        hv = matvec(v)
        previous, lam, v = lam, float(v @ hv), hv
        if tol is not None and abs(lam - previous) <= tol * abs(lam):
            break
    return Eigenpair(lam, v)


def _start(v0, size, rng):
    if v0 is None:
        return as_rng(rng).standard_normal(size)
    v0 = np.asarray(v0)
    if v0.shape != (size,):
        raise ValueError(f"v0: expected shape ({size},), got {v0.shape}")
    return v0


def sharpness(objective, factors, *, v0=None, iters=100, tol=None, eps=None,
              rng=None) -> Eigenpair:
    """Sharpness of ``objective`` with respect to all factors, by power iteration on
    :func:`factor_hvp` (exact, or the centred difference with ``eps`` given).

    ``v0`` (shape (P,), the factors raveled) warm-starts it, e.g. from the
    previous step of a run; without it the start is ``standard_normal(P)`` of
    ``rng`` (an int seed, None or a Generator). ``iters`` and ``tol`` as in
    :func:`power_iteration`. Depth 1 (``[W_e]``) gives the end-to-end sharpness.
    """
    factors = _checked(objective, factors)
    v = _start(v0, sum(W.size for W in factors), rng)
    return power_iteration(lambda u: flatten(factor_hvp(objective, factors, u, eps=eps)),
                           v, iters=iters, tol=tol)


def sharpness_e(W_e, X, Y, loss="l2", *, v0=None, iters=100, tol=None, rng=None) -> Eigenpair:
    """Top eigenvalue of the loss Hessian in ``W_e`` by power iteration on
    :func:`loss_hvp`, never forming the (k d, k d) matrix; compare :func:`loss_sharpness`."""
    W_e = as_matrix(W_e, "W_e")
    v = _start(v0, W_e.size, rng)
    return power_iteration(lambda u: loss_hvp(W_e, u.reshape(W_e.shape), X, Y, loss).ravel(),
                           v, iters=iters, tol=tol)


def _single_output_norm(W_e, depth):
    W_e = as_matrix(W_e, "W_e")
    if W_e.shape[0] != 1:
        raise ValueError(f"W_e: expected a single output, shape (1, d_0), got {W_e.shape}")
    return float(np.linalg.norm(W_e)), check_depth(depth)


def effective_lr(lr, W_e, depth) -> float:
    """Theorem 1's adaptive learning rate ``lr ||W_e||^(2-2/N)`` (single output;
    N times that along ``W_e`` itself). W_e: ndarray, shape (1, d_0)."""
    lr = check_positive(lr, "lr")
    norm, N = _single_output_norm(W_e, depth)
    return lr * norm ** (2 - 2 / N)


def balanced_sharpness(W_e, depth, sharpness_e, lr=1.0) -> float:
    """The balanced-factor estimate ``lr * sharpness_e * ||W_e||^(2-2/N)``.

    With ``lr = 1``: the factors' sharpness predicted from the end-to-end one
    (:func:`loss_sharpness`) by Theorem 1's preconditioner, off the ``u``
    direction, which can add up to a factor N; with the run's lr: the number to
    compare with 2. Exact for depth 1; ignores any imbalance of the factors.
    """
    if isinstance(sharpness_e, bool) or not isinstance(sharpness_e, numbers.Real):
        raise ValueError(f"sharpness_e: expected a real number, got {sharpness_e!r}")
    lr = check_positive(lr, "lr")
    norm, N = _single_output_norm(W_e, depth)
    return lr * float(sharpness_e) * norm ** (2 - 2 / N)
