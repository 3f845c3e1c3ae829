"""Hidden tests of part adam: AMSGrad, weight decay (an L2 term added to the
gradient, not AdamW's decoupled decay), both together on a 2-D array.

Expected values are torch.optim.Adam's scalar recurrence, run entry by entry
(tests/gradelib.py).
"""

import numpy as np
import pytest

from gradelib import run_adam

pytestmark = pytest.mark.part("adam")


@pytest.mark.points(2)
def test_amsgrad(rng):
    # Gradients that shrink after two large ones: v falls below its running
    # maximum, so AMSGrad's step differs from Adam's.
    run_adam(rng, (6,), dict(lr=0.01, b1=0.9, b2=0.9, eps=1e-8, wd=0.0, amsgrad=True), steps=6,
             grad_scales=[3.0, 2.0, 0.3, 0.2, 0.1, 0.5], hints=False)


@pytest.mark.points(2)
def test_weight_decay_is_added_to_the_gradient(rng):
    # The L2 term enters m and v (torch.optim.Adam), unlike AdamW's decoupled decay.
    run_adam(rng, (5,), dict(lr=0.01, b1=0.8, b2=0.99, eps=1e-8, wd=0.5, amsgrad=False), steps=4,
             hints=False)


@pytest.mark.points(2)
def test_amsgrad_weight_decay_two_dimensional_resumed(rng):
    # A resumed run (t from 4, non-zero moments, vmax above v) on a 2-D array.
    shape = (3, 4)
    m0 = 0.1 * rng.standard_normal(shape)
    v0 = 0.5 * np.abs(rng.standard_normal(shape))
    vmax0 = v0 + np.abs(rng.standard_normal(shape))
    run_adam(rng, shape, dict(lr=0.02, b1=0.9, b2=0.95, eps=1e-3, wd=0.2, amsgrad=True), steps=3,
             t0=4, grad_scales=[0.5, 1.0, 0.2], state0=[m0, v0, vmax0], hints=False)
