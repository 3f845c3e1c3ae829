"""Data sets as small ``Dataset`` records.

For now this holds the synthetic teacher-student regression that the main
command runs without any download.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import as_rng, check_nonnegative

__all__ = ["Dataset", "load_synthetic"]


@dataclass
class Dataset:
    """Inputs, targets and what is known about them.

    Attributes
    ----------
    X : ndarray, shape (n, d)
    Y : ndarray, shape (n, k)
    feature_names : list of str
    target_name : str
    info : dict
        Source, citation, sizes and preprocessing.
    """

    X: np.ndarray
    Y: np.ndarray
    feature_names: list
    target_name: str
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.get("name", "dataset")


def load_synthetic(n=1000, d=20, k=1, noise=0.1, seed=0) -> Dataset:
    """A linear teacher plus Gaussian noise.

    Equations::

        X ~ N(0, I_d),  W* ~ N(0, 1/d),  Y = X W*^T + noise * N(0, I_k)

    Parameters
    ----------
    n, d, k : int
        Samples, features and outputs.
    noise : float
        Standard deviation of the label noise.
    seed : int or Generator

    Returns
    -------
    Dataset
    """
    for name, value in [("n", n), ("d", d), ("k", k)]:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    noise = check_nonnegative(noise, "noise")
    rng = as_rng(seed, "seed")
    X = rng.standard_normal((n, d))
    W_teacher = rng.standard_normal((k, d)) / np.sqrt(d)
    Y = X @ W_teacher.T + noise * rng.standard_normal((n, k))
    return Dataset(
        X=X, Y=Y,
        feature_names=[f"x{i}" for i in range(d)],
        target_name="y" if k == 1 else "y0..",
        info={"name": "synthetic", "source": "deeplinear.datasets.load_synthetic",
              "n": n, "d": d, "k": k, "noise": noise, "teacher": W_teacher},
    )
