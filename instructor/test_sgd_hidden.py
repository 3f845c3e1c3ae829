"""Hidden tests of part sgd: Nesterov momentum, dampening, 2-D arrays with every option.

Expected values are torch.optim.SGD's scalar recurrence, run entry by entry
in the judge's reference.
"""

import pytest
from gradereference import sgd_case

from deeplinear.assignment.judge.checks.optimizers import run_optimizer

pytestmark = pytest.mark.part("sgd")


@pytest.mark.points(1.5)
def test_nesterov(student):
    run_optimizer(student, "SGD", sgd_case(301, (1, 6), 5, lr=0.1, momentum=0.8, nesterov=True),
                  hints=False)


@pytest.mark.points(1.5)
def test_dampening_first_step_is_undampened(student):
    # At t = 1 the buffer is g itself (no dampening); from t = 2 on it is
    # mu buf + (1 - dampening) g. The starting buffer holds garbage that t = 1
    # must overwrite, not mix in.
    run_optimizer(student, "SGD", sgd_case(302, (1, 5), 4, buf0=True, lr=0.2, momentum=0.7,
                                           dampening=0.4), hints=False)


@pytest.mark.points(1)
def test_two_dimensional_everything(student):
    # A resumed run (t starts at 3, with a non-zero buffer), on a 2-D array.
    run_optimizer(student, "SGD", sgd_case(303, (3, 4), 3, t0=3, buf0=True, lr=0.05,
                                           momentum=0.9, nesterov=True, weight_decay=0.1),
                  hints=False)
