"""Part 4, sgd: ``deeplinear.optim.SGD.update(p, g, state)``.

One step of torch.optim.SGD's rule on one parameter, in place on ``p`` and
``state["momentum_buffer"]`` (see the docstring of ``deeplinear.optim.SGD``;
the hyperparameters are attributes of the optimizer, ``self.t`` is the step
number, from 1). ``SGD.step`` calls it for every parameter.

What is tested (public part; more tests are run when you hand in): plain
SGD, momentum over several steps (including the first step t = 1, which
initialises the buffer), and weight decay. The tests build ``SGD([p], ...)``,
call ``step([g])`` a few times and compare ``p`` and the buffer after every
step with stored expected arrays (cases.npz beside the tests; when you hand in, fresh inputs of the same
shapes and kinds).
"""

import pytest

from deeplinear.assignment.judge.checks.optimizers import run_optimizer

pytestmark = pytest.mark.part("sgd")


@pytest.mark.points(2)
def test_plain_sgd(cases, student):
    run_optimizer(student, "SGD", cases("sgd/plain"))


@pytest.mark.points(2)
def test_momentum_several_steps(cases, student):
    run_optimizer(student, "SGD", cases("sgd/momentum"))


@pytest.mark.points(2)
def test_weight_decay_with_momentum(cases, student):
    run_optimizer(student, "SGD", cases("sgd/weight-decay"))
