"""Bad input raises ValueError naming the argument."""

import numpy as np
import pytest

from deeplinear import (Objective, e2e_update, e2e_update_single_output, end_to_end,
                        factor_gradients, value_and_grads)

pytestmark = pytest.mark.nojit


@pytest.fixture
def net(rng):
    X = rng.standard_normal((10, 3))
    Y = rng.standard_normal((10, 2))
    factors = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    return factors, X, Y


def test_factor_shape_mismatch(net):
    factors, X, Y = net
    with pytest.raises(ValueError, match=r"factors\[1\] \(W_2\)"):
        end_to_end([factors[0], np.ones((2, 5))])


def test_x_y_shape_mismatch(net):
    factors, X, Y = net
    with pytest.raises(ValueError, match="X"):
        value_and_grads(factors, X[:, :2], Y)
    with pytest.raises(ValueError, match="Y"):
        value_and_grads(factors, X, Y[:7])
    with pytest.raises(ValueError, match=r"W_N"):
        value_and_grads(factors, X, Y[:, :1])
    with pytest.raises(ValueError, match="grad_e"):
        factor_gradients(factors, np.ones((3, 2)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_inputs(net, bad):
    factors, X, Y = net
    for name, args in [("X", (factors, X.copy(), Y)), ("Y", (factors, X, Y.copy())),
                       ("factors", ([factors[0].copy(), factors[1]], X, Y))]:
        arr = {"X": args[1], "Y": args[2], "factors": args[0][0]}[name]
        arr[0, 0] = bad
        with pytest.raises(ValueError, match=name):
            value_and_grads(*args)


def test_depth_zero(net):
    _, X, Y = net
    with pytest.raises(ValueError, match="factors"):
        value_and_grads([], X, Y)
    with pytest.raises(ValueError, match="depth"):
        e2e_update(np.ones((1, 3)), np.ones((1, 3)), 0, 0.1)


@pytest.mark.parametrize("lr", [0.0, -1e-3, np.nan, "0.1"])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="lr"):
        e2e_update(np.ones((1, 3)), np.ones((1, 3)), 2, lr)
    with pytest.raises(ValueError, match="lr"):
        e2e_update_single_output(np.ones((1, 3)), np.ones((1, 3)), 2, lr)


def test_unknown_loss(net):
    factors, X, Y = net
    with pytest.raises(ValueError, match="loss"):
        value_and_grads(factors, X, Y, loss="huber")


def test_negative_weight_decay(net):
    factors, X, Y = net
    with pytest.raises(ValueError, match="weight_decay"):
        Objective(X, Y, weight_decay=-0.1)


@pytest.mark.parametrize("bad, what", [
    (np.ones((10, 3), dtype=int), "float"),
    (np.ones((10, 3), dtype=complex), "float"),
    (np.ones(10), "2-D"),
    (np.ones((10, 3, 1)), "2-D"),
    ([[1.0, 2.0, 3.0]] * 10, "numpy array"),
])
def test_non_float_or_non_2d(net, bad, what):
    factors, X, Y = net
    with pytest.raises(ValueError, match=f"X.*{what}"):
        value_and_grads(factors, bad, Y)
    with pytest.raises(ValueError, match=rf"factors\[0\].*{what}"):
        end_to_end([bad, factors[1]])


def test_single_array_instead_of_list():
    with pytest.raises(ValueError, match="factors.*list"):
        end_to_end(np.ones((2, 3)))


def test_single_output_form_rejects_matrix():
    with pytest.raises(ValueError, match="W_e"):
        e2e_update_single_output(np.ones((2, 3)), np.ones((2, 3)), 2, 0.1)


def test_float32_is_promoted_not_refused(net):
    factors, X, Y = net
    v64, g64 = value_and_grads(factors, X, Y)
    v32, _ = value_and_grads(factors, X.astype(np.float32), Y)
    assert v32 == pytest.approx(v64, rel=1e-6)  # float32 rounding of X, ~6e-8 relative


def test_network_is_blocked_in_tests():
    import socket
    import urllib.request

    with pytest.raises(RuntimeError, match="network"):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(Exception):
        urllib.request.urlopen("http://archive.ics.uci.edu/", timeout=1)
