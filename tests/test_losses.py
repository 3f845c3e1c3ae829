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
def test_fused_kernel_matches_numpy_twin(rng, p, k):
    W_e, X, Y = _data(rng, n=57, d=6, k=k)
    loss = losses.lp(p)
    v_fast, g_fast = loss.value_and_grad_e(W_e, X, Y)
    v_ref, g_ref = loss.value_and_grad_e_reference(W_e, X, Y)
    # 1e-12 relative: sums of 57 * 6 terms, rounding ~ 1e-14; pow vs products ~ 1 ulp.
    assert v_fast == pytest.approx(v_ref, rel=1e-12)
    assert_allclose(g_fast, g_ref, rtol=1e-12, atol=1e-12 * np.abs(g_ref).max(),
                    err_msg=f"fused l{p} kernel differs from the NumPy twin")


@pytest.mark.parametrize("k", [1, 2])
def test_l2_gram_path_matches_residual_path(rng, k):
    W_e, X, Y = _data(rng, n=300, d=7, k=k)
    obj = Objective(X, Y, "l2")
    assert obj.gram is not None
    v_gram, g_gram = obj.data_loss_and_grad_e(W_e)
    v_ref, g_ref = losses.l2.value_and_grad_e_reference(W_e, X, Y)
    # The Gram form loses about eps * ||Y||^2/n absolutely; the loss here is O(1).
    assert v_gram == pytest.approx(v_ref, rel=1e-12)
    assert_allclose(g_gram, g_ref, rtol=1e-12, atol=1e-12 * np.abs(g_ref).max())


def test_l4_uses_no_gram_and_is_exact_at_zero_residual(rng):
    X = rng.standard_normal((10, 3))
    W_e = rng.standard_normal((1, 3))
    Y = X @ W_e.T
    value, grad = Objective(X, Y, "l4").data_loss_and_grad_e(W_e)
    assert value == 0.0 and np.all(grad == 0.0)


@pytest.mark.parametrize("bad", ["l1", "mse", "l", 3, None, "l-2"])
def test_unknown_loss_names_argument(bad):
    with pytest.raises(ValueError, match="loss"):
        losses.get_loss(bad)


def test_lp_rejects_p_at_most_one():
    with pytest.raises(ValueError, match="p"):
        losses.lp(1)
