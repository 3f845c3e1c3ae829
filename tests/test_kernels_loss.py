"""The lp loss pass (``_kernels.loss.lp_batch_value_and_grad_e``) and the
fixed-order sums it is made of (``_kernels.lanes``).

Against the NumPy rule students write (``losses.lp(p).value_and_grad_e``)
with a tolerance of 1e-12 relative to the largest entry (float64): both
compute the same products, summed in another order (the kernel: 4 lanes per
dot product and rows in sequence; NumPy: BLAS's order), which changes a
result by a few ulps times the number of terms (<= 131 per dot product, <= 61
rows here), i.e. ~1e-14 relative. A wrong formula (a factor, a sign, a
transpose, the scale) is off by O(1).

Bit for bit, against the summation order ``lanes`` documents, recomputed here
with NumPy (``lane_dots``: elementwise products, one vector add per block of
4, then ``(s0 + s2) + (s1 + s3)``; ``np.cumsum`` for the sums over rows, which
is strictly sequential). This holds with the JIT (the ``<4 x double>``
intrinsics, and for arrays that are not C-contiguous the plain versions
compiled) and with ``NUMBA_DISABLE_JIT=1`` (the plain versions in Python);
``test_other_orders_give_other_bits`` checks that on these data another order
would fail these tests. Also for arrays at any alignment, since no sum is
reassociated. n stays small so that the tests are fast without the JIT.
"""

import numpy as np
import pytest
from numba import njit

from deeplinear import losses
from deeplinear._kernels import lanes, loss
from helpers import at_offset

pytestmark = pytest.mark.nojit

PS = [2.0, 3.0, 4.0, 2.5]
# d below, at and above the 4 lanes, not multiples of 4; n from 1 (below a block of 4 rows)
SHAPES = [(1, 1), (2, 3), (3, 4), (5, 5), (9, 10), (13, 7), (33, 17), (6, 128), (61, 131)]


def _problem(rng, n, d, k):
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, k))
    W_e = rng.standard_normal((k, d)) / np.sqrt(d)
    return W_e, X, Y


def _kernel(W_e, X, Y, p):
    """The pass with one run, as the loop of a single run calls it."""
    k, d = W_e.shape
    grad = np.full((1, k, d), np.nan)  # stale contents must be overwritten
    values = np.full(1, np.nan)
    loss.lp_batch_value_and_grad_e(W_e.reshape(1, k, d), X, Y, p, grad, values,
                                   np.ones(1, dtype=np.bool_))
    return values[0], grad[0]


# --- the documented order, recomputed with NumPy ---

def _lane_sums(w, X):
    """The 4 lanes of ``w . X[i]`` for every row i, shape (n, 4)."""
    n, d = X.shape
    P = w * X  # every product, rounded once
    full = d - d % 4
    s = np.zeros((n, 4))
    for start in range(0, full, 4):
        s = s + P[:, start:start + 4]
    if full < d:  # the last 4 columns, those already summed (or before the row) as +0.0
        c = np.arange(d - 4, d)
        s = s + np.where(c >= full, P[:, np.maximum(c, 0)], 0.0)
    return s


def lane_dots(w, X):
    """``w . X[i]`` for every row i, in the lanes' order (``lanes.row_dot``)."""
    s = _lane_sums(w, X)
    return (s[:, 0] + s[:, 2]) + (s[:, 1] + s[:, 3])


def _sequential(terms):
    """0.0 + t_0 + t_1 + ... along axis 0, in that order."""
    return np.cumsum(np.concatenate([np.zeros((1,) + terms.shape[1:]), terms]), axis=0)[-1]


def numpy_lane_order(W_e, X, Y, p, dots=lane_dots):
    """The pass's value and gradient in its documented order (p = 2, 3, 4: products only)."""
    n, k = Y.shape
    R = np.stack([dots(W_e[a], X) for a in range(k)], axis=1) - Y  # (n, k)
    M = np.abs(R)
    if p == 4.0:
        R3 = (R * R) * R
        T, coef = R3 * R, 4.0 * R3
    elif p == 2.0:
        T, coef = R * R, 2.0 * R
    elif p == 3.0:  # abs_pow: ((1 m) m) m and p ((1 m) m), the sign of r
        T, coef = (M * M) * M, np.where(R < 0.0, -(3.0 * (M * M)), 3.0 * (M * M))
    else:
        raise ValueError(f"p = {p}: the kernel takes pow for it, not products")
    scale = 1.0 / (n * k)
    value = _sequential(T.ravel()) * scale  # in the order of (i, a)
    grad = np.stack([_sequential(coef[:, a:a + 1] * X) for a in range(k)]) * scale
    return value, grad


def _naive_dots(w, X):
    return np.array([_sequential(w * x) for x in X])  # one lane, in increasing c


def _paired_lanes(w, X):  # the same four lanes, combined as (s0 + s1) + (s2 + s3)
    s = _lane_sums(w, X)
    return (s[:, 0] + s[:, 1]) + (s[:, 2] + s[:, 3])


def test_the_numpy_lane_order_is_a_dot_product(rng):
    # The reference itself: a dot product up to rounding (a few ulps times d terms).
    for d in (1, 3, 4, 5, 8, 10, 131):
        w, X = rng.standard_normal(d), rng.standard_normal((5, d))
        np.testing.assert_allclose(lane_dots(w, X), X @ w, rtol=0,
                                   atol=1e-15 * d * np.abs(X * w).sum(axis=1).max())


@pytest.mark.parametrize("d", [3, 4, 7, 17, 131])
def test_other_orders_give_other_bits(rng, d):
    # The bit-for-bit tests below have the power to see the order: on such data
    # one lane, or the lanes combined otherwise, give other last bits somewhere.
    w, X = rng.standard_normal(d), rng.standard_normal((64, d))
    expected = lane_dots(w, X)
    assert np.any(_naive_dots(w, X) != expected)
    if d >= 4:
        assert np.any(_paired_lanes(w, X) != expected)
    W_e, X, Y = _problem(rng, 33, d, 1)
    value, grad = numpy_lane_order(W_e, X, Y, 4.0)
    naive_value, naive_grad = numpy_lane_order(W_e, X, Y, 4.0, dots=_naive_dots)
    assert naive_value != value or not np.array_equal(naive_grad, grad)


def test_row_update_order_shows_in_the_bits(rng):
    # The products summed first, then added to G, give other last bits somewhere.
    G, X, c = rng.standard_normal(64), rng.standard_normal((4, 64)), rng.standard_normal(4)
    one_by_one = (((G + c[0] * X[0]) + c[1] * X[1]) + c[2] * X[2]) + c[3] * X[3]
    summed_first = G + (((c[0] * X[0] + c[1] * X[1]) + c[2] * X[2]) + c[3] * X[3])
    assert not np.array_equal(summed_first, one_by_one)


# --- the lane operations, as numba compiles them and in Python ---

@njit
def _row_dot(W, a, X, i):
    return lanes.row_dot(W, a, X, i)


@njit
def _rows_dot4(W, a, X, i):
    return lanes.rows_dot4(W, a, X, i)


@njit
def _rows_dot4x2(W, a0, a1, X, i):
    return lanes.rows_dot4x2(W, a0, a1, X, i)


@njit
def _rows_axpy(G, a, X, i, coefs):
    lanes.rows_axpy(G, a, X, i, coefs)


@njit
def _rows_axpy2(G, a0, a1, X, i, coefs):
    lanes.rows_axpy2(G, a0, a1, X, i, coefs)


def _ways(order):
    """(row_dot, rows_dot4, rows_dot4x2, rows_axpy, rows_axpy2, layout): numba's
    (the intrinsics for "C", the plain versions compiled for "F"), or the Python ones."""
    if order == "python":
        return (lanes.row_dot, lanes.rows_dot4, lanes.rows_dot4x2, lanes.rows_axpy,
                lanes.rows_axpy2, "C")
    return _row_dot, _rows_dot4, _rows_dot4x2, _rows_axpy, _rows_axpy2, order


@pytest.mark.parametrize("order", ["C", "F", "python"])
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 7, 8, 10, 17, 131])
def test_lane_dots_follow_the_documented_order(rng, d, order):
    row_dot, rows_dot4, rows_dot4x2, _, _, layout = _ways(order)
    W, X = rng.standard_normal((3, d)), rng.standard_normal((9, d))
    Wo, Xo = np.asarray(W, order=layout), np.asarray(X, order=layout)
    for a in range(3):
        expected = lane_dots(W[a], X)
        assert [row_dot(Wo, a, Xo, i) for i in range(9)] == list(expected)
        assert rows_dot4(Wo, a, Xo, 5) == tuple(expected[5:9])
    expected = np.concatenate([lane_dots(W[2], X)[3:7], lane_dots(W[0], X)[3:7]])
    assert rows_dot4x2(Wo, 2, 0, Xo, 3) == tuple(expected)


@pytest.mark.parametrize("order", ["C", "F", "python"])
@pytest.mark.parametrize("d", [1, 3, 4, 6, 9, 131])
def test_row_updates_follow_the_documented_order(rng, d, order):
    _, _, _, rows_axpy, rows_axpy2, layout = _ways(order)
    G, X = rng.standard_normal((3, d)), np.asarray(rng.standard_normal((9, d)), order=layout)
    coefs = tuple(rng.standard_normal(8))
    expected = G.copy()
    for r in range(4):  # G[a] + c0 X[i] + c1 X[i + 1] + ..., one row at a time
        expected[2] = expected[2] + coefs[r] * X[4 + r]
        expected[0] = expected[0] + coefs[4 + r] * X[4 + r]
    got = np.array(G, order=layout)
    rows_axpy2(got, 2, 0, X, 4, coefs)
    assert np.array_equal(got, expected)
    got = np.array(G, order=layout)
    rows_axpy(got, 2, X, 4, coefs[:4])
    rows_axpy(got, 0, X, 4, coefs[4:])
    assert np.array_equal(got, expected)


# --- the pass ---

@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("p", PS)
def test_lp_kernel_matches_numpy_loss(rng, n, d, k, p):
    W_e, X, Y = _problem(rng, n, d, k)
    value, grad_e = losses.lp(p).value_and_grad_e(W_e, X, Y)
    got, grad = _kernel(W_e, X, Y, p)
    assert got == pytest.approx(value, rel=1e-12), f"value, p={p}, n={n}, d={d}, k={k}"
    np.testing.assert_allclose(grad, grad_e, rtol=1e-12, atol=1e-12 * np.abs(grad_e).max(),
                               err_msg=f"grad_e, p={p}, n={n}, d={d}, k={k}")


@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("p", [2.0, 3.0, 4.0])
def test_lp_kernel_follows_its_documented_order_bit_for_bit(rng, n, d, k, p):
    # For k = 1 the kernel takes rows four at a time; the order must not change.
    W_e, X, Y = _problem(rng, n, d, k)
    got, grad = _kernel(W_e, X, Y, p)
    value, grad_e = numpy_lane_order(W_e, X, Y, p)
    assert got == value
    assert np.array_equal(grad, grad_e)


@pytest.mark.parametrize("n, d, k", [(13, 7, 1), (33, 17, 1), (9, 5, 2), (3, 4, 1)])
@pytest.mark.parametrize("p", [4.0, 2.5])
def test_lp_batch_gives_each_run_its_own_numbers(rng, n, d, k, p):
    # Runs in pairs sharing the loads of X, an odd one alone, an inactive one left
    # untouched: each active run's numbers are the ones of a single-run call.
    B = 5
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    W_es = rng.standard_normal((B, k, d)) / np.sqrt(d)
    active = np.array([True, True, False, True, True])
    grads, values = np.full((B, k, d), 7.0), np.full(B, 7.0)
    loss.lp_batch_value_and_grad_e(W_es, X, Y, p, grads, values, active)
    assert values[2] == 7.0 and np.all(grads[2] == 7.0), "an inactive run was written"
    for b in (0, 1, 3, 4):
        value, grad = _kernel(W_es[b], X, Y, p)
        assert values[b] == value, f"run {b}"
        assert np.array_equal(grads[b], grad), f"run {b}"


@pytest.mark.parametrize("n, d, k", [(37, 10, 1), (37, 128, 1), (11, 7, 1), (13, 5, 3),
                                     (6, 3, 1)])
@pytest.mark.parametrize("p", [4.0, 2.0])
def test_lp_kernel_is_alignment_independent(rng, n, d, k, p):
    W_e, X, Y = _problem(rng, n, d, k)
    value, grad = _kernel(W_e, X, Y, p)
    for offset in (8, 16, 24, 32, 40, 56):
        Wo = at_offset(W_e.reshape(1, k, d), (offset + 8) % 64)
        go = at_offset(np.full((1, k, d), np.nan), (offset + 16) % 64)
        vo = np.full(1, np.nan)
        loss.lp_batch_value_and_grad_e(Wo, at_offset(X, offset), at_offset(Y, offset), p, go,
                                       vo, np.ones(1, dtype=np.bool_))
        assert vo[0] == value, f"value at offset {offset}"
        assert np.array_equal(go[0], grad), f"grad_e at offset {offset}"


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("p", PS)
def test_lp_kernel_zero_residuals(rng, k, p):
    # Small integers: every product and sum is exact, so the residuals are exactly 0.
    n, d = 10, 6
    X = rng.integers(-3, 4, size=(n, d)).astype(float)
    W_e = rng.integers(-3, 4, size=(k, d)).astype(float)
    Y = X @ W_e.T
    value, grad = _kernel(W_e, X, Y, p)
    assert value == 0.0
    assert np.array_equal(grad, np.zeros((k, d)))


@pytest.mark.parametrize("k", [1, 3])
def test_lp_kernel_non_finite_like_before(rng, k):
    """A diverging run is detected by a non-finite loss (``train`` stops on it).

    |r|^p overflowing gives L = inf; a NaN entry in W_e gives L = nan, an inf
    entry L = inf; the gradient is then not finite either."""
    n, d = 11, 5
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    with np.errstate(all="ignore"):
        for p in (4.0, 2.0, 2.5):
            value, grad = _kernel(np.full((k, d), 1e200), X, Y, p)
            assert value == np.inf, f"overflow, p={p}"
        value, grad = _kernel(np.full((k, d), 1e100), X, Y, 4.0)  # r ~ 1e100, r^4 overflows
        assert value == np.inf
        assert np.isfinite(_kernel(np.full((k, d), 1e100), X, Y, 2.0)[0])  # r^2 ~ 1e200 does not
        for bad, expected in ((np.nan, np.isnan), (np.inf, np.isposinf)):
            W_e = rng.standard_normal((k, d))
            W_e[0, 1] = bad
            value, grad = _kernel(W_e, X, Y, 4.0)
            assert expected(value), f"W_e with {bad}: L = {value}"
            assert not np.all(np.isfinite(grad))
