"""l4 from the fourth moments (``_kernels.loss.fourth_moments`` and
``l4_moments_value_and_grad_e``), the form the compiled loop uses for l4 on
narrow single-output data (``_kernel_data.uses_fourth_moments``).

Against the NumPy loss (``losses.lp(4).value_and_grad_e``, the rule students
write) the expansion differs in rounding only. Its error is a few ulps of the
*terms* it sums, not of the loss: each of the ~m^4 terms M_abce v_a v_b v_c v_e
is bounded by ``s4 = mean_i (sum_a |v_a z_ia|)^4``, so we allow
``|L - L_numpy| <= 64 eps s4``, and for the gradient ``64 eps s3 max|z|``,
``s3 = mean_i (sum_a |v_a z_ia|)^3``. Measured on these shapes (5 draws each):
at most 2.4 eps s4 and 5.4 eps s3 max|z|; on Abalone's shape (n 4177, d 10),
where the moments sum more rows, 15 and 18. Far from
the fit s4 is close to L and this is a tolerance of ~1e-14 relative; near a
good fit L is much smaller than s4 and the relative error grows, as documented
in the kernel. A wrong coefficient, index or sign is off by O(L).

Bit for bit: arrays at any alignment give the same numbers (no sum is
reassociated), and these also pass with ``NUMBA_DISABLE_JIT=1``.
"""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from deeplinear import _kernel_data, losses
from deeplinear._kernels import loss
from deeplinear._kernels import train as kernel_train
from deeplinear.objective import Objective
from helpers import at_offset

pytestmark = pytest.mark.nojit

EPS = np.finfo(np.float64).eps
SHAPES = [(1, 1), (7, 2), (30, 3), (41, 5), (60, 10)]  # (n, d)


def _problem(rng, n, d, scale=1.0):
    X = rng.standard_normal((n, d))
    Y = (X @ rng.standard_normal(d) / np.sqrt(d) + 0.3 * rng.standard_normal(n))[:, None]
    W_e = scale * rng.standard_normal((1, d)) / np.sqrt(d)
    return W_e, X, Y


def _moments(X, Y):
    rows, T = _kernel_data.sorted_triple_rows(X.shape[1] + 1)
    M = np.full((T, X.shape[1] + 1), np.nan)  # every entry must be written
    loss.fourth_moments(X, Y, rows, M)
    return M, rows


def _kernel(W_e, M, rows):
    grad = np.full(W_e.shape, np.nan)
    value = loss.l4_moments_value_and_grad_e(W_e, M, rows, grad)
    return value, grad


def _bounds(W_e, X, Y):
    z = np.hstack([X, Y])
    v = np.append(W_e[0], -1.0)
    s = np.abs(z * v).sum(axis=1)
    return 64 * EPS * np.mean(s ** 4), 64 * EPS * np.mean(s ** 3) * np.abs(z).max()


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_sorted_triple_rows_index_every_triple_once(m):
    rows, T = _kernel_data.sorted_triple_rows(m)
    assert T == m * (m + 1) * (m + 2) // 6 and rows.dtype == np.int64
    triples = [t for t in itertools.product(range(m), repeat=3) if t == tuple(sorted(t))]
    assert [rows[t] for t in triples] == list(range(T))  # lexicographic order
    for t in itertools.product(range(m), repeat=3):
        assert rows[t] == rows[tuple(sorted(t))], t


@pytest.mark.parametrize("n, d", SHAPES)
def test_fourth_moments_are_the_mean_of_products(rng, n, d):
    _, X, Y = _problem(rng, n, d)
    M, rows = _moments(X, Y)
    z = np.hstack([X, Y])
    full = np.einsum("ia,ib,ic,ie->abce", z, z, z, z) / n
    m = d + 1
    for a, b, c in itertools.product(range(m), repeat=3):
        # sums of n products in another order: a few ulps of sum |terms|
        scale = np.mean(np.abs(z[:, a] * z[:, b] * z[:, c])[:, None] * np.abs(z), axis=0)
        assert_allclose(M[rows[a, b, c]], full[a, b, c], rtol=0, atol=4 * n * EPS * scale.max(),
                        err_msg=f"triple {(a, b, c)}")


@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("scale", [0.0, 1.0, 30.0])
def test_l4_from_moments_matches_the_numpy_loss(rng, n, d, scale):
    W_e, X, Y = _problem(rng, n, d, scale)
    M, rows = _moments(X, Y)
    value, grad = _kernel(W_e, M, rows)
    expected, expected_grad = losses.lp(4).value_and_grad_e(W_e, X, Y)
    value_tol, grad_tol = _bounds(W_e, X, Y)
    assert abs(value - expected) <= value_tol, (value, expected, value_tol)
    assert_allclose(grad, expected_grad, rtol=0, atol=grad_tol, err_msg="dL/dW_e")


def test_l4_from_moments_near_a_perfect_fit_is_clipped_at_zero(rng):
    X = rng.standard_normal((50, 3))
    w = rng.standard_normal(3)
    Y = (X @ w)[:, None]
    M, rows = _moments(X, Y)
    value, grad = _kernel(w[None, :], M, rows)
    value_tol, grad_tol = _bounds(w[None, :], X, Y)
    assert 0.0 <= value <= value_tol
    assert np.all(np.abs(grad) <= grad_tol)


def test_l4_from_moments_is_alignment_independent(rng):
    W_e, X, Y = _problem(rng, 45, 7)
    M, rows = _moments(X, Y)
    value, grad = _kernel(W_e, M, rows)
    for offset in (8, 16, 24, 32, 40, 56):
        Xo, Yo = at_offset(X, offset), at_offset(Y, (offset + 8) % 64)
        Mo = at_offset(np.full(M.shape, np.nan), offset)
        loss.fourth_moments(Xo, Yo, at_offset(rows, (offset + 16) % 64), Mo)
        assert_array_equal(Mo, M, err_msg=f"moments at offset {offset}")
        go = at_offset(np.full(W_e.shape, np.nan), (offset + 24) % 64)
        got = loss.l4_moments_value_and_grad_e(at_offset(W_e, offset), Mo, rows, go)
        assert got == value, f"value at offset {offset}"
        assert_array_equal(go, grad, err_msg=f"grad_e at offset {offset}")


def test_l4_from_moments_overflows_to_a_non_finite_loss(rng):
    W_e, X, Y = _problem(rng, 30, 3)
    M, rows = _moments(X, Y)
    # (NumPy scalars warn without the JIT; the loop expects the overflow)
    with np.errstate(over="ignore", invalid="ignore"):
        value, _ = _kernel(np.full((1, 3), 1e90), M, rows)
        assert not np.isfinite(value)  # how a diverging run is detected
        value, _ = _kernel(np.array([[np.nan, 0.0, 0.0]]), M, rows)
        assert np.isnan(value)


@pytest.mark.parametrize("n, d, k, p, expected", [
    (4177, 10, 1, 4.0, True),    # Abalone: 4477 against 83540 multiply-adds per step
    (1316, 128, 1, 4.0, False),  # Ethanol: the pass
    (4177, 10, 1, 2.0, False),   # l2 has its own moments
    (4177, 10, 2, 4.0, False),   # several outputs
    (4177, 10, 1, 3.0, False),   # another p
    (40, 3, 1, 4.0, False),      # too few rows to pay
    (400, 3, 1, 4.0, True),
])
def test_the_form_is_chosen_by_cost(n, d, k, p, expected):
    assert _kernel_data.uses_fourth_moments(n, d, k, p) is expected


def test_the_loop_data_holds_one_form(rng):
    W_e, X, Y = _problem(rng, 400, 3)
    objective = Objective(X, Y, "l4")
    data = _kernel_data.kernel_data(objective, False)
    assert data.X is None and data.C is None and data.M4.shape == (20, 4)
    assert data.M4_rows.shape == (4, 4, 4)
    grad, value = np.empty((1, *W_e.shape)), np.empty(1)  # the loop's loss, on this Data
    kernel_train.losses_into(W_e[None], grad, value, np.ones(1, dtype=np.bool_), data, data.X,
                             data.C, data.M4, data.omega_rows)
    value, grad = value[0], grad[0]
    kernel_value, kernel_grad = _kernel(W_e, data.M4, data.M4_rows)
    assert value == kernel_value
    assert_array_equal(grad, kernel_grad)
    wide = _kernel_data.kernel_data(Objective(X[:40], Y[:40], "l4"), False)
    assert wide.M4 is None and wide.X is not None
    assert _kernel_data.data_kind(objective) == "l4 moments"
