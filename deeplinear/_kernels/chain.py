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
along contiguous memory. ``matmul_bt`` is a dot-product loop: each entry is a
:func:`row_dot_bt`, whose order of summation (4 groups of 4 lanes) is
defined in plain Python and compiled, for C-contiguous rows, to an LLVM
intrinsic with ``<4 x double>`` accumulators that sums in that same order.
So it is vectorised, and gives the same bits under ``NUMBA_DISABLE_JIT=1``
(``tests/test_jit_bits.py``). Its order is the one LLVM chose when this
kernel was compiled with ``fastmath={'reassoc'}`` (numba 0.68, x86-64), so the
compiled results did not change when the explicit order replaced it.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload


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


@njit(cache=True, inline="always")
def _madd4(acc, A, i, B, c, r):
    """``acc[l] + A[i, r + l] * B[c, r + l]`` for the 4 lanes l (a 4-tuple)."""
    return (acc[0] + A[i, r] * B[c, r], acc[1] + A[i, r + 1] * B[c, r + 1],
            acc[2] + A[i, r + 2] * B[c, r + 2], acc[3] + A[i, r + 3] * B[c, r + 3])


@njit(cache=True, inline="always")
def _add4(u, v):
    """Lane by lane ``u + v`` (4-tuples)."""
    return (u[0] + v[0], u[1] + v[1], u[2] + v[2], u[3] + v[3])


@njit(cache=True, inline="always")
def _sum4(v):
    """The lanes of ``v`` summed as ``(v0 + v2) + (v1 + v3)``."""
    return (v[0] + v[2]) + (v[1] + v[3])


def row_dot_bt(A, i, B, c):
    """``A[i] . B[c]`` (p terms, p = ``A.shape[1]``) in the lane order of :func:`matmul_bt`.

    With the terms ``t_r = A[i, r] * B[c, r]``:

    1. if p >= 16, the first 16 floor(p / 16) terms go into 4 groups of 4
       lanes, ``t_r`` into group ``(r // 4) % 4`` and lane ``r % 4``, each lane
       summed in increasing r, starting from +0.0 (lane 0 of group 0) or
       -0.0 (the others); the groups are added lane by lane as
       ``g3 + (g2 + (g1 + g0))`` and the 4 lanes combined as
       ``(s0 + s2) + (s1 + s3)``, giving s (else s = +0.0);
    2. if 4 or more terms are left, the next ones, up to a multiple of 4,
       go into 4 lanes the same way, lane 0 starting from s and the others
       from -0.0, combined as ``(s0 + s2) + (s1 + s3)`` into s;
    3. the last p % 4 terms are added to s one by one.

    This function is that order in plain Python (what runs under
    ``NUMBA_DISABLE_JIT=1``, and what numba compiles for arrays that are not
    2-D C-contiguous float64); numba takes instead (``@overload``) an LLVM
    intrinsic with ``<4 x double>`` accumulators: the same sums, hence the
    same results bit for bit.

    Parameters
    ----------
    A : ndarray, shape (m, p)
    i : int
        Row of ``A``.
    B : ndarray, shape (q, p)
    c : int
        Row of ``B``.

    Returns
    -------
    float
    """
    p = A.shape[1]
    s = 0.0
    main = p - p % 16
    if main > 0:
        z = (-0.0, -0.0, -0.0, -0.0)
        g0, g1, g2, g3 = (0.0, -0.0, -0.0, -0.0), z, z, z
        for r in range(0, main, 16):
            g0 = _madd4(g0, A, i, B, c, r)
            g1 = _madd4(g1, A, i, B, c, r + 4)
            g2 = _madd4(g2, A, i, B, c, r + 8)
            g3 = _madd4(g3, A, i, B, c, r + 12)
        s = _sum4(_add4(g3, _add4(g2, _add4(g1, g0))))
    blocks = p - p % 4
    if blocks > main:
        g = (s, -0.0, -0.0, -0.0)
        for r in range(main, blocks, 4):
            g = _madd4(g, A, i, B, c, r)
        s = _sum4(g)
    for r in range(blocks, p):
        s += A[i, r] * B[c, r]
    return s


def _dot_bt_codegen(context, builder, sig, args):
    """LLVM code of :func:`row_dot_bt` for 2-D C-contiguous float64 ``A`` and ``B``."""
    A, i, B, c = args
    intp = context.get_value_type(types.intp)
    i32 = ir.IntType(32)
    f64 = ir.DoubleType()
    v4 = ir.VectorType(f64, 4)

    def row(at, index):
        arr = context.make_array(sig.args[at])(context, builder, args[at])
        width = cgutils.unpack_tuple(builder, arr.shape)[1]
        index = context.cast(builder, index, sig.args[at + 1], types.intp)
        return builder.gep(arr.data, [builder.mul(index, width)]), width

    a, p = row(0, i)
    b, _ = row(2, c)

    def const(value):
        return ir.Constant(intp, value)

    def term4(offset):  # A[i, offset:offset+4] * B[c, offset:offset+4]
        return builder.fmul(*[builder.load(builder.bitcast(builder.gep(x, [offset]),
                                                           v4.as_pointer()), align=8)
                              for x in (a, b)])

    def sum4(v):  # (v0 + v2) + (v1 + v3)
        lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, 2), [0, 1]))
        hi = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, 2), [2, 3]))
        pair = builder.fadd(lo, hi)
        return builder.fadd(builder.extract_element(pair, ir.Constant(i32, 0)),
                            builder.extract_element(pair, ir.Constant(i32, 1)))

    neg = ir.Constant(v4, [-0.0] * 4)
    s = cgutils.alloca_once_value(builder, ir.Constant(f64, 0.0))
    main = builder.and_(p, const(-16))
    with builder.if_then(builder.icmp_signed(">", main, const(0))):
        groups = [cgutils.alloca_once_value(builder, ir.Constant(v4, [0.0, -0.0, -0.0, -0.0]))]
        groups += [cgutils.alloca_once_value(builder, neg) for _ in range(3)]
        with cgutils.for_range_slice(builder, const(0), main, const(16)) as (r, _):
            for q, g in enumerate(groups):
                builder.store(builder.fadd(builder.load(g),
                                           term4(builder.add(r, const(4 * q)))), g)
        total = builder.load(groups[0])
        for g in groups[1:]:
            total = builder.fadd(builder.load(g), total)
        builder.store(sum4(total), s)
    blocks = builder.and_(p, const(-4))
    with builder.if_then(builder.icmp_signed(">", blocks, main)):
        g = cgutils.alloca_once_value(builder, builder.insert_element(
            neg, builder.load(s), ir.Constant(i32, 0)))
        with cgutils.for_range_slice(builder, main, blocks, const(4)) as (r, _):
            builder.store(builder.fadd(builder.load(g), term4(r)), g)
        builder.store(sum4(builder.load(g)), s)
    with cgutils.for_range_slice(builder, blocks, p, const(1)) as (r, _):
        t = builder.fmul(builder.load(builder.gep(a, [r])), builder.load(builder.gep(b, [r])))
        builder.store(builder.fadd(builder.load(s), t), s)
    return builder.load(s)


@intrinsic
def _dot_bt(typingctx, A, i, B, c):
    return types.float64(A, i, B, c), _dot_bt_codegen


_row_dot_bt_plain = njit(cache=True)(row_dot_bt)


@overload(row_dot_bt, inline="always")
def _row_dot_bt_jit(A, i, B, c):
    if all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C"
           and x.dtype == types.float64 for x in (A, B)):
        return lambda A, i, B, c: _dot_bt(A, i, B, c)
    return lambda A, i, B, c: _row_dot_bt_plain(A, i, B, c)


@njit(cache=True)
def matmul_bt(A, B, out):
    """out = A @ B.T, for A (m, p), B (q, p), out (m, q); each entry a
    :func:`row_dot_bt`."""
    for i in range(A.shape[0]):
        for c in range(B.shape[0]):
            out[i, c] = row_dot_bt(A, i, B, c)


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
