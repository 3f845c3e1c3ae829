"""Loss values and gradients against their definitions."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deeplinear import losses
from deeplinear.gradcheck import numerical_gradient
from deeplinear.objective import Objective

pytestmark = pytest.mark.nojit


def _data(rng, n=40, d=5, k=2):
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, k))
    W_e = rng.standard_normal((k, d)) / np.sqrt(d)
    return W_e, X, Y


def test_l2_is_mean_squared_error(rng):
    W_e, X, Y = _data(rng)
    pred = X @ W_e.T
    manual = sum((pred[i, a] - Y[i, a]) ** 2 for i in range(40) for a in range(2)) / 80
    assert losses.l2.value(pred, Y) == pytest.approx(manual, rel=1e-13)
    assert losses.get_loss("l2") is not None and losses.get_loss("L4").p == 4.0


@pytest.mark.parametrize("p", [2, 3, 4, 2.5])
def test_grad_pred_matches_finite_differences(rng, p):
    W_e, X, Y = _data(rng, n=6, k=2)
    loss = losses.lp(p)
    pred = X @ W_e.T
    numeric = numerical_gradient(lambda P: loss.value(P, Y), pred.copy(), h=1e-6)
    # Centred differences: O(h^2) truncation + O(eps/h) rounding, ~1e-10 here.
    assert_allclose(loss.grad_pred(pred, Y), numeric, rtol=1e-6, atol=1e-9,
                    err_msg=f"grad_pred of l{p} is wrong")


@pytest.mark.parametrize("p", [2, 4, 3.5])
@pytest.mark.parametrize("k", [1, 3])
def test_value_and_grad_e_matches_entrywise_sums(rng, p, k):
    n, d = 17, 4
    W_e, X, Y = _data(rng, n=n, d=d, k=k)
    loss = losses.lp(p)
    value, grad_e = loss.value_and_grad_e(W_e, X, Y)
    # The definition, one entry at a time with Python floats:
    # L = sum_ia |r_ia|^p / (n k), dL/dW_e[a, c] = sum_i p |r_ia|^(p-1) sign(r_ia) X[i, c] / (n k).
    r = [[sum(W_e[a, c] * X[i, c] for c in range(d)) - Y[i, a] for a in range(k)]
         for i in range(n)]
    manual = sum(abs(r[i][a]) ** p for i in range(n) for a in range(k)) / (n * k)
    manual_grad = np.array([[sum(p * abs(r[i][a]) ** (p - 1) * np.sign(r[i][a]) * X[i, c]
                                 for i in range(n)) / (n * k) for c in range(d)]
                            for a in range(k)])
    # 1e-12 relative: sums of 17 * 4 terms in another order, rounding ~ 1e-15.
    assert value == pytest.approx(manual, rel=1e-12), f"value of l{p}"
    assert grad_e.shape == W_e.shape
    assert_allclose(grad_e, manual_grad, rtol=1e-12, atol=1e-12 * np.abs(manual_grad).max(),
                    err_msg=f"dL/dW_e of l{p} differs from its entrywise definition")
    assert_allclose(loss.grad_e(W_e, X, Y), grad_e, rtol=0, atol=0)


def test_value_and_grad_e_matches_finite_differences(rng):
    W_e, X, Y = _data(rng, n=8, k=2)
    loss = losses.lp(4)
    numeric = numerical_gradient(lambda W: loss.value_and_grad_e(W, X, Y)[0], W_e.copy(), h=1e-6)
    # Centred differences: O(h^2) truncation + O(eps/h) rounding, ~1e-9 here.
    assert_allclose(loss.value_and_grad_e(W_e, X, Y)[1], numeric, rtol=1e-6, atol=1e-8,
                    err_msg="value_and_grad_e of l4 disagrees with finite differences")


def test_value_and_grad_e_checks_its_input(rng):
    W_e, X, Y = _data(rng)
    with pytest.raises(ValueError, match="X"):
        losses.l2.value_and_grad_e(W_e, X[:, :3], Y)
    with pytest.raises(ValueError, match="Y"):
        losses.l2.value_and_grad_e(W_e, X, Y[:, :1])
    bad = W_e.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="W_e"):
        losses.l2.value_and_grad_e(bad, X, Y)


def test_check_false_skips_the_checks_and_changes_no_number(rng, monkeypatch):
    W_e, X, Y = _data(rng, n=30, d=4, k=2)
    for p in (2, 4):
        loss = losses.lp(p)
        v, g = loss.value_and_grad_e(W_e, X, Y)
        v_fast, g_fast = loss.value_and_grad_e(W_e, X, Y, check=False)
        assert v_fast == v and np.array_equal(g_fast, g)
    checked = []
    monkeypatch.setattr(losses, "check_data", lambda *a, **k: checked.append(1) or a[:2])
    losses.l2.value_and_grad_e(W_e, X, Y, check=False)
    assert checked == []
    losses.l2.value_and_grad_e(W_e, X, Y)
    assert checked == [1]


def test_objective_data_loss_is_the_loss_of_w_e(rng):
    W_e, X, Y = _data(rng, n=30, d=4, k=2)
    for name in ("l2", "l4"):
        v, g = Objective(X, Y, name).value_and_grad_e(W_e)
        v_ref, g_ref = losses.get_loss(name).value_and_grad_e(W_e, X, Y)
        assert v == v_ref and np.array_equal(g, g_ref), name


def test_l4_uses_no_gram_and_is_exact_at_zero_residual(rng):
    X = rng.standard_normal((10, 3))
    W_e = rng.standard_normal((1, 3))
    Y = X @ W_e.T
    value, grad = Objective(X, Y, "l4").value_and_grad_e(W_e)
    assert value == 0.0 and np.all(grad == 0.0)


@pytest.mark.parametrize("bad", ["l1", "mse", "l", 3, None, "l-2"])
def test_unknown_loss_names_argument(bad):
    with pytest.raises(ValueError, match="loss"):
        losses.get_loss(bad)


def test_lp_rejects_p_at_most_one():
    with pytest.raises(ValueError, match="p"):
        losses.lp(1)
