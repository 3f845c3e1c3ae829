"""The lp loss kernel (``_kernels.loss.lp_value_and_grad_e``): one fused pass over X.

Against the NumPy ``Loss.value_and_grad_e`` (through the predictions) with a
tolerance of 1e-12 relative to the largest entry (float64): both compute the
same products, summed in another order (the kernel: 4 lanes per dot product
and rows in sequence; NumPy: BLAS's order), which changes a result by a few
ulps times the number of terms (<= 40 per dot product, <= 60 rows here),
i.e. ~1e-14 relative. A wrong formula (a factor, a sign, a transpose, the
scale) is off by O(1).

Bit for bit: against the summation order the module documents, written out
in Python (``_row_dot_reference`` and a row-by-row loop); and for arrays at
any alignment, since no sum is reassociated. These also pass with
``NUMBA_DISABLE_JIT=1``, where the kernel is that Python; n stays small so
that they are fast there.
"""

import numpy as np
import pytest

from deeplinear import losses
from helpers import at_offset
from deeplinear._kernels import loss

pytestmark = pytest.mark.nojit

PS = [2.0, 3.0, 4.0, 2.5]
# d below, at and above the 4 lanes, not multiples of 4; n from 1 (below a block of 4 rows)
SHAPES = [(1, 1), (2, 3), (3, 4), (5, 5), (9, 10), (13, 7), (33, 17), (6, 128)]


def _problem(rng, n, d, k):
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, k))
    W_e = rng.standard_normal((k, d)) / np.sqrt(d)
    return W_e, X, Y


def _kernel(W_e, X, Y, p):
    grad = np.full(W_e.shape, np.nan)  # stale contents must be overwritten
    value = loss.lp_value_and_grad_e(W_e, X, Y, p, grad)
    return value, grad


def _reference_order(W_e, X, Y, p):
    """The kernel's documented summation order, row by row in plain Python/NumPy."""
    n, d = X.shape
    k = W_e.shape[0]
    term_and_coef = getattr(loss._term_and_coef, "py_func", loss._term_and_coef)
    grad = np.zeros((k, d))
    total = 0.0
    for i in range(n):
        for a in range(k):
            term, coef = term_and_coef(loss._row_dot_reference(W_e, a, X, i) - Y[i, a], p)
            total += term
            grad[a] = grad[a] + coef * X[i]  # elementwise: one product, one sum per entry
    scale = 1.0 / (n * k)
    return total * scale, grad * scale


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
@pytest.mark.parametrize("p", [2.0, 4.0, 2.5])
def test_lp_kernel_follows_its_documented_order_bit_for_bit(rng, n, d, k, p):
    # For k = 1 the kernel takes rows four at a time; the order must not change.
    W_e, X, Y = _problem(rng, n, d, k)
    got, grad = _kernel(W_e, X, Y, p)
    value, grad_e = _reference_order(W_e, X, Y, p)
    assert got == value
    assert np.array_equal(grad, grad_e)


@pytest.mark.parametrize("n, d, k", [(37, 10, 1), (37, 128, 1), (11, 7, 1), (13, 5, 3),
                                     (6, 3, 1)])
@pytest.mark.parametrize("p", [4.0, 2.0])
def test_lp_kernel_is_alignment_independent(rng, n, d, k, p):
    W_e, X, Y = _problem(rng, n, d, k)
    value, grad = _kernel(W_e, X, Y, p)
    for offset in (8, 16, 24, 32, 40, 56):
        Xo, Wo, Yo = at_offset(X, offset), at_offset(W_e, (offset + 8) % 64), at_offset(Y, offset)
        go = at_offset(np.full((k, d), np.nan), (offset + 16) % 64)
        got = loss.lp_value_and_grad_e(Wo, Xo, Yo, p, go)
        assert got == value, f"value at offset {offset}"
        assert np.array_equal(go, grad), f"grad_e at offset {offset}"


@pytest.mark.parametrize("k", [1, 3])
def test_lp_kernel_takes_non_contiguous_arrays(rng, k):
    W_e, X, Y = _problem(rng, 9, 6, k)
    value, grad = _kernel(W_e, X, Y, 4.0)
    Xf, Wf, Yf = np.asfortranarray(X), np.asfortranarray(W_e), np.asfortranarray(Y)
    out = np.full((6, k), np.nan).T  # grad_e as a transposed (non-C) view
    assert loss.lp_value_and_grad_e(Wf, Xf, Yf, 4.0, out) == value
    assert np.array_equal(out, grad)


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

    As the previous kernel: |r|^p overflowing gives L = inf; a NaN entry in
    W_e gives L = nan, an inf entry L = inf; the gradient is then not finite
    either."""
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


def test_row_dot_reference_is_a_dot_product(rng):
    for d in (1, 3, 4, 5, 8, 10, 131):
        W, X = rng.standard_normal((2, d)), rng.standard_normal((3, d))
        for a in range(2):
            for i in range(3):
                assert loss._row_dot_reference(W, a, X, i) == pytest.approx(
                    float(W[a] @ X[i]), rel=1e-13, abs=1e-13 * d)
