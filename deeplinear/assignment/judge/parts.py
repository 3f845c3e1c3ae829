"""The student parts of the assignment, in the order a student meets them.

Each part has one or more solution regions in the library source (see
``release``) and grading tests marked ``@pytest.mark.part(name)`` in
``tests/grading`` (public) and ``tests/hidden`` (hidden). To add a part: add
it here, mark its region(s), and write its tests with ``points``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Part", "PARTS"]


@dataclass(frozen=True)
class Part:
    name: str
    title: str
    where: str


PARTS = {p.name: p for p in [
    Part("numerical_gradient", "Finite-difference gradient check",
         "deeplinear/gradcheck.py: numerical_gradient"),
    Part("loss_gradient", "Gradient of the lp loss",
         "deeplinear/losses.py: Loss.grad_pred, Loss.value_and_grad_e"),
    Part("factor_gradients", "Gradients of every factor of a deep linear network",
         "deeplinear/network.py: factor_gradients"),
    Part("sgd", "One SGD step (momentum, dampening, Nesterov, weight decay)",
         "deeplinear/optim/sgd.py: SGD.update"),
    Part("adam", "One Adam step (bias correction, AMSGrad, weight decay)",
         "deeplinear/optim/adam.py: Adam.update"),
    Part("balanced_init", "The balanced initializer",
         "deeplinear/init.py: balanced"),
    Part("e2e_update", "The end-to-end update of Theorem 1",
         "deeplinear/dynamics.py: e2e_update, e2e_update_single_output"),
]}
