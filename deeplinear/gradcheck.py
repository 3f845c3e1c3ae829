r"""Finite-difference gradient checking, as a library function students call.

Centred differences approximate a derivative with error

.. math::

    \frac{f(x + h e_i) - f(x - h e_i)}{2h}
        = \frac{\partial f}{\partial x_i} + O(h^2) + O\!\left(\frac{\epsilon \lvert f \rvert}{h}\right)

The first term (truncation) falls as :math:`h` shrinks; the second (rounding
in :math:`f`) rises. In float64 (:math:`\epsilon \approx 2.2 \cdot 10^{-16}`)
the two balance near :math:`h` between :math:`10^{-6}` and :math:`10^{-5}`,
where the error is of order :math:`10^{-9}` relative (tutorial 1 measures
3.8e-9 at its best :math:`h`, 4.6e-6), far below any mistake in a derivation.

References
----------
.. [1] CS231n, Stanford: "Gradient checks", in the course notes on neural
   networks (centred differences, relative error with a small floor).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_factors, check_positive

__all__ = ["numerical_gradient", "rel_error", "max_rel_error", "check_factor_gradients"]


def numerical_gradient(f, x, h=1e-6) -> np.ndarray:
    """Centred finite-difference gradient of a scalar function.

    Each entry of ``x`` is moved by +h and -h in place, ``f`` is evaluated
    (it must read ``x``), and the entry is restored exactly afterwards, even
    if ``f`` raises.

    Parameters
    ----------
    f : callable
        ``f()`` or ``f(x)`` returning a float; it is called as ``f(x)``.
    x : ndarray, any shape, float64
        The point; modified during the call and restored.
    h : float, default 1e-6
        Step.

    Returns
    -------
    ndarray, shape of x
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise ValueError("x: expected a float64 numpy array (it is perturbed in place)")
    h = check_positive(h, "h")
    # BEGIN SOLUTION numerical_gradient: centred differences: grad[i] = (f(x + h e_i) - f(x - h
    #   e_i)) / (2h) for every entry i of x, restoring x[i] afterwards (even if f raises)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        try:
            x[i] = old + h
            f_plus = f(x)
            x[i] = old - h
            f_minus = f(x)
        finally:
            x[i] = old
        grad[i] = (f_plus - f_minus) / (2.0 * h)
    return grad
    # END SOLUTION


def rel_error(a, b) -> float:
    """Largest entrywise relative error ``|a - b| / max(1e-8, |a| + |b|)``.

    The 1e-8 floor keeps entries where both values are ~0 from dividing by
    zero. Entries that are tiny but not zero can still show a large ratio
    from rounding alone; :func:`~deeplinear.gradcheck.max_rel_error` measures against the scale of
    the whole array instead.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def max_rel_error(a, b, scale=None) -> float:
    """Largest entrywise error relative to a scale: ``max|a-b| / max(1e-8, scale)``.

    ``scale`` defaults to ``max|a| + max|b|``. A wrong formula (a missing
    transpose, a factor in the wrong place) makes this O(1); finite-difference
    noise keeps it of order 1e-9 (1.6e-9 to 2.1e-9 in the README's first
    example, through :func:`check_factor_gradients`).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if scale is None:
        scale = float(np.max(np.abs(a)) + np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / max(1e-8, scale))


def check_factor_gradients(factors, X, Y, loss="l2", weight_decay=0.0, h=1e-6) -> list[float]:
    r"""Compare :func:`~deeplinear.value_and_grads` with finite differences.

    Parameters
    ----------
    factors : list of ndarray, shape (d_j, d_{j-1})
        Not modified.
    X : ndarray, shape (n, d_0)
    Y : ndarray, shape (n, d_N)
    loss : str or Loss, default "l2"
    weight_decay : float, default 0.0
    h : float, default 1e-6

    Returns
    -------
    list of float
        One error per factor: the largest entrywise difference between the
        hand-derived and the numerical gradient of that factor, divided by
        the largest gradient entry of the whole network (analytic plus
        numeric). Expect 1e-8 or less.

    Notes
    -----
    Why the whole network's scale: finite differences err by about
    :math:`\epsilon \lvert F \rvert / h` in absolute terms, whatever the size of
    the gradient. One factor can sit at a near-stationary point (entries of
    1e-5 while the others are 1e-2), where that noise is 1e-5 of its own
    gradient although nothing is wrong. A wrong formula still shows up as an
    error of the size of that factor's gradient.
    """
    factors = [W.copy() for W in as_factors(factors)]
    from .objective import Objective  # here, so numerical_gradient needs only this file

    objective = Objective(X, Y, loss, weight_decay)
    _, grads = objective.value_and_grads(factors)
    numeric = [numerical_gradient(lambda _: objective.value(factors), W, h) for W in factors]
    scale = max(float(np.max(np.abs(g))) for g in grads) + max(
        float(np.max(np.abs(g))) for g in numeric)
    return [max_rel_error(g, num, scale) for g, num in zip(grads, numeric)]
