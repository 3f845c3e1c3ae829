"""Gradient descent read in mode coordinates, for tests/test_modes.py: the library's
``experiments.problems.simulate_modes`` (``spectral.spectrum_trajectory``, segments of
plain gradient descent, one run bit for bit, read with ``modes.mode_strengths``), which
must not diverge.
"""

from deeplinear.experiments.problems import simulate_modes as _simulate

__all__ = ["simulate_modes"]


def simulate_modes(factors, problem, *, lr, steps, record_every):
    """``(times, sigma, off)`` of ``problems.simulate_modes``; fails if GD diverged."""
    times, sigma, off, run = _simulate(factors, problem, lr=lr, steps=steps, every=record_every)
    assert not run.diverged, f"gradient descent diverged at lr {lr}"
    return times, sigma, off
