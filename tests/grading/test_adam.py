"""Part 5, adam: ``deeplinear.optim.adam_update_reference(p, g, m, v, vmax, t, lr, beta1,
beta2, eps, weight_decay, amsgrad)``.

One step of torch.optim.Adam's rule, in place on ``p``, ``m``, ``v`` (and
``vmax`` with AMSGrad); see the docstring of ``deeplinear.optim.Adam``::

    g    <- g + weight_decay * p                    (if weight_decay != 0)
    m    <- beta1 m + (1 - beta1) g
    v    <- beta2 v + (1 - beta2) g^2
    vmax <- max(vmax, v);  v_used = vmax if amsgrad else v
    p    <- p - lr / (1 - beta1^t) * m / (sqrt(v_used) / sqrt(1 - beta2^t) + eps)

What is tested (public part; AMSGrad and weight decay are tested when you
hand in): the first step, several steps with the default betas, and other
values of lr, betas and eps (with an eps large enough that where it is added
matters). Expected values are the scalar recurrence above, run entry by entry
in tests/gradelib.py.
"""

import pytest

from gradelib import run_adam

pytestmark = pytest.mark.part("adam")


DEFAULTS = dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, amsgrad=False)


@pytest.mark.points(3)
def test_first_step(rng):
    # With |g| >> eps the first step is about -lr * sign(g).
    run_adam(rng, (8,), DEFAULTS, steps=1)


@pytest.mark.points(3)
def test_several_steps_default_betas(rng):
    run_adam(rng, (6,), DEFAULTS, steps=6)


@pytest.mark.points(3)
def test_other_hyperparameters(rng):
    # eps = 0.1 is comparable to sqrt(v_hat): adding eps inside the square
    # root, or before the bias correction, gives a visibly different step.
    run_adam(rng, (5,), dict(lr=0.05, b1=0.5, b2=0.8, eps=0.1, wd=0.0, amsgrad=False), steps=4)
