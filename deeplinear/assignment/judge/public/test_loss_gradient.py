"""Part 2, loss_gradient: ``Loss.grad_pred`` and ``Loss.value_and_grad_e`` in
``deeplinear/losses.py``.

The loss is ``L = mean(|pred - Y|^p)`` over all ``n * k`` entries, with
predictions ``pred = X @ W_e.T`` (``losses.lp(p)``; ``losses.l2`` is ``lp(2)``).

What is tested (public part; more tests are run when you hand in):

* ``lp(p).grad_pred(pred, Y)`` for l2 and l4;
* ``lp(p).value_and_grad_e(W_e, X, Y)`` for l2 and l4: the value, and the
  gradient with respect to ``W_e`` (shape ``(k, d)``).

The cases are wide: ``pred``, ``Y`` and ``X`` of shape ``(500, 200)``, ``W_e`` of
``(200, 200)``. The formula takes a few milliseconds there, while differentiating entry by entry (finite differences,
the complex step) evaluates the loss once or twice per entry and runs for
minutes, past the 10 s a call may take: the part asks for the formula.

Expected values are stored arrays (cases.npz beside the tests; when you hand in, fresh inputs of the same
shapes and kinds), compared to
1e-11 relative to the largest entry: an exact formula gets there, centred
finite differences do not (use them to debug, see ``numerical_gradient``).
"""

import pytest

from deeplinear.assignment.judge.checks.loss_gradient import run_grad_pred, run_value_and_grad_e

pytestmark = pytest.mark.part("loss_gradient")


@pytest.mark.points(1.5)
def test_grad_pred_l2(cases, student):
    case = cases("loss/l2-wide")
    run_grad_pred(student, case, f"l2, pred of shape {case['pred'].shape}")


@pytest.mark.points(1.5)
def test_grad_pred_l4_several_outputs(cases, student):
    case = cases("loss/l4-wide")
    run_grad_pred(student, case, f"l4, pred of shape {case['pred'].shape}")


@pytest.mark.points(1.5)
def test_value_and_grad_e_l2(cases, student):
    case = cases("loss/l2-wide")
    run_value_and_grad_e(student, case, f"l2, W_e of shape {case['W_e'].shape}")


@pytest.mark.points(1.5)
def test_value_and_grad_e_l4(cases, student):
    case = cases("loss/l4-wide")
    run_value_and_grad_e(student, case, f"l4, W_e of shape {case['W_e'].shape}")
