"""Hidden tests of part adam: AMSGrad, weight decay (an L2 term added to the
gradient, not AdamW's decoupled decay), both together on a 2-D array.

Expected values are torch.optim.Adam's scalar recurrence, run entry by entry
in the judge's reference.
"""

import pytest
from gradereference import adam_case

from deeplinear.assignment.judge.checks.optimizers import run_optimizer

pytestmark = pytest.mark.part("adam")


@pytest.mark.points(2)
def test_amsgrad(student):
    # Gradients that shrink after two large ones: v falls below its running
    # maximum, so AMSGrad's step differs from Adam's.
    run_optimizer(student, "Adam", adam_case(401, (1, 6), 6, lr=0.01, betas=[0.9, 0.9],
                                             amsgrad=True,
                                             grad_scales=[3.0, 2.0, 0.3, 0.2, 0.1, 0.5]),
                  hints=False)


@pytest.mark.points(2)
def test_weight_decay_is_added_to_the_gradient(student):
    # The L2 term enters m and v (torch.optim.Adam), unlike AdamW's decoupled decay.
    run_optimizer(student, "Adam", adam_case(402, (1, 5), 4, lr=0.01, betas=[0.8, 0.99],
                                             weight_decay=0.5), hints=False)


@pytest.mark.points(2)
def test_amsgrad_weight_decay_two_dimensional_resumed(student):
    # A resumed run (t from 4, non-zero moments, vmax above v) on a 2-D array.
    run_optimizer(student, "Adam", adam_case(403, (3, 4), 3, t0=4, state0=True,
                                             grad_scales=[0.5, 1.0, 0.2], lr=0.02,
                                             betas=[0.9, 0.95], eps=1e-3, weight_decay=0.2,
                                             amsgrad=True), hints=False)
