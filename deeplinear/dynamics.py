r"""The end-to-end update of Theorem 1 in Arora, Cohen & Hazan (2018).

If the factors start balanced (:math:`W_{j+1}^\top W_{j+1} = W_j W_j^\top`) and
gradient descent with a small learning rate :math:`\eta` (``lr``) trains them,
the end-to-end matrix :math:`W_e = W_N \cdots W_1` moves, up to
:math:`O(\eta^2)` per step, as

.. math::

    W_e \leftarrow (1 - \eta \lambda N)\, W_e
        - \eta \sum_{j=1}^{N} \left[W_e W_e^\top\right]^{\frac{j-1}{N}}
          \nabla L(W_e) \left[W_e^\top W_e\right]^{\frac{N-j}{N}}

and for a single output (:math:`W_e` a row vector) this is

.. math::

    W_e \leftarrow (1 - \eta \lambda N)\, W_e
        - \eta \lVert W_e \rVert^{2 - \frac{2}{N}}
          \left(\nabla L(W_e) + (N-1) \operatorname{Pr}_{W_e} \nabla L(W_e)\right)

where :math:`\operatorname{Pr}_{W_e} g = (g \cdot u)\, u` projects onto
:math:`u = W_e / \lVert W_e \rVert`: an adaptive learning rate
:math:`\eta \lVert W_e \rVert^{2-2/N}` and an extra push of :math:`N - 1`
times the gradient along the direction :math:`W_e` already points.

Here the :math:`\lambda` term (``weight_decay``) is the first-order effect of
weight decay :math:`\frac{\lambda}{2} \sum_j \lVert W_j \rVert_F^2` on the
factors.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan. On the Optimization of Deep Networks:
   Implicit Acceleration by Overparameterization. ICML 2018, Theorem 1 and
   Claim 1.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_matrix, check_depth, check_nonnegative, check_positive
from .linalg import psd_power  # noqa: F401  (for a student who writes Theorem 1 with it)

__all__ = ["e2e_update", "e2e_update_single_output"]


def _check(W_e, grad_e, depth, lr, weight_decay):
    W_e = as_matrix(W_e, "W_e")
    grad_e = as_matrix(grad_e, "grad_e")
    if grad_e.shape != W_e.shape:
        raise ValueError(f"grad_e: expected the shape of W_e {W_e.shape}, got {grad_e.shape}")
    depth = check_depth(depth)
    lr = check_positive(lr, "lr")
    weight_decay = check_nonnegative(weight_decay, "weight_decay")
    return W_e, grad_e, depth, lr, weight_decay


def e2e_update(W_e, grad_e, depth, lr, weight_decay=0.0, rtol=None) -> np.ndarray:
    r"""One step of the end-to-end dynamics (Theorem 1, discrete), any output size.

    The fractional powers come from one SVD :math:`W_e = U \operatorname{diag}(s) V^\top`:
    the eigenvectors of :math:`W_e W_e^\top` are :math:`U` with eigenvalues
    :math:`s^2`, and those of :math:`W_e^\top W_e` are :math:`V`. Singular
    values at or below :math:`\mathrm{rtol} \cdot s_{\max}` are exact zeros, so
    a rank-deficient :math:`W_e` (including :math:`W_e = 0`) gets exact powers.
    The SVD is the better-conditioned way to the same eigendecomposition:
    forming :math:`W_e W_e^\top` first would lose singular values below about
    :math:`\sqrt{\epsilon}\, s_{\max}`. Power 0 is the identity.

    Parameters
    ----------
    W_e : ndarray, shape (d_N, d_0)
    grad_e : ndarray, shape (d_N, d_0)
        Gradient of the loss at ``W_e``.
    depth : int
        N >= 1. Depth 1 is plain gradient descent.
    lr : float
        Learning rate > 0.
    weight_decay : float, default 0.0
    rtol : float, optional
        Relative tolerance for zero singular values; default
        ``max(d_N, d_0) * eps``, the rounding level of an SVD.

    Returns
    -------
    ndarray, shape (d_N, d_0)
        The next ``W_e``.
    """
    W_e, grad_e, N, lr, weight_decay = _check(W_e, grad_e, depth, lr, weight_decay)
    # BEGIN SOLUTION e2e_update: Theorem 1: W_e <- (1 - lr wd N) W_e - lr sum_{j=1..N} [W_e
    #   W_e^T]^((j-1)/N) grad_e [W_e^T W_e]^((N-j)/N); fractional powers by an SVD or psd_power
    shrink = 1.0 - lr * weight_decay * N
    if N == 1:
        return shrink * W_e - lr * grad_e
    if rtol is None:
        rtol = max(W_e.shape) * np.finfo(np.float64).eps
    U, s, Vt = np.linalg.svd(W_e, full_matrices=False)
    keep = s > rtol * (s[0] if s.size else 0.0)
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    step = np.zeros_like(W_e)
    for j in range(1, N + 1):
        a, b = (j - 1) / N, (N - j) / N  # powers of W_e W_e^T and W_e^T W_e
        left = grad_e if j == 1 else (U * s ** (2 * a)) @ (U.T @ grad_e)
        step += left if j == N else ((left @ Vt.T) * s ** (2 * b)) @ Vt
    return shrink * W_e - lr * step
    # END SOLUTION


def e2e_update_single_output(W_e, grad_e, depth, lr, weight_decay=0.0) -> np.ndarray:
    r"""One step of the end-to-end dynamics for a single output (Claim 1 of [1]).

    .. math::

        W_e \leftarrow (1 - \eta \lambda N)\, W_e
            - \eta \lVert W_e \rVert^{2 - \frac{2}{N}} \left(g + (N-1) (g \cdot u)\, u\right),
        \qquad u = \frac{W_e}{\lVert W_e \rVert}

    with :math:`\eta` = ``lr``, :math:`\lambda` = ``weight_decay``,
    :math:`N` = ``depth`` and :math:`g` = ``grad_e``. At :math:`W_e = 0` the
    factor :math:`\lVert W_e \rVert^{2-2/N}` is 0 for :math:`N \ge 2`, so the
    step is zero there (the gradient flow of a deep net started at zero
    never moves); for :math:`N = 1` it is plain gradient descent.

    Parameters
    ----------
    W_e : ndarray, shape (1, d_0)
    grad_e : ndarray, shape (1, d_0)
    depth : int
    lr : float
    weight_decay : float, default 0.0

    Returns
    -------
    ndarray, shape (1, d_0)
    """
    W_e, grad_e, N, lr, weight_decay = _check(W_e, grad_e, depth, lr, weight_decay)
    if W_e.shape[0] != 1:
        raise ValueError(
            f"W_e: expected a single output, shape (1, d_0), got {W_e.shape}; "
            "use e2e_update for several outputs"
        )
    # BEGIN SOLUTION e2e_update: Claim 1 (one output): W_e <- (1 - lr wd N) W_e - lr ||W_e||^(2-2/N) (g
    #   + (N-1) (g.u) u) with u = W_e / ||W_e||
    shrink = 1.0 - lr * weight_decay * N
    norm = float(np.linalg.norm(W_e))
    if N == 1:
        return shrink * W_e - lr * grad_e
    if norm == 0.0:
        return shrink * W_e
    u = W_e / norm
    projected = np.sum(grad_e * u) * u
    return shrink * W_e - lr * norm ** (2.0 - 2.0 / N) * (grad_e + (N - 1) * projected)
    # END SOLUTION
