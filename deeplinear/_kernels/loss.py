"""Kernels for loss values and their gradients with respect to ``W_e``.

``W_e`` has shape (k, d) = (d_N, d_0), data ``X`` (n, d), targets ``Y`` (n, k)
and predictions ``X @ W_e.T``. Both losses are means over all n*k entries.
Matrix completion (``completion_value_and_grad_e``) has no data: the mean
squared error of ``W_e`` on the observed entries of a target.

The lp pass and its summation order
-----------------------------------
``lp_batch_value_and_grad_e`` reads ``X`` once for all the runs it is
given: for each row the dot products ``W_e x_i``, the residuals, the loss
terms and the rank-1 update of the gradient, with no n-long temporary.
Every sum is taken in one fixed order, so that a result is the same bit
for bit whatever the alignment of the arrays (and with or without
``NUMBA_DISABLE_JIT``); no ``fastmath`` reassociation is used, and no
multiply-add is fused:

- a dot product ``sum_c w_c x_c`` is summed in 4 lanes, combined as
  ``(s0 + s2) + (s1 + s3)`` (``lanes.row_dot``, whose docstring gives the
  order; numba compiles it to a ``<4 x double>`` intrinsic);
- the loss value sums the terms ``|r_ia|^p`` in the order of (i, a),
  starting from 0.0, then is multiplied by ``1 / (n k)``;
- the gradient entry (a, c) sums ``coef_ia * x_ic`` over i in increasing
  order, starting from 0.0, then is multiplied by ``1 / (n k)``
  (``lanes.rows_axpy``).

For k = 1 (the experiments) rows go four at a time (the four dot products
share the loads of ``w``, and the gradient is loaded and stored once per four
rows); that grouping changes no sum, so the result is the same as row by row.
For p = 2 and p = 4 the powers are products (``|r|^4 = ((r r) r) r``), the
same products ``abs_pow`` forms; another p goes through ``abs_pow``.
"""

import numpy as np
from numba import njit

from .chain import matmul
from .lanes import row_dot, rows_axpy, rows_axpy2, rows_dot4, rows_dot4x2


@njit(cache=True)
def abs_pow(a, q):
    """a**q for a >= 0; small integer q by repeated multiplication (no pow call)."""
    if q == np.floor(q) and q <= 16.0:
        out = 1.0
        for _ in range(int(q)):
            out *= a
        return out
    return a**q


@njit(cache=True, inline="always")
def _term_and_coef(r, p):
    """``(|r|^p, p |r|^(p-1) sign(r))`` for a residual r; p = 2, 4 by products."""
    if p == 4.0:
        r3 = (r * r) * r  # |r3| = (m m) m with m = |r|, the sign of r
        return r3 * r, 4.0 * r3
    if p == 2.0:
        return r * r, 2.0 * r
    m = abs(r)
    coef = p * abs_pow(m, p - 1.0)
    if r < 0.0:
        coef = -coef
    return abs_pow(m, p), coef


@njit(cache=True, inline="always")
def _group_of_one(Ws, Gs, b, X, Y, i, p, total):
    """Rows i..i+3 for run b: its loss sum (returned, from ``total``) and gradient."""
    s0, s1, s2, s3 = rows_dot4(Ws, b, X, i)
    t0, c0 = _term_and_coef(s0 - Y[i, 0], p)
    t1, c1 = _term_and_coef(s1 - Y[i + 1, 0], p)
    t2, c2 = _term_and_coef(s2 - Y[i + 2, 0], p)
    t3, c3 = _term_and_coef(s3 - Y[i + 3, 0], p)
    rows_axpy(Gs, b, X, i, (c0, c1, c2, c3))
    return (((total + t0) + t1) + t2) + t3


@njit(cache=True, inline="always")
def _group_of_two(Ws, Gs, b0, b1, X, Y, i, p, values):
    """Rows i..i+3 for runs b0 and b1 at once (sharing the loads of X): each
    run's sums exactly as in :func:`_group_of_one`, its loss sum in ``values``."""
    s0, s1, s2, s3, u0, u1, u2, u3 = rows_dot4x2(Ws, b0, b1, X, i)
    y0, y1, y2, y3 = Y[i, 0], Y[i + 1, 0], Y[i + 2, 0], Y[i + 3, 0]
    t0, c0 = _term_and_coef(s0 - y0, p)
    t1, c1 = _term_and_coef(s1 - y1, p)
    t2, c2 = _term_and_coef(s2 - y2, p)
    t3, c3 = _term_and_coef(s3 - y3, p)
    values[b0] = (((values[b0] + t0) + t1) + t2) + t3
    t0, e0 = _term_and_coef(u0 - y0, p)
    t1, e1 = _term_and_coef(u1 - y1, p)
    t2, e2 = _term_and_coef(u2 - y2, p)
    t3, e3 = _term_and_coef(u3 - y3, p)
    values[b1] = (((values[b1] + t0) + t1) + t2) + t3
    rows_axpy2(Gs, b0, b1, X, i, (c0, c1, c2, c3, e0, e1, e2, e3))


@njit(cache=True)
def lp_batch_value_and_grad_e(W_es, X, Y, p, grad_es, values, active):
    """One pass over ``X`` for L = mean(|X W_e^T - Y|^p) of B runs on the same data.

    Run b (``active[b]`` true) gets ``values[b] = L(W_es[b])`` and
    ``grad_es[b] = dL/dW_e`` at ``W_es[b]``: row by row, the residual
    r_i = W_e x_i - y_i (k numbers), the loss terms |r_ia|^p, and
    grad_e[a, :] += p |r_ia|^(p-1) sign(r_ia) x_i, in the fixed summation
    order of the module docstring, with no (n, d) or (n, k) temporary. The
    entries of an inactive run are left as they are. For k = 1, each group
    of four rows of ``X`` is read once for all the runs (the rows stay in the
    L1 cache while every run's dot products and gradient update go through
    them), so that B runs cost less than B passes. Every run's sums are the
    same, in the same order, whatever the other runs: run b's results are the
    same bit for bit as with ``W_es[b:b+1]`` alone (B = 1, what the loop of a
    single run calls).

    A non-finite residual gives a non-finite L (inf when |r|^p overflows or
    an entry is inf, nan from a nan entry or inf - inf), which is how a
    diverging run is detected.

    Parameters
    ----------
    W_es : ndarray, shape (B, k, d), C-contiguous
    X : ndarray, shape (n, d), C-contiguous
    Y : ndarray, shape (n, k), C-contiguous
    p : float
    grad_es : ndarray, shape (B, k, d), C-contiguous
        Written for the active runs.
    values : ndarray, shape (B,)
        Written for the active runs.
    active : ndarray of bool, shape (B,)
    """
    n, d = X.shape
    B, k = W_es.shape[0], W_es.shape[1]
    for b in range(B):
        if active[b]:
            values[b] = 0.0
            for a in range(k):
                for c in range(d):
                    grad_es[b, a, c] = 0.0
    if k == 1:
        Ws = W_es.reshape((B, d))
        Gs = grad_es.reshape((B, d))
        # The active runs two at a time (a pair shares the loads of each row
        # group), in increasing order; if their number is odd, the last one
        # alone, its sum in a register.
        count, single = 0, -1
        for b in range(B):
            if active[b]:
                count += 1
                single = b
        if count % 2 == 0:
            single = -1
        single_total = 0.0
        i = 0
        if count == 1:  # one run (every single-run call): the tight loop
            while i + 4 <= n:
                single_total = _group_of_one(Ws, Gs, single, X, Y, i, p, single_total)
                i += 4
        while i + 4 <= n:
            pending = -1
            for b in range(B):
                if not active[b] or b == single:
                    continue
                if pending < 0:
                    pending = b
                    continue
                _group_of_two(Ws, Gs, pending, b, X, Y, i, p, values)
                pending = -1
            if single >= 0:
                single_total = _group_of_one(Ws, Gs, single, X, Y, i, p, single_total)
            i += 4
        while i < n:
            for b in range(B):
                if active[b]:
                    t0, c0 = _term_and_coef(row_dot(Ws, b, X, i) - Y[i, 0], p)
                    if b == single:
                        single_total += t0
                    else:
                        values[b] += t0
                    rows_axpy(Gs, b, X, i, (c0,))
            i += 1
        if single >= 0:
            values[single] = single_total
    else:
        for b in range(B):
            if not active[b]:
                continue
            W_e, grad_e = W_es[b], grad_es[b]
            total = 0.0
            for i in range(n):
                for a in range(k):
                    t0, c0 = _term_and_coef(row_dot(W_e, a, X, i) - Y[i, a], p)
                    total += t0
                    rows_axpy(grad_e, a, X, i, (c0,))
            values[b] = total
    scale = 1.0 / (n * k)
    for b in range(B):
        if active[b]:
            for a in range(k):
                for c in range(d):
                    grad_es[b, a, c] *= scale
            values[b] *= scale


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


@njit(cache=True)
def fourth_moments(X, Y, rows, M):
    """Fill ``M`` with the fourth moments of ``z = [x, y]`` (m = d + 1 numbers per row).

    ``M[t, e] = sum_i z_ia z_ib z_ic z_ie / n`` for the t-th triple
    ``a <= b <= c`` (``rows[a, b, c] = t``, lexicographic order) and every e,
    summed over i in increasing order, then divided by n; each product is
    formed as ``((z_ia z_ib) z_ic) z_ie``. Only the T = m (m + 1) (m + 2) / 6
    sorted triples are stored: the tensor is symmetric.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    Y : ndarray, shape (n, 1)
    rows : ndarray of int64, shape (m, m, m)
        Symmetric: the row of the sorted triple, for any order of (a, b, c).
    M : ndarray, shape (T, m)
        Written.
    """
    n, d = X.shape
    m = d + 1
    z = np.empty(m)
    for t in range(M.shape[0]):
        for e in range(m):
            M[t, e] = 0.0
    for i in range(n):
        for c in range(d):
            z[c] = X[i, c]
        z[d] = Y[i, 0]
        for a in range(m):
            for b in range(a, m):
                zab = z[a] * z[b]
                for c in range(b, m):
                    zabc = zab * z[c]
                    t = rows[a, b, c]
                    for e in range(m):
                        M[t, e] += zabc * z[e]
    for t in range(M.shape[0]):
        for e in range(m):
            M[t, e] /= n


@njit(cache=True)
def l4_moments_value_and_grad_e(W_e, M, rows, grad_e):
    """L = mean((X W_e^T - Y)^4) and its gradient from the fourth moments, at a
    cost free of n (one output: W_e of shape (1, d)).

    With v = [w, -1] (m = d + 1 numbers), each residual is r_i = v . z_i, so

        L          = sum_{a,b,c,e} M_abce v_a v_b v_c v_e
        dL/dw_a    = 4 sum_{b,c,e} M_abce v_b v_c v_e          (a < d)

    computed as t1_abc = sum_e M_abce v_e (one per sorted triple, e in
    increasing order), t3_a = sum_b (sum_c t1_abc v_c) v_b and L = sum_a t3_a
    v_a, every sum in increasing index order (no fastmath), so the result
    does not depend on the arrays' alignment. ``M`` and ``rows`` are from
    :func:`fourth_moments`.

    The expansion is not the pass's sum of |r_i|^4: it differs in rounding,
    by about eps times sum |M_abce v_a v_b v_c v_e| rather than eps times L,
    so its relative error grows as the fit improves far below the scale of
    the data (L is clipped at 0 from below, as for l2). ``deeplinear._compiled``
    uses it only where it costs much less than the pass (few features, many
    rows), and the tests bound the difference.
    """
    d = W_e.shape[1]
    m = d + 1
    v = np.empty(m)
    for c in range(d):
        v[c] = W_e[0, c]
    v[d] = -1.0
    T = M.shape[0]
    t1 = np.empty(T)
    for t in range(T):
        s = 0.0
        for e in range(m):
            s += M[t, e] * v[e]
        t1[t] = s
    value = 0.0
    for a in range(m):
        t3 = 0.0
        for b in range(m):
            t2 = 0.0
            for c in range(m):
                t2 += t1[rows[a, b, c]] * v[c]
            t3 += t2 * v[b]
        if a < d:
            grad_e[0, a] = 4.0 * t3
        value += t3 * v[a]
    return max(value, 0.0)


@njit(cache=True)
def completion_value_and_grad_e(W_e, rows, cols, values, grad_e):
    """Matrix completion: the mean squared error of ``W_e`` (k, d) on the m
    observed entries ``(rows[i], cols[i])`` of a target, which has ``values[i]``
    there, and its gradient (the twin of ``CompletionObjective.value_and_grad_e``).

        r_i     = W_e[rows_i, cols_i] - values_i
        L       = (1/m) sum_i r_i^2
        grad_e  = (2/m) P_Omega(W_e - W*): 2 r_i / m at (rows_i, cols_i), 0 elsewhere

    The sum runs in the order of the entries (the NumPy rule's order is
    pairwise, so the values agree to a few ulps of L, not bit for bit; the
    gradients agree bit for bit). Fills
    ``grad_e`` and returns L. Each entry of Omega appears once.
    """
    k, d = W_e.shape
    for a in range(k):
        for c in range(d):
            grad_e[a, c] = 0.0
    m = rows.shape[0]
    two_over_m = 2.0 / m  # the NumPy rule's factor: each gradient entry is the same bits
    total = 0.0
    for i in range(m):
        r = W_e[rows[i], cols[i]] - values[i]
        total += r * r
        grad_e[rows[i], cols[i]] = two_over_m * r
    return total / m
