"""Initial factors ``[W_1, ..., W_N]`` for a deep linear network.

Every initializer takes ``dims = [d_0, ..., d_N]`` and returns a list of
float64 C-contiguous arrays, ``W_j`` of shape ``(d_j, d_{j-1})``, so that the
end-to-end matrix ``W_e = W_N ... W_1`` has shape ``(d_N, d_0)``.  ``rng`` is an
int seed, ``None`` or a ``numpy.random.Generator``; one seed always gives the
same factors.

Four schemes are provided:

* ``balanced``      -- exactly balanced factors of a chosen or sampled ``W_e``;
* ``near_zero``     -- small iid Gaussian entries;
* ``near_identity`` -- Haar-random semi-orthogonal factors;
* ``default``       -- PyTorch's ``nn.Linear`` weight initialisation.

``make_factors(name, dims, ...)`` picks one by name (see ``INITIALIZERS``).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_matrix, as_rng, check_dims, check_positive

__all__ = ["balanced", "near_zero", "near_identity", "default", "INITIALIZERS", "make_factors",
           "haar_columns"]


def haar_columns(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Return an ``(n, k)`` matrix, ``k <= n``, with Haar-random orthonormal columns.

    ``numpy.linalg.qr`` fixes no sign convention for ``R``, so its ``Q`` is
    biased (for Householder QR the first column points away from the first
    axis).  Multiplying each column by the sign of the matching diagonal entry
    of ``R`` makes the decomposition unique, and then ``Q`` inherits the
    rotation invariance of the Gaussian matrix, i.e. it is Haar-distributed.
    """
    Q, R = np.linalg.qr(rng.standard_normal((n, k)))
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    return Q * signs


def balanced(dims, scale=1e-2, rng=None, end_to_end=None) -> list[np.ndarray]:
    """Balanced factors whose product is a given or sampled end-to-end matrix.

    Take the thin SVD ``W_e = U diag(s) V^T``, keep the ``r`` numerically
    non-zero singular values (``s > s_max * max(d_N, d_0) * eps``, the rule of
    ``numpy.linalg.matrix_rank``), and set
    ``W_j = Q_j diag(s)^(1/N) Q_{j-1}^T`` with ``Q_N = U``, ``Q_0 = V`` and,
    for each hidden layer, a Haar-random ``Q_j`` of shape ``(d_j, r)`` with
    orthonormal columns.  The inner ``Q^T Q = I`` cancel, so the product is
    ``U diag(s) V^T = W_e`` and both ``W_{j+1}^T W_{j+1}`` and ``W_j W_j^T``
    equal ``Q_j diag(s)^(2/N) Q_j^T``: the factors are balanced.

    Parameters
    ----------
    dims : sequence of int, length N + 1
        Layer widths ``[d_0, ..., d_N]``.
    scale : float, default 1e-2
        When ``end_to_end`` is None, ``W_e`` is drawn with iid ``N(0, scale^2)``
        entries (the first draw from ``rng``).  If a hidden width is smaller
        than ``min(d_0, d_N)`` the sample is replaced by its best rank-``min(dims)``
        approximation (truncated SVD), since no product through that layer can
        have a higher rank.  Ignored when ``end_to_end`` is given.
    rng : int, None or numpy.random.Generator
        Source of the random ``W_e`` and hidden ``Q_j``.
    end_to_end : ndarray of shape (d_N, d_0), optional
        The product to factorise.  An all-zero matrix gives all-zero factors.

    Returns
    -------
    factors : list of ndarray, ``factors[j-1]`` of shape (d_j, d_{j-1})
        ``[W_1, ..., W_N]``; for ``N = 1`` this is ``[W_e]``.

    Raises
    ------
    ValueError
        If ``dims`` or ``scale`` is invalid, if ``end_to_end`` has the wrong
        shape, or if its rank exceeds the narrowest hidden width (no depth-N
        factorization through that width exists).

    References
    ----------
    S. Arora, N. Cohen, N. Golowich and W. Hu, "A Convergence Analysis of
    Gradient Descent for Deep Linear Neural Networks", ICLR 2019 (Procedure 1).
    S. Arora, N. Cohen and E. Hazan, "On the Optimization of Deep Networks:
    Implicit Acceleration by Overparameterization", ICML 2018.
    """
    dims = check_dims(dims)
    scale = check_positive(scale, "scale")
    rng = as_rng(rng)
    N, d_0, d_N = len(dims) - 1, dims[0], dims[-1]
    given = end_to_end is not None
    if given:
        W_e = as_matrix(end_to_end, "end_to_end")
        if W_e.shape != (d_N, d_0):
            raise ValueError(
                f"end_to_end: has shape {W_e.shape}, expected (d_N, d_0) = ({d_N}, {d_0})"
            )
    else:
        W_e = scale * rng.standard_normal((d_N, d_0))
    if N == 1:
        return [W_e.copy()]

    # BEGIN SOLUTION balanced_init: thin SVD W_e = U diag(s) V^T with r numerically non-zero
    #   singular values; W_j = Q_j diag(s)^(1/N) Q_{j-1}^T with Q_0 = V, Q_N = U and Haar-random
    #   hidden Q_j = haar_columns(rng, d_j, r); rank above the narrowest width: error if
    #   end_to_end was given, else truncate; rank 0: zero factors
    U, s, Vt = np.linalg.svd(W_e, full_matrices=False)
    tol = s[0] * max(d_N, d_0) * np.finfo(np.float64).eps
    r = int(np.count_nonzero(s > tol))
    narrowest = min(dims[1:-1])
    if r > narrowest:
        if given:
            raise ValueError(
                f"end_to_end: has rank {r} but the narrowest hidden width is "
                f"{narrowest}; no depth-{N} factorization through that width exists"
            )
        r = narrowest  # best rank-min(dims) approximation of the sample
    if r == 0:
        return [np.zeros((dims[j + 1], dims[j])) for j in range(N)]

    root = s[:r] ** (1.0 / N)
    Q = [Vt[:r].T] + [haar_columns(rng, d, r) for d in dims[1:-1]] + [U[:, :r]]
    return [np.ascontiguousarray((Q[j + 1] * root) @ Q[j].T) for j in range(N)]
    # END SOLUTION


def near_zero(dims, std=0.02, rng=None) -> list[np.ndarray]:
    """Factors with iid ``N(0, std^2)`` entries (the "near zero" initialisation).

    Parameters
    ----------
    dims : sequence of int, length N + 1
        Layer widths ``[d_0, ..., d_N]``.
    std : float, default 0.02
        Standard deviation of every entry; must be > 0.
    rng : int, None or numpy.random.Generator

    Returns
    -------
    factors : list of ndarray, ``factors[j-1]`` of shape (d_j, d_{j-1})

    References
    ----------
    S. Arora, N. Cohen and E. Hazan, "On the Optimization of Deep Networks:
    Implicit Acceleration by Overparameterization", ICML 2018.
    """
    dims = check_dims(dims)
    std = check_positive(std, "std")
    rng = as_rng(rng)
    return [std * rng.standard_normal((dims[j + 1], dims[j])) for j in range(len(dims) - 1)]


def near_identity(dims, rng=None) -> list[np.ndarray]:
    """Haar-random semi-orthogonal factors (the "near identity" initialisation).

    ``W_j`` of shape ``(d_j, d_{j-1})`` has orthonormal rows when
    ``d_j <= d_{j-1}`` and orthonormal columns otherwise; a square ``W_j`` is
    a random orthogonal matrix.  Every singular value is 1, so the network
    neither shrinks nor blows up signals in the directions it passes.

    These factors are balanced only for some widths.  At hidden layer ``j``,
    ``W_{j+1}^T W_{j+1}`` is the orthogonal projection of ``R^{d_j}`` onto a
    subspace of dimension ``min(d_{j+1}, d_j)`` and ``W_j W_j^T`` the one onto
    a subspace of dimension ``min(d_j, d_{j-1})``.  They agree when both are
    the identity of ``R^{d_j}``, i.e. when ``d_j <= d_{j+1}`` and
    ``d_j <= d_{j-1}`` for every hidden layer (no hidden layer wider than its
    neighbours).  Otherwise they almost surely differ: a proper projection is
    never the identity, and two projections of equal rank onto independent
    random subspaces differ as well.

    Parameters
    ----------
    dims : sequence of int, length N + 1
        Layer widths ``[d_0, ..., d_N]``.
    rng : int, None or numpy.random.Generator

    Returns
    -------
    factors : list of ndarray, ``factors[j-1]`` of shape (d_j, d_{j-1})

    References
    ----------
    S. Arora, N. Cohen and E. Hazan, "On the Optimization of Deep Networks:
    Implicit Acceleration by Overparameterization", ICML 2018.
    Levy and Wang (2024), a student reproduction of the above, which calls
    semi-orthogonal factors "near identity".
    """
    dims = check_dims(dims)
    rng = as_rng(rng)
    factors = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        if d_out <= d_in:
            W = haar_columns(rng, d_in, d_out).T  # orthonormal rows
        else:
            W = haar_columns(rng, d_out, d_in)  # orthonormal columns
        factors.append(np.ascontiguousarray(W))
    return factors


def default(dims, rng=None) -> list[np.ndarray]:
    """PyTorch's default ``nn.Linear`` weights: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    ``nn.Linear`` calls ``kaiming_uniform_(W, a=sqrt(5))`` with the fan-in
    mode and the leaky-ReLU gain ``sqrt(2 / (1 + a^2)) = sqrt(2/6) = sqrt(1/3)``.
    Kaiming's target standard deviation is ``gain / sqrt(fan_in)`` and a
    uniform law on ``[-b, b]`` has standard deviation ``b / sqrt(3)``, so
    ``b = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)`` with
    ``fan_in = d_{j-1}``; the entry variance is ``1 / (3 fan_in)``.

    Unlike ``nn.Linear`` (and the networks of the reproduction) our layers
    have no bias, so only the weight part of the default is reproduced.

    Parameters
    ----------
    dims : sequence of int, length N + 1
        Layer widths ``[d_0, ..., d_N]``.
    rng : int, None or numpy.random.Generator

    Returns
    -------
    factors : list of ndarray, ``factors[j-1]`` of shape (d_j, d_{j-1})

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Delving Deep into Rectifiers", ICCV 2015.
    S. Arora, N. Cohen and E. Hazan, "On the Optimization of Deep Networks:
    Implicit Acceleration by Overparameterization", ICML 2018.
    """
    dims = check_dims(dims)
    rng = as_rng(rng)
    return [rng.uniform(-1.0, 1.0, size=(dims[j + 1], dims[j])) / np.sqrt(dims[j])
            for j in range(len(dims) - 1)]


INITIALIZERS = {
    "balanced": balanced,
    "near_zero": near_zero,
    "near_identity": near_identity,
    "default": default,
}


def make_factors(init, dims, rng=None, **options) -> list[np.ndarray]:
    """Initialise factors with the scheme named ``init``.

    Parameters
    ----------
    init : str
        One of ``INITIALIZERS``: "balanced", "near_zero", "near_identity", "default".
    dims : sequence of int, length N + 1
        Layer widths ``[d_0, ..., d_N]``.
    rng : int, None or numpy.random.Generator
    **options
        Passed on, e.g. ``scale`` and ``end_to_end`` for "balanced" or ``std``
        for "near_zero".

    Returns
    -------
    factors : list of ndarray, ``factors[j-1]`` of shape (d_j, d_{j-1})
    """
    if not isinstance(init, str) or init not in INITIALIZERS:
        raise ValueError(
            f"init: unknown initializer {init!r}; expected one of {sorted(INITIALIZERS)}"
        )
    return INITIALIZERS[init](dims, rng=rng, **options)
