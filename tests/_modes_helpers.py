"""Gradient descent read in mode coordinates, for tests/test_modes.py: the library's
``spectral.spectrum_trajectory`` (segments of plain gradient descent, one run bit for
bit) read with ``deeplinear.modes.mode_strengths``.
"""

from deeplinear import Objective
from deeplinear.modes import mode_strengths
from deeplinear.spectral import spectrum_trajectory

__all__ = ["simulate_modes"]


def simulate_modes(factors, problem, *, lr, steps, record_every):
    """Plain gradient descent (l2) from ``factors``, recorded every ``record_every`` steps.

    Returns
    -------
    times : ndarray, shape (T,)
        ``lr * step`` at each record, 0 first.
    sigma : ndarray, shape (T, r)
        Mode strengths ``diag(U^T W_e V)`` at each record.
    off : ndarray, shape (T,)
        ``||W_e - U diag(sigma) V^T||_F`` at each record.
    """
    run = spectrum_trajectory(factors, Objective(problem.X, problem.Y, "l2"), lr=lr,
                              steps=steps, every=record_every)
    assert not run.diverged, f"gradient descent diverged at lr {lr}"
    sigma, off = mode_strengths(run.W_e, problem)
    return lr * run.steps.astype(float), sigma, off
