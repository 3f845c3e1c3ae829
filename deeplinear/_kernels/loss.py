"""Kernels for loss values and their gradients with respect to ``W_e``.

``W_e`` has shape (k, d) = (d_N, d_0), data ``X`` (n, d), targets ``Y`` (n, k)
and predictions ``X @ W_e.T``. Both losses are means over all n*k entries.
"""

import numpy as np
from numba import njit

from .chain import matmul


@njit(cache=True)
def abs_pow(a, q):
    """a**q for a >= 0; small integer q by repeated multiplication (no pow call)."""
    if q == np.floor(q) and q <= 16.0:
        out = 1.0
        for _ in range(int(q)):
            out *= a
        return out
    return a**q


@njit(cache=True, fastmath={"reassoc"})
def lp_value_and_grad_e(W_e, X, Y, p, grad_e):
    """One pass over the data for L = mean(|X W_e^T - Y|^p).

    Row by row: the residual r_i = W_e x_i - y_i (k numbers), the loss term
    sum_a |r_ia|^p, and grad_e[a, :] += p |r_ia|^(p-1) sign(r_ia) x_i. No
    (n, d) or (n, k) temporary is formed. Fills ``grad_e`` (k, d) with dL/dW_e
    and returns L.
    """
    n, d = X.shape
    k = W_e.shape[0]
    grad_e[:, :] = 0.0
    r = np.empty(k)
    total = 0.0
    for i in range(n):
        for a in range(k):
            s = 0.0
            for c in range(d):
                s += W_e[a, c] * X[i, c]
            r[a] = s - Y[i, a]
        for a in range(k):
            m = abs(r[a])
            total += abs_pow(m, p)
            coef = p * abs_pow(m, p - 1.0)
            if r[a] < 0.0:
                coef = -coef
            for c in range(d):
                grad_e[a, c] += coef * X[i, c]
    scale = 1.0 / (n * k)
    for a in range(k):
        for c in range(d):
            grad_e[a, c] *= scale
    return total * scale


@njit(cache=True)
def l2_gram_value_and_grad_e(W_e, C, Bt, yy, grad_e):
    """L = mean((X W_e^T - Y)^2) from precomputed moments, at a cost free of n.

    With C = X^T X / n (d, d), Bt = Y^T X / n (k, d) and yy = ||Y||_F^2 / n:

        L       = (tr(W_e C W_e^T) - 2 <W_e, Bt> + yy) / k
        grad_e  = 2 (W_e C - Bt) / k

    Fills ``grad_e`` (k, d) and returns L. The expansion loses absolute
    accuracy of about eps * yy, so L is clipped at 0 from below.
    """
    k, d = W_e.shape
    matmul(W_e, C, grad_e)  # grad_e holds W_e C for now
    quad = 0.0
    lin = 0.0
    for a in range(k):
        for c in range(d):
            quad += grad_e[a, c] * W_e[a, c]
            lin += Bt[a, c] * W_e[a, c]
            grad_e[a, c] = 2.0 * (grad_e[a, c] - Bt[a, c]) / k
    return max((quad - 2.0 * lin + yy) / k, 0.0)
