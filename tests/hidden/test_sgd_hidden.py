"""Hidden tests of part sgd: Nesterov momentum, dampening, 2-D arrays with every option.

Expected values are torch.optim.SGD's scalar recurrence, run entry by entry
(tests/gradelib.py).
"""

import pytest

from gradelib import run_sgd

pytestmark = pytest.mark.part("sgd")


@pytest.mark.points(1.5)
def test_nesterov(rng):
    run_sgd(rng, (6,), dict(lr=0.1, mu=0.8, tau=0.0, nesterov=True, wd=0.0), steps=5, hints=False)


@pytest.mark.points(1.5)
def test_dampening_first_step_is_undampened(rng):
    # At t = 1 the buffer is g itself (no dampening); from t = 2 on it is
    # mu buf + (1 - dampening) g. The starting buffer holds garbage that t = 1
    # must overwrite, not mix in.
    shape = (5,)
    run_sgd(rng, shape, dict(lr=0.2, mu=0.7, tau=0.4, nesterov=False, wd=0.0), steps=4,
            buf0=rng.standard_normal(shape), hints=False)


@pytest.mark.points(1)
def test_two_dimensional_everything(rng):
    # A resumed run (t starts at 3, with a non-zero buffer), on a 2-D array.
    shape = (3, 4)
    run_sgd(rng, shape, dict(lr=0.05, mu=0.9, tau=0.0, nesterov=True, wd=0.1), steps=3, t0=3,
            buf0=rng.standard_normal(shape), hints=False)
