"""Each numba kernel against a plain NumPy twin, on random inputs.

Tolerance 1e-12 relative: the kernels sum the same products in another order
(``matmul_bt`` and the loss pass may also reassociate), which changes results
by a few ulps times the number of terms (<= 60 here), i.e. ~1e-14.
"""

import numpy as np
import pytest
from numba.typed import List
from numpy.testing import assert_allclose

from deeplinear._kernels import chain, loss

from conftest import random_factors

pytestmark = pytest.mark.nojit

SHAPES = [(1, 1, 1), (1, 7, 5), (4, 3, 6), (9, 12, 2)]


def _close(actual, expected, what):
    assert_allclose(actual, expected, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(expected).max()),
                    err_msg=what)


@pytest.mark.parametrize("m, p, q", SHAPES)
def test_matmul_kernels(rng, m, p, q):
    A, B = rng.standard_normal((m, p)), rng.standard_normal((p, q))
    out = np.full((m, q), np.nan)  # stale contents must be overwritten
    chain.matmul(A, B, out)
    _close(out, A @ B, "matmul")
    Bt = np.ascontiguousarray(B.T)
    out = np.full((m, q), np.nan)
    chain.matmul_bt(A, Bt, out)
    _close(out, A @ B, "matmul_bt")
    At = np.ascontiguousarray(A.T)
    out = np.full((m, q), np.nan)
    chain.matmul_at(At, B, out)
    _close(out, A @ B, "matmul_at")


@pytest.mark.parametrize("dims", [[4, 3, 1], [2, 5, 5, 3], [3, 1, 4, 2]], ids=str)
def test_suffix_and_gradient_kernels(rng, dims):
    N = len(dims) - 1
    k = dims[-1]
    factors = List(random_factors(rng, dims))
    suffix = List([np.full((k, dims[j]), np.nan) for j in range(N + 1)])
    chain.suffix_products(factors, suffix)
    for j in range(N + 1):
        expected = np.eye(k)
        for W in reversed(list(factors)[j:]):
            expected = expected @ W
        _close(suffix[j], expected, f"suffix[{j}]")
    G = rng.standard_normal((k, dims[0]))
    g_prefix_t = List([np.full((k, dims[j]), np.nan) for j in range(N)])
    dW = List([np.full((dims[j + 1], dims[j]), np.nan) for j in range(N)])
    chain.factor_gradients(factors, suffix, G, g_prefix_t, dW)
    for j in range(1, N + 1):
        below = np.eye(dims[0])
        for W in list(factors)[: j - 1]:
            below = W @ below
        _close(dW[j - 1], suffix[j].T @ G @ below.T, f"dW_{j}")
    assert chain.squared_norm_sum(factors) == pytest.approx(
        sum(float(np.sum(W**2)) for W in factors), rel=1e-12)


@pytest.mark.parametrize("q", [0.0, 1.0, 3.0, 2.5, 17.0])
def test_abs_pow(rng, q):
    a = np.abs(rng.standard_normal(20)) * 3
    got = np.array([loss.abs_pow(x, q) for x in a])
    _close(got, a**q, f"abs_pow q={q}")


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("p", [2.0, 4.0, 3.3])
def test_loss_kernels(rng, k, p):
    n, d = 23, 4
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    W_e = rng.standard_normal((k, d))
    R = X @ W_e.T - Y
    grad = np.full((k, d), np.nan)
    value = loss.lp_value_and_grad(W_e, X, Y, p, grad)
    assert value == pytest.approx(np.mean(np.abs(R) ** p), rel=1e-12)
    _close(grad, (p * np.abs(R) ** (p - 1) * np.sign(R)).T @ X / (n * k), "lp grad")
    grad = np.full((k, d), np.nan)
    value = loss.l2_gram_value_and_grad(W_e, X.T @ X / n, Y.T @ X / n, np.sum(Y**2) / n, grad)
    assert value == pytest.approx(np.mean(R**2), rel=1e-12)
    _close(grad, 2 * R.T @ X / (n * k), "l2 gram grad")
