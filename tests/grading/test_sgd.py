"""Part 4, sgd: ``deeplinear.optim.sgd_update_reference(p, g, buf, t, lr, momentum,
dampening, nesterov, weight_decay)``.

One step of torch.optim.SGD's rule, in place on ``p`` and ``buf`` (see the
docstring of ``deeplinear.optim.SGD``)::

    g <- g + weight_decay * p                      (if weight_decay != 0)
    buf <- g  (t = 1),  buf <- mu buf + (1 - dampening) g  (t > 1)   (if mu != 0)
    g <- g + mu buf  if nesterov  else  g <- buf                     (if mu != 0)
    p <- p - lr g

What is tested (public part; more tests are run when you hand in): plain
SGD, momentum over several steps (including the first step t = 1, which
initialises the buffer), and weight decay. Expected values are the scalar
recurrence above, run entry by entry in tests/gradelib.py.
"""

import pytest

from gradelib import run_sgd

pytestmark = pytest.mark.part("sgd")


@pytest.mark.points(2)
def test_plain_sgd(rng):
    run_sgd(rng, (7,), dict(lr=0.1, mu=0.0, tau=0.0, nesterov=False, wd=0.0), steps=3)


@pytest.mark.points(2)
def test_momentum_several_steps(rng):
    run_sgd(rng, (6,), dict(lr=0.05, mu=0.9, tau=0.0, nesterov=False, wd=0.0), steps=5)


@pytest.mark.points(2)
def test_weight_decay_with_momentum(rng):
    run_sgd(rng, (5,), dict(lr=0.1, mu=0.5, tau=0.0, nesterov=False, wd=0.3), steps=4)
