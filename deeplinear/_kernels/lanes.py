"""Dot products and row updates in one fixed summation order, for the lp pass.

The lp pass (``loss.lp_batch_value_and_grad_e``) computes ``W[a] . X[i]``
and ``G[a] += coef X[i]`` for every row of the data. Its results must be the
same bit for bit whatever the alignment of the arrays, and with or without
``NUMBA_DISABLE_JIT``, so every sum here is taken in one order, with no
``fastmath`` reassociation and no fused multiply-add:

- :func:`row_dot`, ``sum_c W[a, c] X[i, c]`` over d terms, has 4 lanes
  (:data:`LANES`): over the blocks of 4 (c < 4 floor(d/4)), lane j sums the
  terms with ``c % 4 == j`` in increasing c, starting from 0.0; if d is not
  a multiple of 4, the last 4 elements (c = d - 4 + j, into lane j) make one
  more block, where the lanes already summed (and, for d < 4, those before
  the row) add +0.0. The lanes are combined as ``(s0 + s2) + (s1 + s3)``.
  :func:`rows_dot4` is this for the rows i, ..., i + 3, and
  :func:`rows_dot4x2` for two rows ``a0``, ``a1`` of ``W`` (eight results);
- :func:`rows_axpy`, ``G[a, c] = (...(G[a, c] + coefs[0] X[i, c]) +
  coefs[1] X[i + 1, c]) ...``, entry by entry (one product and one sum per
  row); :func:`rows_axpy2` is this for two rows of ``G``, the first half of
  ``coefs`` for ``a0`` and the second half for ``a1``.

Each operation is a Python function, its plain version: that is what runs
under ``NUMBA_DISABLE_JIT=1``, and what numba compiles for arrays that are not
2-D C-contiguous float64 (or coefficients that are not a tuple of floats).
numba does not vectorize a reduction without reassociating it, so for
C-contiguous float64 arrays numba takes instead (``@overload``) an LLVM
intrinsic with an explicit ``<4 x double>`` accumulator per dot product: the
same lanes and the same sums, hence the same results bit for bit. Its grouped
forms share the loads of ``X`` (and of ``W``) between their results; the
grouping changes no sum.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["LANES", "row_dot", "rows_axpy", "rows_axpy2", "rows_dot4", "rows_dot4x2"]

#: Partial sums of a dot product: one ``<4 x double>`` accumulator (the intrinsics assume 4).
LANES = 4


# --- the plain versions, the definition of the order ---

def row_dot(W, a, X, i):
    """``W[a] . X[i]`` in the 4-lane order of the module docstring.

    Parameters
    ----------
    W : ndarray, shape (k, d)
    a : int
        Row of ``W``.
    X : ndarray, shape (n, d)
    i : int
        Row of ``X``.

    Returns
    -------
    float
    """
    d = X.shape[1]
    s = [0.0] * LANES
    full = (d // LANES) * LANES
    for c in range(full):
        s[c % LANES] += W[a, c] * X[i, c]
    if full < d:  # the last LANES elements; those already summed add +0.0
        for j in range(LANES):
            c = d - LANES + j
            s[j] += W[a, c] * X[i, c] if c >= full else 0.0
    return (s[0] + s[2]) + (s[1] + s[3])


def rows_dot4(W, a, X, i):
    """``(W[a] . X[i], ..., W[a] . X[i + 3])``, each as :func:`row_dot`."""
    return (row_dot(W, a, X, i), row_dot(W, a, X, i + 1), row_dot(W, a, X, i + 2),
            row_dot(W, a, X, i + 3))


def rows_dot4x2(W, a0, a1, X, i):
    """:func:`rows_dot4` for the row ``a0`` of ``W``, then for ``a1`` (8 floats)."""
    return rows_dot4(W, a0, X, i) + rows_dot4(W, a1, X, i)


def rows_axpy(G, a, X, i, coefs):
    """``G[a] += coefs[0] X[i] + ... + coefs[m-1] X[i+m-1]``, summed in that order.

    Parameters
    ----------
    G : ndarray, shape (k, d)
        Row ``a`` is updated in place.
    a : int
    X : ndarray, shape (n, d)
    i : int
        First of the m = ``len(coefs)`` rows of ``X``.
    coefs : tuple of m floats
    """
    for c in range(X.shape[1]):
        acc = G[a, c]
        for r in range(len(coefs)):
            acc = acc + coefs[r] * X[i + r, c]
        G[a, c] = acc


def rows_axpy2(G, a0, a1, X, i, coefs):
    """:func:`rows_axpy` on ``G[a0]`` with the first half of ``coefs`` and on
    ``G[a1]`` (``a1 != a0``) with the second half, rows i, ..., i + m - 1 of
    ``X`` for both (``len(coefs) = 2 m``)."""
    m = len(coefs) // 2
    for c in range(X.shape[1]):
        for q in range(2):
            a = a1 if q else a0
            acc = G[a, c]
            for r in range(m):
                acc = acc + coefs[q * m + r] * X[i + r, c]
            G[a, c] = acc


# --- the intrinsics: the same sums with <4 x double> vectors ---

def _c_matrices(*arrays):
    return all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C"
               and a.dtype == types.float64 for a in arrays)


def _row_pointers(context, builder, sig, args, matrix_at, row_ats, offsets):
    """Pointers to rows ``args[row_at] + r`` (each row_at, each r in offsets)
    of the C matrix ``args[matrix_at]``, and its row length."""
    arr = context.make_array(sig.args[matrix_at])(context, builder, args[matrix_at])
    intp = context.get_value_type(types.intp)
    width = cgutils.unpack_tuple(builder, arr.shape)[1]
    pointers = []
    for row_at in row_ats:
        row = context.cast(builder, args[row_at], sig.args[row_at], types.intp)
        pointers += [builder.gep(arr.data, [builder.mul(builder.add(row, ir.Constant(intp, r)),
                                                        width)]) for r in offsets]
    return pointers, width


def _rows_dot_codegen(m, runs):
    """Code for ``(W, a_1, ..., a_runs, X, i) ->`` the dot products
    ``W[a_q] . X[i + r]`` for each run q and r < m, run by run: one
    ``<4 x double>`` accumulator per (run, row) over the blocks of 4; a last
    partial block is the vector of the row's last 4 elements (d >= 4), with
    the lanes already summed zeroed by a select, or, for d < 4, a vector
    filled lane by lane (never reading past the row). A float for one
    result, else a tuple."""
    def codegen(context, builder, sig, args):
        intp = context.get_value_type(types.intp)
        i32 = ir.IntType(32)
        v4 = ir.VectorType(ir.DoubleType(), 4)
        zero = ir.Constant(v4, [0.0] * 4)
        ws, _ = _row_pointers(context, builder, sig, args, 0, range(1, runs + 1), [0])
        xs, d = _row_pointers(context, builder, sig, args, runs + 1, [runs + 2], range(m))
        acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(m)]
               for _ in range(runs)]

        def load4(ptr, offset):
            return builder.load(builder.bitcast(builder.gep(ptr, [offset]), v4.as_pointer()),
                                align=8)

        def accumulate(wvs, xvs, keep=None):  # acc[q][r] += wvs[q] * xvs[r]
            for q in range(runs):
                for r in range(m):
                    prod = builder.fmul(wvs[q], xvs[r])
                    if keep is not None:
                        prod = builder.select(keep, prod, zero)
                    builder.store(builder.fadd(builder.load(acc[q][r]), prod), acc[q][r])

        four = ir.Constant(intp, LANES)
        blocks = builder.sdiv(d, four)
        with cgutils.for_range(builder, blocks) as loop:
            off = builder.mul(loop.index, four)
            accumulate([load4(w, off) for w in ws], [load4(x, off) for x in xs])
        full = builder.mul(blocks, four)
        last = builder.sub(d, four)  # element last + j goes to lane j
        with builder.if_then(builder.icmp_signed("<", full, d)):
            long_row = builder.icmp_signed(">=", last, ir.Constant(intp, 0))
            with builder.if_else(long_row) as (then, otherwise):
                with then:
                    keep = ir.Constant(ir.VectorType(ir.IntType(1), 4), [0] * 4)
                    for j in range(4):
                        new = builder.icmp_signed(">=", builder.add(last, ir.Constant(intp, j)),
                                                  full)
                        keep = builder.insert_element(keep, new, ir.Constant(i32, j))
                    accumulate([load4(w, last) for w in ws], [load4(x, last) for x in xs], keep)
                with otherwise:
                    rows = ws + xs
                    vecs = [cgutils.alloca_once_value(builder, zero) for _ in rows]
                    for j in range(4):
                        c = builder.add(last, ir.Constant(intp, j))
                        with builder.if_then(builder.icmp_signed(">=", c, ir.Constant(intp, 0))):
                            for ptr, slot in zip(rows, vecs):
                                value = builder.load(builder.gep(ptr, [c]))
                                builder.store(builder.insert_element(
                                    builder.load(slot), value, ir.Constant(i32, j)), slot)
                    loaded = [builder.load(v) for v in vecs]
                    accumulate(loaded[:runs], loaded[runs:])
        out = []
        for q in range(runs):
            for r in range(m):
                # [s0, s1, s2, s3] -> [s0 + s2, s1 + s3] -> (s0 + s2) + (s1 + s3)
                v = builder.load(acc[q][r])
                lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, 2), [0, 1]))
                hi = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, 2), [2, 3]))
                pair = builder.fadd(lo, hi)
                out.append(builder.fadd(builder.extract_element(pair, ir.Constant(i32, 0)),
                                        builder.extract_element(pair, ir.Constant(i32, 1))))
        if m * runs == 1:
            return out[0]
        return context.make_tuple(builder, sig.return_type, out)

    return codegen


def _rows_axpy_codegen(m, runs):
    """Code for ``(G, a_1, ..., a_runs, X, i, coefs)``: :func:`rows_axpy` on
    each row ``G[a_q]`` with its share of ``coefs`` (run-major, m rows of X
    each), with ``<4 x double>`` blocks and a scalar tail; the runs share the
    loads of ``X``."""
    def codegen(context, builder, sig, args):
        intp = context.get_value_type(types.intp)
        i32 = ir.IntType(32)
        v4 = ir.VectorType(ir.DoubleType(), 4)
        gs, _ = _row_pointers(context, builder, sig, args, 0, range(1, runs + 1), [0])
        xs, d = _row_pointers(context, builder, sig, args, runs + 1, [runs + 2], range(m))
        cs = cgutils.unpack_tuple(builder, args[runs + 3])
        splats = []
        for c in cs:
            v = ir.Constant(v4, ir.Undefined)
            for j in range(4):
                v = builder.insert_element(v, c, ir.Constant(i32, j))
            splats.append(v)
        blocks = builder.sdiv(d, ir.Constant(intp, 4))
        with cgutils.for_range(builder, blocks) as loop:
            off = builder.mul(loop.index, ir.Constant(intp, 4))
            xvs = [builder.load(builder.bitcast(builder.gep(x, [off]), v4.as_pointer()), align=8)
                   for x in xs]
            for q, g in enumerate(gs):
                gp = builder.bitcast(builder.gep(g, [off]), v4.as_pointer())
                acc = builder.load(gp, align=8)
                for r in range(m):
                    acc = builder.fadd(acc, builder.fmul(splats[q * m + r], xvs[r]))
                builder.store(acc, gp, align=8)
        start = builder.mul(blocks, ir.Constant(intp, 4))
        with cgutils.for_range_slice(builder, start, d, ir.Constant(intp, 1)) as (c, _):
            xvals = [builder.load(builder.gep(x, [c])) for x in xs]
            for q, g in enumerate(gs):
                gp = builder.gep(g, [c])
                acc = builder.load(gp)
                for r in range(m):
                    acc = builder.fadd(acc, builder.fmul(cs[q * m + r], xvals[r]))
                builder.store(acc, gp)
        return context.get_dummy_value()

    return codegen


@intrinsic
def _dot1(typingctx, W, a, X, i):
    return types.float64(W, a, X, i), _rows_dot_codegen(1, 1)


@intrinsic
def _dot4(typingctx, W, a, X, i):
    return types.UniTuple(types.float64, 4)(W, a, X, i), _rows_dot_codegen(4, 1)


@intrinsic
def _dot4x2(typingctx, W, a0, a1, X, i):
    return types.UniTuple(types.float64, 8)(W, a0, a1, X, i), _rows_dot_codegen(4, 2)


@intrinsic
def _axpy1(typingctx, G, a, X, i, coefs):
    return types.void(G, a, X, i, coefs), _rows_axpy_codegen(coefs.count, 1)


@intrinsic
def _axpy2(typingctx, G, a0, a1, X, i, coefs):
    return types.void(G, a0, a1, X, i, coefs), _rows_axpy_codegen(coefs.count // 2, 2)


# --- numba's choice: the intrinsic for C-contiguous float64, else the plain version ---
# The intrinsic is inlined into the caller (as the code it emits); the plain
# version compiled on its own, and called (inlining its loops into another
# plain version's body trips numba's SSA checks).

def _float_tuple(coefs, runs):
    return (isinstance(coefs, types.UniTuple) and coefs.dtype == types.float64
            and coefs.count % runs == 0)


_row_dot_plain = njit(cache=True)(row_dot)
_rows_dot4_plain = njit(cache=True)(rows_dot4)
_rows_dot4x2_plain = njit(cache=True)(rows_dot4x2)
_rows_axpy_plain = njit(cache=True)(rows_axpy)
_rows_axpy2_plain = njit(cache=True)(rows_axpy2)


@overload(row_dot, inline="always")
def _row_dot_jit(W, a, X, i):
    if _c_matrices(W, X):
        return lambda W, a, X, i: _dot1(W, a, X, i)
    return lambda W, a, X, i: _row_dot_plain(W, a, X, i)


@overload(rows_dot4, inline="always")
def _rows_dot4_jit(W, a, X, i):
    if _c_matrices(W, X):
        return lambda W, a, X, i: _dot4(W, a, X, i)
    return lambda W, a, X, i: _rows_dot4_plain(W, a, X, i)


@overload(rows_dot4x2, inline="always")
def _rows_dot4x2_jit(W, a0, a1, X, i):
    if _c_matrices(W, X):
        return lambda W, a0, a1, X, i: _dot4x2(W, a0, a1, X, i)
    return lambda W, a0, a1, X, i: _rows_dot4x2_plain(W, a0, a1, X, i)


@overload(rows_axpy, inline="always")
def _rows_axpy_jit(G, a, X, i, coefs):
    if _c_matrices(G, X) and _float_tuple(coefs, 1):
        return lambda G, a, X, i, coefs: _axpy1(G, a, X, i, coefs)
    return lambda G, a, X, i, coefs: _rows_axpy_plain(G, a, X, i, coefs)


@overload(rows_axpy2, inline="always")
def _rows_axpy2_jit(G, a0, a1, X, i, coefs):
    if _c_matrices(G, X) and _float_tuple(coefs, 2):
        return lambda G, a0, a1, X, i, coefs: _axpy2(G, a0, a1, X, i, coefs)
    return lambda G, a0, a1, X, i, coefs: _rows_axpy2_plain(G, a0, a1, X, i, coefs)
