r"""Exact learning dynamics of deep linear networks, one mode at a time (Saxe et al. 2014).

With whitened inputs (:math:`X^\top X / n = I`), a target :math:`W^* = U \operatorname{diag}(s)
V^\top` and a small balanced start :math:`W_e(0) = U \operatorname{diag}(a_0) V^\top`, gradient
descent keeps :math:`W_e = U \operatorname{diag}(\sigma) V^\top`: each mode is a scalar network
:math:`\sigma = w^N` whose :math:`N` weights stay equal. Our l2 loss is the mean over the
:math:`n k` entries (:math:`k = d_N`); in the time :math:`t = \eta \cdot \text{steps}` (learning
rate :math:`\eta`) the flow :math:`\dot w = -c (w^N - s) w^{N-1}` gives

.. math::

    L(W_e) &= \frac{1}{nk} \lVert X (W_e - W^*)^\top \rVert_F^2
            = \frac{1}{k} \lVert W_e - W^* \rVert_F^2, \qquad
    \nabla L(W_e) = c\,(W_e - W^*), \quad c = \frac{2}{k} \\
    \frac{d\sigma}{dt} &= N c\, \sigma^{2 - 2/N} (s - \sigma), \qquad
    \sigma(t) = \frac{s}{1 + (s/a_0 - 1)\, e^{-2 c s t}} \ (N = 2), \qquad
    \sigma(t) = s - (s - a_0)\, e^{-c t} \ (N = 1),

the balanced end-to-end flow in singular-value form (Arora, Cohen & Hazan 2018), integrated here
(RK4, Dormand-Prince) at :math:`N \ge 3`. Gradient descent, the Euler method of :math:`\dot w`,
is within :math:`O(\eta)` of these curves over a fixed horizon.

References: Saxe, McClelland & Ganguli, "Exact solutions to the nonlinear dynamics of learning
in deep linear neural networks", ICLR 2014; Arora, Cohen & Hazan, "On the Optimization of Deep
Networks: Implicit Acceleration by Overparameterization", ICML 2018; Dormand & Prince, "A
family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._validation import as_rng, check_depth, check_positive
from .init import balanced, haar_columns

__all__ = ["WhitenedProblem", "whitened_problem", "aligned_start", "mode_strengths", "mode_rate",
           "mode_curve", "integrate_rk4", "integrate_dopri5", "plateau_time"]


@dataclass(frozen=True, eq=False)
class WhitenedProblem:
    """Regression data with whitened inputs and a target of chosen singular values.

    Attributes
    ----------
    X, Y : ndarray, shapes (n, d_in) and (n, d_out)
        ``X.T @ X / n = I`` up to rounding; ``Y = X @ W_star.T``, noiseless.
    W_star, U, s, V : ndarray, shapes (d_out, d_in), (d_out, r), (r,), (d_in, r)
        ``W_star = U @ diag(s) @ V.T``: orthonormal columns, ``s > 0`` as given. Read-only.
    c : float
        The l2 loss constant ``2 / d_out`` of ``grad_e = c (W_e - W_star)``.
    """

    X: np.ndarray
    Y: np.ndarray
    W_star: np.ndarray
    U: np.ndarray
    s: np.ndarray
    V: np.ndarray

    @property
    def c(self) -> float:
        return 2.0 / self.Y.shape[1]


def _count(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _positive_vector(a, name, size=None):
    """``a`` as a 1-D float64 array of finite values > 0 (a scalar is repeated to ``size``)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected real numbers, got {a!r}")
    arr = np.full(size, float(arr)) if arr.ndim == 0 and size else arr.astype(np.float64)
    if arr.ndim != 1 or arr.size == 0 or (size is not None and arr.size != size):
        want = f"shape ({size},) or a scalar" if size is not None else "a non-empty 1-D array"
        raise ValueError(f"{name}: expected {want}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name}: expected finite values > 0, got {arr}")
    return arr


def whitened_problem(singular_values, d_in, d_out, n=None, rng=None) -> WhitenedProblem:
    r"""A seeded regression problem with whitened inputs and a target of given singular values.

    .. math::

        X = \sqrt{n}\, Q \ (Q^\top Q = I_{d_{in}}), \qquad
        W^* = U \operatorname{diag}(s) V^\top, \qquad Y = X W^{*\top}

    with ``U`` (d_out, r), ``V`` (d_in, r) and ``Q`` (n, d_in) Haar-random orthonormal
    columns, drawn in that order from ``rng``.

    Parameters
    ----------
    singular_values : array_like, shape (r,)
        The target's singular values ``s``, each > 0, ``r <= min(d_in, d_out)``.
    d_in, d_out : int
        Input and output dimensions ``d_0`` and ``d_N``.
    n : int, optional
        Number of samples, ``>= d_in`` (default ``d_in``).
    rng : int, None or numpy.random.Generator

    Returns
    -------
    WhitenedProblem
    """
    s = _positive_vector(singular_values, "singular_values")
    d_in, d_out = _count(d_in, "d_in", 1), _count(d_out, "d_out", 1)
    if s.size > min(d_in, d_out):
        raise ValueError(f"singular_values: {s.size} values, but a ({d_out}, {d_in}) target "
                         f"has at most min(d_in, d_out) = {min(d_in, d_out)}")
    n, rng = (d_in if n is None else _count(n, "n", d_in)), as_rng(rng)
    U, V = haar_columns(rng, d_out, s.size), haar_columns(rng, d_in, s.size)
    X, W_star = math.sqrt(n) * haar_columns(rng, n, d_in), (U * s) @ V.T
    arrays = (X, X @ W_star.T, W_star, U, s, V)
    for a in arrays:
        a.flags.writeable = False
    return WhitenedProblem(*arrays)


def _check_problem(problem):
    if not isinstance(problem, WhitenedProblem):
        raise ValueError(f"problem: expected a WhitenedProblem, got {type(problem).__name__}")
    return problem


def aligned_start(problem, hidden, scale=1e-3, rng=None) -> list[np.ndarray]:
    r"""Small balanced factors whose product is aligned with the target's singular vectors.

    ``deeplinear.init.balanced(dims, end_to_end=W_e0, rng=rng)``, ``dims = [d_in, *hidden,
    d_out]``, with :math:`W_e(0) = U \operatorname{diag}(a_0) V^\top`, :math:`a_0` = ``scale``.

    Parameters
    ----------
    problem : WhitenedProblem
    hidden : sequence of int, length N - 1
        Hidden widths, each ``>= r`` (``[]`` for depth 1).
    scale : float or array_like of shape (r,), default 1e-3
        The initial strengths ``a_0`` (one for every mode, or one per mode), each > 0 and
        ``>= 1e-10 * max(a_0)`` (balanced factors drop rounding-level modes).
    rng : int, None or numpy.random.Generator
        For the hidden layers' bases.

    Returns
    -------
    factors : list of ndarray, ``factors[j-1]`` of shape (d_j, d_{j-1})
    """
    r = _check_problem(problem).s.size
    if not isinstance(hidden, (list, tuple)):
        raise ValueError(f"hidden: expected a list of hidden widths, got {hidden!r}")
    hidden = [_count(h, f"hidden[{i}]", r) for i, h in enumerate(hidden)]
    a0 = _positive_vector(scale, "scale", r)
    if a0.min() < 1e-10 * a0.max():
        raise ValueError(f"scale: the modes {a0} span more than 10 orders of magnitude")
    dims = [problem.V.shape[0], *hidden, problem.U.shape[0]]
    return balanced(dims, rng=rng, end_to_end=(problem.U * a0) @ problem.V.T)


def mode_strengths(W_e, problem):
    r"""Mode coordinates of ``W_e`` and how far it is from being aligned with the target.

    .. math::

        \sigma_i = u_i^\top W_e v_i, \qquad
        \text{off} = \lVert W_e - U \operatorname{diag}(\sigma) V^\top \rVert_F

    ``off`` is all of ``W_e`` outside its mode coordinates (the off-diagonal of :math:`U^\top
    W_e V`, and what lies outside the spans of ``U`` and ``V``): 0 while aligned.

    Parameters
    ----------
    W_e : ndarray, shape (d_out, d_in) or (T, d_out, d_in)
    problem : WhitenedProblem

    Returns
    -------
    sigma : ndarray, shape (r,) or (T, r)
    off : float, or ndarray of shape (T,)
    """
    problem = _check_problem(problem)
    shape = (problem.U.shape[0], problem.V.shape[0])
    if (not isinstance(W_e, np.ndarray) or W_e.dtype.kind != "f" or W_e.ndim not in (2, 3)
            or W_e.shape[-2:] != shape):
        raise ValueError(f"W_e: expected a float array of shape {shape} or (T, *{shape}), "
                         f"got {getattr(W_e, 'shape', type(W_e).__name__)}")
    W, U, V = W_e.astype(np.float64, copy=False), problem.U, problem.V
    sigma = np.einsum("ai,...ab,bi->...i", U, W, V)
    off = np.linalg.norm(W - np.einsum("ai,...i,bi->...ab", U, sigma, V), axis=(-2, -1))
    return sigma, (float(off) if W.ndim == 2 else off)


def mode_rate(sigma, s, depth, c) -> np.ndarray:
    r""":math:`d\sigma/dt = N c \lvert\sigma\rvert^{2 - 2/N} (s - \sigma)`, broadcast, unchecked."""
    return depth * c * np.abs(sigma) ** (2.0 - 2.0 / depth) * (s - sigma)


def _check_curve(times, s, a0, depth, c):
    t = np.asarray(times)
    if (t.dtype.kind not in "fiu" or t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0)
            or np.any(np.diff(t) < 0)):
        raise ValueError(f"times: expected a 1-D array of finite, non-decreasing values >= 0, "
                         f"got {times!r}")
    s, t = _positive_vector(s, "s"), t.astype(np.float64)
    return t, s, _positive_vector(a0, "a0", s.size), check_depth(depth), check_positive(c, "c")


def mode_curve(times, s, a0, depth, c, *, rtol=1e-11) -> np.ndarray:
    r"""Mode strengths :math:`\sigma_i(t)` of the gradient flow from :math:`\sigma_i(0) = a_{0,i}`.

    The closed forms of the module docstring at depths 1 and 2, else :func:`integrate_dopri5`.

    Parameters
    ----------
    times : array_like, shape (T,)
        Non-decreasing times ``t = lr * steps >= 0``.
    s, a0 : array_like, shape (m,)
        Target singular values and initial strengths, > 0 (``a0`` may be one float).
    depth, c : int, float
        Depth N >= 1 and loss constant (``problem.c``).
    rtol : float, default 1e-11
        For :func:`integrate_dopri5` at depth >= 3.

    Returns
    -------
    sigma : ndarray, shape (T, m)
    """
    t, s, a0, depth, c = _check_curve(times, s, a0, depth, c)
    if depth >= 3:
        return integrate_dopri5(t, s, a0, depth, c, rtol=rtol)
    if depth == 1:
        return s - (s - a0) * np.exp(-c * t[:, None])
    return s / (1.0 + (s / a0 - 1.0) * np.exp(-2.0 * c * s * t[:, None]))


def _drive(t, a0, advance):
    """Advance from 0 to every ``t[i]`` with ``advance(y, span) -> y``; stack the states."""
    out, y, now = np.empty((t.size, a0.size)), a0.copy(), 0.0
    for i, target in enumerate(t):
        if target > now:
            y, now = advance(y, target - now), target
        out[i] = y
    return out


def integrate_rk4(times, s, a0, depth, c, step) -> np.ndarray:
    r"""Classic fixed-step Runge-Kutta 4 for :math:`\dot\sigma = f(\sigma)`, vectorised over modes.

    .. math::

        k_1 = f(\sigma),\ k_2 = f(\sigma + \tfrac h2 k_1),\ k_3 = f(\sigma + \tfrac h2 k_2),\
        k_4 = f(\sigma + h k_3), \quad
        \sigma \leftarrow \sigma + \tfrac h6 (k_1 + 2 k_2 + 2 k_3 + k_4)

    Each span between output times takes ``ceil(span / step)`` equal steps. The global error
    is :math:`C h^4 + o(h^4)`: :math:`\lvert\sigma_h - \sigma_{h/2}\rvert / 15` estimates that
    of :math:`\sigma_{h/2}` (Richardson). Stable for :math:`h N c \max_i s_i^{2 - 2/N} < 2.78`.
    Arguments as in :func:`mode_curve`; returns ``sigma`` of shape (T, m).
    """
    t, s, a0, depth, c = _check_curve(times, s, a0, depth, c)
    step = check_positive(step, "step")

    def advance(y, span):
        k = math.ceil(span / step)
        for h in [span / k] * k:
            k1 = mode_rate(y, s, depth, c)
            k2 = mode_rate(y + 0.5 * h * k1, s, depth, c)
            k3 = mode_rate(y + 0.5 * h * k2, s, depth, c)
            k4 = mode_rate(y + h * k3, s, depth, c)
            y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return y

    return _drive(t, a0, advance)


# Dormand-Prince 5(4): the stage rows a_ij (the last one holds the 5th-order weights b,
# first-same-as-last) and the error weights b - b* (Dormand & Prince 1980).
_DP_A = [[1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
         [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
         [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
         [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
_DP_E = [71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40]


def integrate_dopri5(times, s, a0, depth, c, *, rtol=1e-10) -> np.ndarray:
    r"""Adaptive Dormand-Prince 5(4) integration of the mode equation, vectorised over modes.

    A step of size :math:`h` takes seven stages :math:`k_i = f(\sigma + h \sum_{j<i} a_{ij}
    k_j)` (the seventh at the new point, reused as the next first), advances with the
    5th-order weights :math:`b` and estimates its local error by the 4th-order ones
    :math:`b^*`; it is accepted when :math:`\mathrm{err} \le 1`, and either way

    .. math::

        e = h \sum_i (b_i - b^*_i) k_i, \quad
        \mathrm{err} = \max_i \frac{\lvert e_i \rvert}
            {\mathrm{rtol} \max(\lvert\sigma_i\rvert, \lvert\sigma_i^{new}\rvert)}, \quad
        h \leftarrow h \min(5, \max(0.2,\ 0.9\, \mathrm{err}^{-1/5})).

    Relative control only: the small strengths of a plateau decide when a mode takes off.
    Steps land on every output time. Arguments as in :func:`mode_curve`; returns ``sigma``
    of shape (T, m); ``RuntimeError`` after 10^6 steps.
    """
    t, s, a0, depth, c = _check_curve(times, s, a0, depth, c)
    rtol = check_positive(rtol, "rtol")
    rate = depth * c * float(np.max(np.maximum(s, a0))) ** (2.0 - 2.0 / depth)  # >= |f(y) / y|
    h, taken = rtol ** 0.2 / rate, 0

    def advance(y, span):
        nonlocal h, taken
        done, k1 = 0.0, mode_rate(y, s, depth, c)
        while done < span:
            if (taken := taken + 1) > 1_000_000:
                raise RuntimeError("integrate_dopri5: 10^6 steps did not reach the end")
            last = h >= span - done
            step = span - done if last else h
            K = [k1]
            for row in _DP_A:
                y_new = y + step * sum(a * k for a, k in zip(row, K))
                K.append(mode_rate(y_new, s, depth, c))
            error = step * sum(e * k for e, k in zip(_DP_E, K))
            scale = np.maximum(rtol * np.maximum(np.abs(y), np.abs(y_new)), 1e-300)
            err = float(np.max(np.abs(error) / scale))
            proposal = step * min(5.0, max(0.2, 0.9 * max(err, 1e-10) ** -0.2))
            if err <= 1.0:
                y, k1, done = y_new, K[-1], span if last else done + step
                proposal = max(proposal, h) if last else proposal  # a cut step is no guide
            h = proposal
        return y

    return _drive(t, a0, advance)


def plateau_time(s, a0, depth, c, fraction=0.5, *, method="auto") -> np.ndarray:
    r"""Time for each mode to grow from :math:`a_0` to ``fraction`` :math:`\cdot s`.

    With the logit :math:`v = \ln(\sigma / (s - \sigma))`, :math:`d\sigma = \sigma(s - \sigma)
    dv / s` and the mode equation gives an integrand without a pole at :math:`\sigma = s`:

    .. math::

        t_f = \int_{v_0}^{v_f} \frac{\sigma(v)^{2/N - 1}}{N c s}\, dv, \quad
        \sigma(v) = \frac{s}{1 + e^{-v}},\ v_0 = \ln\frac{a_0}{s - a_0},\
        v_f = \ln\frac{f}{1 - f}.

    Closed forms: :math:`t_f = \ln\frac{f (s - a_0)}{(1 - f) a_0} / (2 c s)` at :math:`N = 2`,
    :math:`t_f = \ln\frac{s - a_0}{(1 - f) s} / c` at :math:`N = 1`; at :math:`N \ge 3`,
    :math:`t_f \approx a_0^{-(1 - 2/N)} / ((N - 2) c s)` as :math:`a_0 \to 0`. The plateau
    grows like :math:`\ln(1/a_0)` at depth 2, like a power of :math:`1/a_0` beyond, and like
    :math:`1/s` at every depth.

    Parameters
    ----------
    s, a0, depth, c
        As in :func:`mode_curve`, with each ``a0 < fraction * s``.
    fraction : float, default 0.5
        ``f``, in (0, 1).
    method : {"auto", "closed", "quadrature"}
        "closed" (depth <= 2; "auto" uses it there) or composite 8-point Gauss-Legendre in
        ``v`` on panels of width <= 0.5, near rounding (analytic integrand, poles at distance pi).

    Returns
    -------
    t : ndarray, shape (m,)
    """
    _, s, a0, depth, c = _check_curve([], s, a0, depth, c)
    fraction = check_positive(fraction, "fraction")
    if fraction >= 1:
        raise ValueError(f"fraction: expected a value in (0, 1), got {fraction!r}")
    if np.any(a0 >= fraction * s):
        raise ValueError(f"a0: expected each a0 < fraction * s = {fraction * s}, got {a0}")
    if method not in ("auto", "closed", "quadrature") or (method == "closed" and depth > 2):
        raise ValueError(f"method: expected 'auto', 'quadrature' or, at depth <= 2, 'closed'; "
                         f"got {method!r} at depth {depth}")
    if method != "quadrature" and depth <= 2:
        return (np.log((s - a0) / ((1 - fraction) * s)) / c if depth == 1 else
                np.log(fraction * (s - a0) / ((1 - fraction) * a0)) / (2 * c * s))
    x, w = np.polynomial.legendre.leggauss(8)
    v_f, out = math.log(fraction / (1 - fraction)), np.empty(s.size)
    for i, (si, ai) in enumerate(zip(s, a0)):
        v0 = math.log(ai / (si - ai))
        edges = np.linspace(v0, v_f, max(1, math.ceil((v_f - v0) / 0.5)) + 1)
        mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
        log_sigma = math.log(si) - np.logaddexp(0.0, -(mid[:, None] + half[:, None] * x))
        integrand = np.exp((2.0 / depth - 1.0) * log_sigma)  # at the (panels, 8) nodes
        out[i] = np.sum(half[:, None] * w * integrand) / (depth * c * si)
    return out
