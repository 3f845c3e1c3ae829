"""Part 2, loss_gradient: ``Loss.grad_pred`` and ``Loss.value_and_grad_e`` in
``deeplinear/losses.py``.

The loss is ``L = mean(|pred - Y|^p)`` over all ``n * k`` entries, with
predictions ``pred = X @ W_e.T`` (``losses.lp(p)``; ``losses.l2`` is ``lp(2)``).

What is tested (public part; more tests are run when you hand in):

* ``lp(p).grad_pred(pred, Y)`` for l2 and l4;
* ``lp(p).value_and_grad_e(W_e, X, Y)`` for l2 and l4: the value, and the
  gradient with respect to ``W_e`` (shape ``(k, d)``).

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
    run_grad_pred(student, cases("loss/l2"), "l2, pred of shape (7, 2)")


@pytest.mark.points(1.5)
def test_grad_pred_l4_several_outputs(cases, student):
    run_grad_pred(student, cases("loss/l4"), "l4, pred of shape (6, 3)")


@pytest.mark.points(1.5)
def test_value_and_grad_e_l2(cases, student):
    run_value_and_grad_e(student, cases("loss/l2"), "l2, W_e of shape (2, 4)")


@pytest.mark.points(1.5)
def test_value_and_grad_e_l4(cases, student):
    run_value_and_grad_e(student, cases("loss/l4"), "l4, W_e of shape (3, 3)")
