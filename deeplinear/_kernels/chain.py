"""Kernels for chained matrix products and factor gradients.

Conventions: ``factors`` is a list ``[W_1, ..., W_N]`` of C-contiguous float64
arrays, ``W_j`` of shape ``(d_j, d_{j-1})`` (``factors[j - 1]`` holds ``W_j``).

The kernels work "from the output side": every intermediate has ``d_N`` rows.

    suffix[j]     = W_N ... W_{j+1}           shape (d_N, d_j),   suffix[N] = I
    g_prefix_t[j] = grad_e (W_{j-1} ... W_1)^T  shape (d_N, d_{j-1}), g_prefix_t[1] = grad_e
    dW[j]         = suffix[j]^T g_prefix_t[j]   shape (d_j, d_{j-1})

so one gradient evaluation costs about ``3 d_N sum_j d_j d_{j-1}``
multiply-adds. ``deeplinear._compiled.Chain`` runs the same kernels on the
transposed network when ``d_0 < d_N``, which is the "from the input side"
order. The NumPy twins are ``deeplinear.network.end_to_end`` and
``factor_gradients``.

The three small matmul kernels are written so that the innermost loop runs
along contiguous memory. ``matmul_bt`` is a dot-product loop; it is compiled
with ``fastmath={'reassoc'}`` so that LLVM may vectorise the sum, which
changes the rounding of that sum (not its value beyond ~1e-16 relative).
"""

import numpy as np
from numba import njit


@njit(cache=True)
def matmul(A, B, out):
    """out = A @ B, for A (m, p), B (p, q), out (m, q)."""
    m, p = A.shape
    out[:, :] = 0.0
    for i in range(m):
        for r in range(p):
            a = A[i, r]
            for c in range(B.shape[1]):
                out[i, c] += a * B[r, c]


@njit(cache=True, fastmath={"reassoc"})
def matmul_bt(A, B, out):
    """out = A @ B.T, for A (m, p), B (q, p), out (m, q)."""
    m, p = A.shape
    for i in range(m):
        for c in range(B.shape[0]):
            s = 0.0
            for r in range(p):
                s += A[i, r] * B[c, r]
            out[i, c] = s


@njit(cache=True)
def matmul_at(A, B, out):
    """out = A.T @ B, for A (p, m), B (p, q), out (m, q)."""
    p, m = A.shape
    out[:, :] = 0.0
    for r in range(p):
        for i in range(m):
            a = A[r, i]
            for c in range(B.shape[1]):
                out[i, c] += a * B[r, c]


@njit(cache=True)
def suffix_products(factors, suffix):
    """Fill ``suffix[j] = W_N ... W_{j+1}`` for j = N, ..., 0.

    ``suffix`` is a list of N + 1 preallocated arrays, ``suffix[j]`` of shape
    (d_N, d_j). On return ``suffix[N]`` is the identity and ``suffix[0]`` is
    the end-to-end matrix ``W_e``.
    """
    N = len(factors)
    top = suffix[N]
    top[:, :] = 0.0
    for i in range(top.shape[0]):
        top[i, i] = 1.0
    suffix[N - 1][:, :] = factors[N - 1]
    for j in range(N - 1, 0, -1):
        # suffix[j-1] = suffix[j] @ W_j, and W_j is factors[j - 1]
        matmul(suffix[j], factors[j - 1], suffix[j - 1])


@njit(cache=True)
def factor_gradients(factors, suffix, grad_e, g_prefix_t, dW):
    """Fill ``dW[j-1] = (W_N...W_{j+1})^T grad_e (W_{j-1}...W_1)^T`` for j = 1..N.

    ``suffix`` must already hold the suffix products of ``factors`` (see
    :func:`suffix_products`). ``g_prefix_t`` is a list of N workspaces,
    ``g_prefix_t[j-1]`` of shape (d_N, d_{j-1}); ``dW`` holds N outputs shaped
    like the factors.
    """
    N = len(factors)
    g_prefix_t[0][:, :] = grad_e
    for j in range(1, N):
        # g_prefix_t[j+1] = g_prefix_t[j] @ W_j^T   (1-based j, 0-based lists)
        matmul_bt(g_prefix_t[j - 1], factors[j - 1], g_prefix_t[j])
    for j in range(1, N + 1):
        # dW_j = suffix[j]^T @ g_prefix_t[j]
        matmul_at(suffix[j], g_prefix_t[j - 1], dW[j - 1])


@njit(cache=True)
def squared_norm_sum(factors):
    """sum_j ||W_j||_F^2."""
    s = 0.0
    for W in factors:
        for a in range(W.shape[0]):
            for b in range(W.shape[1]):
                s += W[a, b] * W[a, b]
    return s
