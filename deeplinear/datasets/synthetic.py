"""Synthetic regression data: a random linear teacher plus Gaussian label noise.

Nothing is read or downloaded, so :func:`load_synthetic` works offline and in
every test. The teacher is exact: a deep linear network whose end-to-end
matrix reaches ``info["teacher"]`` fits the data down to the noise.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_rng, check_nonnegative
from ._base import Dataset, finish

__all__ = ["load_synthetic"]


def _check_size(value, name: str) -> int:
    """``value`` if it is a positive integer (not a bool), else ``ValueError``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


def load_synthetic(n=1000, d=20, k=1, noise=0.1, seed=0, standardize=False) -> Dataset:
    r"""A linear teacher plus Gaussian noise.

    .. math::

        x_i \sim \mathcal{N}(0, I_d), \qquad
        W^\star_{ab} \sim \mathcal{N}(0, 1/d), \qquad
        y_i = W^\star x_i + \sigma\, \varepsilon_i, \quad \varepsilon_i \sim \mathcal{N}(0, I_k)

    for each sample :math:`i` (a row of ``X`` and ``Y``, so
    :math:`Y = X W^{\star\top} + \sigma E`), with :math:`\sigma` = ``noise``.

    Parameters
    ----------
    n, d, k : int
        Samples, features and outputs.
    noise : float
        Standard deviation of the label noise.
    seed : int or Generator
        The same seed gives the same ``X``, teacher and noise.
    standardize : bool
        Z-score features and targets (default False: the teacher is exact).

    Returns
    -------
    Dataset
        ``X`` (n, d) and ``Y`` (n, k), float64; features ``x0`` ... and
        target ``"y"`` (``"y0.."`` when k > 1). ``info["teacher"]`` is
        ``W*``, shape (k, d); ``info`` also holds ``n``, ``d``, ``k`` and
        ``noise``.

    Raises
    ------
    ValueError
        ``n``, ``d`` or ``k`` is not a positive integer, or ``noise`` is
        negative.

    Notes
    -----
    With :math:`W^\star_{ab} \sim \mathcal{N}(0, 1/d)` every output has variance
    about :math:`1 + \sigma^2` whatever :math:`d`, so learning rates tuned on
    one size carry over to another. The least-squares residual of each output
    is about :math:`\sigma^2` per sample when :math:`n \gg d`.

    ``X``, then :math:`W^\star`, then the noise are drawn from one Generator, in that
    order: the same seed gives the same data set from one release to the
    next, but another ``n`` (or ``d``) gives another teacher as well, since
    ``X`` is drawn first.

    Examples
    --------
    >>> from deeplinear.datasets import load_synthetic
    >>> data = load_synthetic(n=200, d=5, k=2, seed=1)
    >>> data.X.shape, data.Y.shape, data.info["teacher"].shape
    ((200, 5), (200, 2), (2, 5))
    """
    for name, value in [("n", n), ("d", d), ("k", k)]:
        _check_size(value, name)
    noise = check_nonnegative(noise, "noise")
    rng = as_rng(seed, "seed")
    X = rng.standard_normal((n, d))
    W_teacher = rng.standard_normal((k, d)) / np.sqrt(d)
    Y = X @ W_teacher.T + noise * rng.standard_normal((n, k))
    data = Dataset(
        X=X, Y=Y,
        feature_names=[f"x{i}" for i in range(d)],
        target_name="y" if k == 1 else "y0..",
        info={"name": "synthetic", "source": "deeplinear.datasets.load_synthetic",
              "n": n, "d": d, "k": k, "noise": noise, "teacher": W_teacher},
    )
    return finish(data, standardize)
