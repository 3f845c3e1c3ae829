"""The :class:`Dataset` record, its standardization, and the data errors.

Every loader of :mod:`deeplinear.datasets` returns a :class:`Dataset`; the
errors and the warnings below are what the loaders raise or emit.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .._validation import as_rng, check_data, check_nonnegative


class DataError(ValueError):
    """A data file is missing, wrong or malformed."""


class ChecksumError(DataError):
    """A file's SHA-256 is not the one of the original file.

    ``file`` names what was checked; ``expected`` and ``actual`` are the two
    SHA-256 hex digests (``None`` when the error was raised without them).
    """

    def __init__(self, message, file=None, expected=None, actual=None):
        super().__init__(message)
        self.file = file
        self.expected = expected
        self.actual = actual


class DataFormatError(DataError):
    """A line of a data file cannot be parsed; ``file`` and ``line`` say where."""

    def __init__(self, message, file=None, line=None):
        super().__init__(message)
        self.file = file
        self.line = line


class DataUnavailableError(DataError):
    """No local copy and the download failed (offline?)."""


class PartialDataWarning(UserWarning):
    """Some of the files of a data set are missing; the rest was loaded."""


class NoHeaderWarning(UserWarning):
    """A CSV file's first row is all numbers: it was read as data, the columns named by position."""


@dataclass
class Dataset:
    """Inputs, targets and what is known about them.

    Attributes
    ----------
    X : ndarray, shape (n, d), float64
    Y : ndarray, shape (n, k), float64
    feature_names : list of str
    target_name : str
    info : dict
        Source, citation, DOI, licence, sizes and preprocessing. After
        standardization, ``info["standardized"]`` holds ``X_mean``, ``X_std``,
        ``Y_mean``, ``Y_std`` and ``constant_features``; it is ``False``
        otherwise.
    """

    X: np.ndarray
    Y: np.ndarray
    feature_names: list
    target_name: str
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.X, self.Y = check_data(self.X, self.Y)
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"feature_names: has {len(self.feature_names)} names but X has "
                f"{self.X.shape[1]} columns"
            )
        self.feature_names = list(self.feature_names)

    @property
    def name(self) -> str:
        return self.info.get("name", "dataset")

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    @property
    def d(self) -> int:
        """Number of features."""
        return self.X.shape[1]

    def __repr__(self):
        std = "standardized" if self.info.get("standardized") else "raw"
        return (f"Dataset({self.name!r}, n={self.n}, d={self.d}, "
                f"target={self.target_name!r}, {std})")

    def split(self, valid_ratio=0.2, seed=42):
        """Random split into ``(train, valid)`` Datasets.

        ``ceil(valid_ratio * n)`` rows go to ``valid`` (as scikit-learn's
        ``train_test_split``): 3341/836 for Abalone. The same seed gives the
        same split. Standardization statistics, if any, are those of the
        whole set and are kept in both parts' ``info``. ``info["split"]``
        holds the part, the ratio, the seed and the row indices.

        Parameters
        ----------
        valid_ratio : float in (0, 1)
            Share of the rows that goes to ``valid``.
        seed : int or Generator

        Returns
        -------
        train : Dataset, ``n - ceil(valid_ratio * n)`` rows
        valid : Dataset, ``ceil(valid_ratio * n)`` rows
        """
        ratio = check_nonnegative(valid_ratio, "valid_ratio")
        if not 0.0 < ratio < 1.0:
            raise ValueError(f"valid_ratio: expected a value in (0, 1), got {valid_ratio!r}")
        n_valid = math.ceil(ratio * self.n)
        if n_valid >= self.n:
            raise ValueError(
                f"valid_ratio: {valid_ratio!r} of {self.n} rows leaves no training row"
            )
        perm = as_rng(seed, "seed").permutation(self.n)
        valid_idx, train_idx = np.sort(perm[:n_valid]), np.sort(perm[n_valid:])
        return self.subset(train_idx, part="train", valid_ratio=ratio, seed=seed), \
            self.subset(valid_idx, part="valid", valid_ratio=ratio, seed=seed)

    def subset(self, rows, **split_info):
        """A Dataset made of the given rows; ``split_info`` goes to ``info["split"]``.

        Parameters
        ----------
        rows : array of int, shape (m,), or array of bool, shape (n,)

        Returns
        -------
        Dataset
            ``X`` (m, d) and ``Y`` (m, k); per-row metadata in
            ``info["rows"]`` is cut the same way.
        """
        rows = np.asarray(rows)
        info = copy.deepcopy({k: v for k, v in self.info.items() if k != "rows"})
        info["n"] = int(rows.size) if rows.dtype != bool else int(rows.sum())
        if "rows" in self.info:   # per-row metadata (e.g. the batch number)
            info["rows"] = {k: np.asarray(v)[rows] for k, v in self.info["rows"].items()}
        info["split"] = dict(split_info, indices=rows)
        return Dataset(self.X[rows], self.Y[rows], list(self.feature_names),
                       self.target_name, info)

    def standardized(self):
        """A copy with every feature and the target z-scored (see :func:`standardize`)."""
        return standardize(self)

    def unstandardize_Y(self, Y):
        """Map standardized targets or predictions back to the original units.

        Parameters
        ----------
        Y : array_like, shape (m, k)

        Returns
        -------
        ndarray, shape (m, k), float64
        """
        st = self.info.get("standardized")
        if not st:
            return np.asarray(Y, dtype=np.float64)
        return np.asarray(Y, dtype=np.float64) * st["Y_std"] + st["Y_mean"]


def _zscore(A):
    """Column means, stds (ddof 0) and a mask of constant columns, each shape (cols,)."""
    mean = A.mean(axis=0)
    std = A.std(axis=0)
    constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
    return mean, np.where(constant, 1.0, std), constant


def standardize(data: Dataset) -> Dataset:
    """Z-score every feature and the target of ``data``; return a new Dataset.

    Uses the population std (``ddof=0``), so every column ends with mean 0 and
    ``np.std`` 1. A constant column is only centred (set to 0), never divided
    by its zero std; it is listed in ``info["standardized"]["constant_features"]``
    (or ``constant_targets``) and its recorded std is 1. The means and stds are
    kept in ``info["standardized"]`` so that ``Y = Z * Y_std + Y_mean``
    (:meth:`~deeplinear.datasets.Dataset.unstandardize_Y`) maps predictions back.

    Parameters
    ----------
    data : Dataset
        ``X`` (n, d), ``Y`` (n, k), not yet standardized.

    Returns
    -------
    Dataset
        ``X`` (n, d) and ``Y`` (n, k) z-scored; ``X_mean``, ``X_std`` of
        shape (d,) and ``Y_mean``, ``Y_std`` of shape (k,) in
        ``info["standardized"]``.
    """
    if data.info.get("standardized"):
        raise ValueError(f"{data.name}: already standardized")
    x_mean, x_std, x_const = _zscore(data.X)
    y_mean, y_std, y_const = _zscore(data.Y)
    X = (data.X - x_mean) / x_std
    Y = (data.Y - y_mean) / y_std
    X[:, x_const] = 0.0
    Y[:, y_const] = 0.0
    info = copy.deepcopy(data.info)
    info["standardized"] = {
        "features": True, "target": True, "ddof": 0,
        "X_mean": x_mean, "X_std": x_std, "Y_mean": y_mean, "Y_std": y_std,
        "constant_features": [nm for nm, c in zip(data.feature_names, x_const) if c],
        "constant_targets": [int(i) for i in np.flatnonzero(y_const)],
    }
    return Dataset(X, Y, list(data.feature_names), data.target_name, info)


def finish(data: Dataset, standardize_: bool) -> Dataset:
    """What every loader returns: ``data`` marked raw, or its standardized copy."""
    data.info.setdefault("standardized", False)
    return standardize(data) if standardize_ else data
