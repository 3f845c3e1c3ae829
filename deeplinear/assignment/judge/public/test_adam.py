"""Part 5, adam: ``deeplinear.optim.Adam.update(p, g, state)``.

One step of torch.optim.Adam's rule on one parameter, in place on ``p`` and
``state["exp_avg"]`` (m), ``state["exp_avg_sq"]`` (v) and, with AMSGrad,
``state["max_exp_avg_sq"]`` (vmax); see the docstring of
``deeplinear.optim.Adam``.

What is tested (public part; AMSGrad and weight decay are tested when you
hand in): the first step, several steps with the default betas, and other
values of lr, betas and eps (with an eps large enough that where it is added
matters). The tests build ``Adam([p], ...)``, call ``step([g])`` and compare
``p``, m and v after every step with stored expected arrays.
"""

import pytest

from deeplinear.assignment.judge.checks.optimizers import run_optimizer

pytestmark = pytest.mark.part("adam")


@pytest.mark.points(3)
def test_first_step(cases, student):
    # With |g| >> eps the first step is about -lr * sign(g).
    run_optimizer(student, "Adam", cases("adam/first-step"))


@pytest.mark.points(3)
def test_several_steps_default_betas(cases, student):
    run_optimizer(student, "Adam", cases("adam/several-steps"))


@pytest.mark.points(3)
def test_other_hyperparameters(cases, student):
    # eps = 0.1 is comparable to sqrt(v_hat): adding eps inside the square
    # root, or before the bias correction, gives a visibly different step.
    run_optimizer(student, "Adam", cases("adam/other"))
