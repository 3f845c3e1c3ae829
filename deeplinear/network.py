"""The chain rule of a deep linear network: the end-to-end matrix, the factor
gradients and balancedness.

A depth-N linear network is a list of factors ``[W_1, ..., W_N]`` with
``W_j`` of shape ``(d_j, d_{j-1})``. It computes ``x -> W_e x`` with the
end-to-end matrix ``W_e = W_N ... W_1`` of shape ``(d_N, d_0)``; on a data
matrix ``X`` of shape ``(n, d_0)`` the predictions are ``X @ W_e.T``.

Note for readers of Levy & Wang (2024): the report writes the product and the
balance condition in the opposite order (``W_1 ... W_N``). Here ``W_1`` is
the layer that touches the input.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan. On the Optimization of Deep Networks:
   Implicit Acceleration by Overparameterization. ICML 2018.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_factors, as_matrix

__all__ = ["end_to_end", "factor_gradients", "balancedness"]


def end_to_end(factors, *, check=True) -> np.ndarray:
    """End-to-end matrix of a linear network.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        ``[W_1, ..., W_N]``.
    check : bool, default True
        Check ``factors`` first (finite 2-D float arrays whose shapes chain).
        ``False`` skips the checks, for factors known to chain, such as a
        training loop's, which a diverging run can make non-finite.

    Returns
    -------
    W_e : ndarray, shape (d_N, d_0)
        ``W_N @ ... @ W_1`` (a new array, also for depth 1).
    """
    if check:
        factors = as_factors(factors)
    W_e = factors[0].copy()
    for W in factors[1:]:
        W_e = W @ W_e
    return W_e


def factor_gradients(factors, grad_e) -> list[np.ndarray]:
    r"""Gradients of a loss with respect to every factor, in O(N) products.

    .. math::

        \frac{\partial L}{\partial W_j}
            = (W_N \cdots W_{j+1})^\top \, \nabla L(W_e) \, (W_{j-1} \cdots W_1)^\top,
        \qquad j = 1, \ldots, N

    with empty products equal to the identity. Writing the suffix product
    :math:`S_j = W_N \cdots W_{j+1}`, shape :math:`(d_N, d_j)`, and the prefix
    product :math:`P_j = W_{j-1} \cdots W_1`, shape :math:`(d_{j-1}, d_0)`,
    every suffix comes from the one above it (:math:`S_{j-1} = S_j W_j`, from
    the top) and every prefix from the one below (:math:`P_{j+1} = W_j P_j`,
    from the bottom): :math:`2N` products instead of the :math:`N^2` of the
    formula taken literally. Each :math:`S_j^\top \nabla L(W_e) P_j^\top` is
    multiplied in the cheaper of its two orders (``np.linalg.multi_dot``).

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        ``[W_1, ..., W_N]``.
    grad_e : ndarray, shape (d_N, d_0)
        Gradient of the loss with respect to the end-to-end matrix.

    Returns
    -------
    list of ndarray, shape (d_j, d_{j-1})
        ``[dL/dW_1, ..., dL/dW_N]`` (new arrays).
    """
    factors = as_factors(factors)
    dims = [factors[0].shape[1]] + [W.shape[0] for W in factors]
    grad_e = as_matrix(grad_e, "grad_e")
    if grad_e.shape != (dims[-1], dims[0]):
        raise ValueError(
            f"grad_e: expected shape (d_N, d_0) = {(dims[-1], dims[0])}, got {grad_e.shape}"
        )
    # BEGIN SOLUTION factor_gradients: dL/dW_j = (W_N ... W_{j+1})^T grad_e (W_{j-1} ... W_1)^T for
    #   j = 1..N (empty products are identities)
    N = len(factors)
    d_0, d_N = grad_e.shape[1], grad_e.shape[0]
    # suffix[j] = W_N ... W_{j+1}, shape (d_N, d_j), from the top: suffix[N] = I.
    # factors[j - 1] holds W_j.
    suffix = [None] * (N + 1)
    suffix[N] = np.eye(d_N)
    for j in range(N, 1, -1):
        suffix[j - 1] = suffix[j] @ factors[j - 1]
    # prefix = W_{j-1} ... W_1, shape (d_{j-1}, d_0), from the bottom: I for j = 1.
    prefix = np.eye(d_0)
    dW = []
    for j in range(1, N + 1):
        dW.append(np.linalg.multi_dot([suffix[j].T, grad_e, prefix.T]))
        if j < N:
            prefix = factors[j - 1] @ prefix
    return dW
    # END SOLUTION


def balancedness(factors, *, check=True) -> float:
    r"""How far the factors are from balanced.

    .. math::

        \max_{j = 1, \ldots, N-1} \left\lVert W_{j+1}^\top W_{j+1} - W_j W_j^\top \right\rVert_F

    Zero for a balanced network, and 0.0 for depth 1. Under gradient flow
    without weight decay each difference is conserved; gradient descent
    moves it by :math:`O(\eta^2)` per step of learning rate :math:`\eta`.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
    check : bool, default True
        Check ``factors`` first, as in :func:`end_to_end`; ``False`` skips the checks.

    Returns
    -------
    float
    """
    if check:
        factors = as_factors(factors)
    worst = 0.0
    for W_j, W_next in zip(factors[:-1], factors[1:]):
        worst = max(worst, float(np.linalg.norm(W_next.T @ W_next - W_j @ W_j.T)))
    return worst
