"""Kernels for chained matrix products and factor gradients.

Conventions: the factors ``[W_1, ..., W_N]``, ``W_j`` of shape ``(d_j, d_{j-1})``,
are stored one after the other, row-major, in one flat float64 array
``params`` (``W_j`` at offset ``sum_{i<j} d_i d_{i-1}``), and ``kd`` (int64,
shape (N + 1,)) holds ``[d_0, ..., d_N]``. The other per-factor buffers are
flat the same way: ``dW`` has the layout of ``params``, and the stacks
``suffix`` and ``g_prefix_t`` hold blocks of shape ``(d_N, d_j)`` one after
the other (:func:`stack_block`). :func:`factor` and :func:`stack_block` return
2-D C-contiguous views, so the matmul kernels below see the same array types
for every depth, and one compiled specialisation serves all depths (a tuple
or typed List of arrays would need one per depth, or could not be cached).

The kernels work "from the output side": every intermediate has ``d_N`` rows.

    suffix[j]     = W_N ... W_{j+1}           shape (d_N, d_j),   suffix[N] = I
    g_prefix_t[j] = grad_e (W_{j-1} ... W_1)^T  shape (d_N, d_{j-1}), g_prefix_t[1] = grad_e
    dW[j]         = suffix[j]^T g_prefix_t[j]   shape (d_j, d_{j-1})

so one gradient evaluation costs about ``3 d_N sum_j d_j d_{j-1}``
multiply-adds. When ``d_0 < d_N`` the compiled loop runs the same kernels on
the transposed network (``deeplinear._chain.Chain`` chooses), which is the
"from the input side" order. The NumPy twins are ``deeplinear.network.end_to_end`` and
``factor_gradients``.

The three small matmul kernels are written so that the innermost loop runs
along contiguous memory. ``matmul_bt`` is a dot-product loop; it is compiled
with ``fastmath={'reassoc'}`` so that LLVM may vectorise the sum, which
changes the rounding of that sum (not its value beyond ~1e-16 relative).
"""

from numba import njit


@njit(cache=True)
def fill(out, value):
    """out[:, :] = value, as a loop (a slice assignment costs numba far more to compile)."""
    for i in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[i, c] = value


@njit(cache=True)
def copy(out, A, transpose):
    """out[:, :] = A.T if transpose else A, as a loop."""
    for i in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[i, c] = A[c, i] if transpose else A[i, c]


@njit(cache=True)
def matmul(A, B, out):
    """out = A @ B, for A (m, p), B (p, q), out (m, q)."""
    m, p = A.shape
    fill(out, 0.0)
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
    fill(out, 0.0)
    for r in range(p):
        for i in range(m):
            a = A[r, i]
            for c in range(B.shape[1]):
                out[i, c] += a * B[r, c]


@njit(cache=True)
def factor(params, kd, j):
    """View of the (j+1)-th factor (0-based ``j``) of ``params``: shape (kd[j+1], kd[j])."""
    off = 0
    for i in range(j):
        off += kd[i + 1] * kd[i]
    return params[off:off + kd[j + 1] * kd[j]].reshape(kd[j + 1], kd[j])


@njit(cache=True)
def stack_block(stack, kd, j):
    """View of block ``j`` of a stack (``suffix`` or ``g_prefix_t``): shape (kd[N], kd[j])."""
    k = kd[kd.size - 1]
    off = 0
    for i in range(j):
        off += kd[i]
    return stack[k * off:k * (off + kd[j])].reshape(k, kd[j])


@njit(cache=True)
def suffix_products(params, kd, suffix):
    """Fill ``suffix[j] = W_N ... W_{j+1}`` for j = N, ..., 0.

    ``suffix`` is a flat stack of N + 1 blocks, block j of shape (d_N, d_j).
    On return block N is the identity and block 0 is the end-to-end matrix
    ``W_e``.
    """
    N = kd.size - 1
    top = stack_block(suffix, kd, N)
    fill(top, 0.0)
    for i in range(top.shape[0]):
        top[i, i] = 1.0
    copy(stack_block(suffix, kd, N - 1), factor(params, kd, N - 1), False)
    for j in range(N - 1, 0, -1):
        # suffix[j-1] = suffix[j] @ W_j, and W_j is factor j - 1
        matmul(stack_block(suffix, kd, j), factor(params, kd, j - 1),
               stack_block(suffix, kd, j - 1))


@njit(cache=True)
def factor_gradients(params, kd, suffix, grad_e, g_prefix_t, dW):
    """Fill ``dW_j = (W_N...W_{j+1})^T grad_e (W_{j-1}...W_1)^T`` for j = 1..N.

    ``suffix`` must already hold the suffix products of ``params`` (see
    :func:`suffix_products`). ``g_prefix_t`` is a flat stack of N workspaces,
    block j-1 of shape (d_N, d_{j-1}); ``dW`` (the layout of ``params``)
    receives the gradients.
    """
    N = kd.size - 1
    copy(stack_block(g_prefix_t, kd, 0), grad_e, False)
    for j in range(1, N):
        # g_prefix_t[j+1] = g_prefix_t[j] @ W_j^T   (1-based j, 0-based blocks)
        matmul_bt(stack_block(g_prefix_t, kd, j - 1), factor(params, kd, j - 1),
                  stack_block(g_prefix_t, kd, j))
    for j in range(1, N + 1):
        # dW_j = suffix[j]^T @ g_prefix_t[j]
        matmul_at(stack_block(suffix, kd, j), stack_block(g_prefix_t, kd, j - 1),
                  factor(dW, kd, j - 1))


@njit(cache=True)
def squared_norm_sum(params):
    """sum_j ||W_j||_F^2, summed factor by factor, row by row (the order of ``params``)."""
    s = 0.0
    for i in range(params.size):
        s += params[i] * params[i]
    return s
