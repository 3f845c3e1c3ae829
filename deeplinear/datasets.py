"""Data sets as small ``Dataset`` records.

Every loader returns a :class:`Dataset`: ``X`` (n, d) float64, ``Y`` (n, k)
float64 (k = 1 for the real data sets), ``feature_names``, ``target_name`` and
``info`` (source, citation, DOI, licence, n, d and what was standardized).

=======================  ====================================================
``load_synthetic``       linear teacher plus noise, no download
``load_abalone``         UCI Abalone (id 1): 10 features, target Rings
``load_ethanol``         UCI Gas Sensor Array Drift at Different
                         Concentrations (id 270), gas 1 (Ethanol) only:
                         128 features, target concentration (ppmv)
``load_gas_sensor_drift`` the whole id 270 table, all six gases, as a
                         ``pandas.DataFrame`` (not a ``Dataset``)
``load_csv``             your own table, numeric columns only
``load``                 dispatch by name: "synthetic", "abalone",
                         "ethanol", "csv"
=======================  ====================================================

Where the UCI files come from, in this order:

1. ``$DEEPLINEAR_DATA_DIR``, holding the original files in their original
   layout: ``abalone/abalone.data`` and ``gas_sensor_drift/batchN.dat``.
   A file there with the wrong SHA-256 is an error (never used). A partial
   ``gas_sensor_drift`` folder loads with a :class:`PartialDataWarning`.
2. The cache directory: ``$DEEPLINEAR_CACHE_DIR`` or
   ``pooch.os_cache("deeplinear")``. Cached files are checked by hash; a
   corrupted one is deleted and fetched again. If the cache directory cannot
   be written, a temporary directory is used instead, with a warning.
3. The network: ``ucimlrepo.fetch_ucirepo(id=1)`` for Abalone (rewritten
   byte-for-byte as the original ``abalone.data``, checked by hash, cached);
   the UCI zip archive of id 270 through ``pooch`` (checked by hash; a
   truncated download is retried and never cached), whose batch files are
   extracted, checked and cached.

Every file is checked against the SHA-256 of the original UCI file
(:data:`ABALONE_SHA256`, :data:`GAS_SHA256`).
"""

from __future__ import annotations

import copy
import hashlib
import io
import math
import os
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ._validation import as_rng, check_data, check_nonnegative

__all__ = [
    "Dataset",
    "DataError",
    "ChecksumError",
    "DataFormatError",
    "DataUnavailableError",
    "PartialDataWarning",
    "standardize",
    "load",
    "load_synthetic",
    "load_abalone",
    "load_ethanol",
    "load_gas_sensor_drift",
    "load_csv",
    "data_dir",
    "cache_dir",
    "ABALONE_SHA256",
    "GAS_SHA256",
    "GAS_ARCHIVE_SHA256",
]

# --------------------------------------------------------------------------
# Known files
# --------------------------------------------------------------------------

ABALONE_SHA256 = "de37cdcdcaaa50c309d514f248f7c2302a5f1f88c168905eba23fe2fbc78449f"
ABALONE_URL = "https://archive.ics.uci.edu/static/public/1/abalone.zip"
ABALONE_PAGE = "https://archive.ics.uci.edu/dataset/1/abalone"
ABALONE_COLUMNS = ["Sex", "Length", "Diameter", "Height", "Whole_weight",
                   "Shucked_weight", "Viscera_weight", "Shell_weight", "Rings"]
ABALONE_SEXES = ("M", "F", "I")   # one-hot column order

#: SHA-256 of each original batch file of UCI id 270.
GAS_SHA256 = {
    "batch1.dat": "6b62f3e71b90f95dd9c2157fa91ffce32571faa7f474dd52f29a4ae769144625",
    "batch2.dat": "4ea9490068457badf9efd0c22f359fbfce12c208cdd440526b97ac91d31b9002",
    "batch3.dat": "aabf06bf8b8200740156235dc59458e06d99aa8faba4d6764a22c6b6c2674ff4",
    "batch4.dat": "ffc87c5146001bbe8ce90c4b2f7dad5b390ca3079f51b559032df53ffe5ff0af",
    "batch5.dat": "dcad4939c300a6c7d9f41b9470a9253eecc0ebc5c2c4e940d8ae20b8fc4240d0",
    "batch6.dat": "297d3a8b594dee4e2f4d7d2c4f5c485939fa708c10b5a11ed5cce95e05049afb",
    "batch7.dat": "eb5801d38a59beaae4a2412195d8ded790175ed1611159e083649ee9fe03d150",
    "batch8.dat": "58146b3e2dd68b125b2d5432cdd4968ec1fff47464ceb04282382181932d49be",
    "batch9.dat": "51f368ae8dee5d285be7f2029770e10eb12f342578830bc40ea852db19d19c9b",
    "batch10.dat": "b8309e8ff205b9d0350761989809f31f8feaefb8582aecb05f1d0f694b91184e",
}
#: Rows (all gases) and ethanol rows of each original batch file.
GAS_ROWS = {1: 445, 2: 1244, 3: 1586, 4: 161, 5: 197, 6: 2300, 7: 3613, 8: 294,
            9: 470, 10: 3600}
GAS_ETHANOL_ROWS = {1: 90, 2: 164, 3: 365, 4: 64, 5: 28, 6: 514, 7: 649, 8: 30,
                    9: 61, 10: 600}
GAS_NAMES = {1: "Ethanol", 2: "Ethylene", 3: "Ammonia", 4: "Acetaldehyde",
             5: "Acetone", 6: "Toluene"}
GAS_ARCHIVE_URL = ("https://archive.ics.uci.edu/static/public/270/"
                   "gas+sensor+array+drift+dataset+at+different+concentrations.zip")
GAS_ARCHIVE_NAME = "gas+sensor+array+drift+dataset+at+different+concentrations.zip"
GAS_ARCHIVE_SHA256 = "98fe3a30981a222dd4518fbcc3dddd45d5c0ce9b03ef6dc6fe5cf7a04cfbff5e"
GAS_PAGE = "https://archive.ics.uci.edu/dataset/270"
N_GAS_FEATURES = 128
_GAS_SENSOR_FEATURES = ["dR", "dR_norm", "EMAi_0.001", "EMAi_0.01", "EMAi_0.1",
                        "EMAd_0.001", "EMAd_0.01", "EMAd_0.1"]
#: The 128 gas features: 16 sensors x 8 features per sensor, in file order.
GAS_FEATURE_NAMES = [f"S{s}_{f}" for s in range(1, 17) for f in _GAS_SENSOR_FEATURES]

#: How many times a download that fails its hash check is tried.
DOWNLOAD_ATTEMPTS = 3
#: pooch downloader used for the archive; ``None`` lets pooch choose (HTTP).
#: Tests replace it to serve a locally built archive through the same code.
_DOWNLOADER = None

_ABALONE_INFO = {
    "citation": ("Nash, W., Sellers, T., Talbot, S., Cawthorn, A., & Ford, W. (1995). "
                 "Abalone [Dataset]. UCI Machine Learning Repository."),
    "doi": "10.24432/C55C7W",
    "license": "CC BY 4.0",
    "url": ABALONE_PAGE,
}
_GAS_INFO = {
    "citation": ("Vergara, A. (2013). Gas Sensor Array Drift at Different "
                 "Concentrations [Dataset]. UCI Machine Learning Repository."),
    "doi": "10.24432/C5MK6M",
    "papers": [
        "A. Vergara, S. Vembu, T. Ayhan, M. A. Ryan, M. L. Homer, R. Huerta. Chemical gas "
        "sensor drift compensation using classifier ensembles. Sensors and Actuators B: "
        "Chemical 166 (2012) 320-329. doi:10.1016/j.snb.2012.01.074",
        "I. Rodriguez-Lujan, J. Fonollosa, A. Vergara, M. Homer, R. Huerta. On the "
        "calibration of sensor arrays for pattern recognition using the minimal number of "
        "experiments. Chemometrics and Intelligent Laboratory Systems 130 (2014) 123-134. "
        "doi:10.1016/j.chemolab.2013.10.012",
    ],
    "license": "CC BY 4.0 (the donors add: research use only, no commercial use)",
    "url": GAS_PAGE,
}


class DataError(ValueError):
    """A data file is missing, wrong or malformed."""


class ChecksumError(DataError):
    """A file's SHA-256 is not the one of the original file."""


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


# --------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------


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
        """A Dataset made of the given rows; ``split_info`` goes to ``info["split"]``."""
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
        """Map standardized targets or predictions back to the original units."""
        st = self.info.get("standardized")
        if not st:
            return np.asarray(Y, dtype=np.float64)
        return np.asarray(Y, dtype=np.float64) * st["Y_std"] + st["Y_mean"]


def _zscore(A):
    """Column means, stds (ddof 0) and a mask of constant columns."""
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
    (:meth:`Dataset.unstandardize_Y`) maps predictions back.
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


def _finish(data: Dataset, standardize_: bool) -> Dataset:
    data.info.setdefault("standardized", False)
    return standardize(data) if standardize_ else data


# --------------------------------------------------------------------------
# Synthetic
# --------------------------------------------------------------------------


def load_synthetic(n=1000, d=20, k=1, noise=0.1, seed=0, standardize=False) -> Dataset:
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
    standardize : bool
        Z-score features and targets (default False: the teacher is exact).

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
    data = Dataset(
        X=X, Y=Y,
        feature_names=[f"x{i}" for i in range(d)],
        target_name="y" if k == 1 else "y0..",
        info={"name": "synthetic", "source": "deeplinear.datasets.load_synthetic",
              "n": n, "d": d, "k": k, "noise": noise, "teacher": W_teacher},
    )
    return _finish(data, standardize)


# --------------------------------------------------------------------------
# Where files live
# --------------------------------------------------------------------------


def data_dir():
    """``Path`` of ``$DEEPLINEAR_DATA_DIR``, or ``None`` when it is unset or empty."""
    value = os.environ.get("DEEPLINEAR_DATA_DIR", "").strip()
    return Path(value).expanduser() if value else None


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
        return True
    except OSError:
        return False


def cache_dir() -> Path:
    """The cache directory, created if needed.

    ``$DEEPLINEAR_CACHE_DIR`` if set, else ``pooch.os_cache("deeplinear")``.
    If it cannot be written, a folder in the system temporary directory is
    used instead, with a warning; if that fails too, :class:`DataError`.
    """
    value = os.environ.get("DEEPLINEAR_CACHE_DIR", "").strip()
    if value:
        path = Path(value).expanduser()
    else:
        import pooch
        path = Path(pooch.os_cache("deeplinear"))
    if _writable(path):
        return path
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    fallback = Path(tempfile.gettempdir()) / f"deeplinear-cache-{uid}"
    if _writable(fallback):
        warnings.warn(
            f"cache directory {path} cannot be written; using {fallback} instead "
            f"(set DEEPLINEAR_CACHE_DIR to a writable folder to keep downloads)",
            stacklevel=3,
        )
        return fallback
    raise DataError(
        f"cache directory {path} cannot be written, nor can the fallback {fallback}; "
        f"set DEEPLINEAR_CACHE_DIR to a writable folder"
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_verified(path: Path, expected: str) -> bytes:
    """The bytes of ``path``, or :class:`ChecksumError` if its SHA-256 is not ``expected``."""
    data = path.read_bytes()
    actual = _sha256(data)
    if actual != expected:
        raise ChecksumError(
            f"{path}: SHA-256 mismatch, the file is not the original and was not used.\n"
            f"  expected {expected}\n  got      {actual}\n"
            f"Replace it with the original file (or delete it to download it again)."
        )
    return data


def _read_cached(path: Path, expected: str):
    """Bytes of a cached file if its hash is right; a corrupted one is deleted."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    actual = _sha256(data)
    if actual == expected:
        return data
    warnings.warn(
        f"cached {path} is corrupted (SHA-256 {actual}, expected {expected}); "
        f"deleting it and fetching it again",
        stacklevel=4,
    )
    try:
        path.unlink()
    except OSError:
        pass
    return None


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so no half file is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _where_text(subpath: str) -> str:
    dd = data_dir()
    now = f"currently {dd}" if dd is not None else "currently unset"
    return f"$DEEPLINEAR_DATA_DIR/{subpath} (DEEPLINEAR_DATA_DIR is {now})"


# --------------------------------------------------------------------------
# Abalone
# --------------------------------------------------------------------------


def _abalone_from_ucimlrepo() -> bytes:
    """Fetch Abalone with ucimlrepo and rewrite it as the original ``abalone.data`` bytes."""
    try:
        from ucimlrepo import fetch_ucirepo
        repo = fetch_ucirepo(id=1)
        frame = repo.data.features.join(repo.data.targets)
    except Exception as exc:   # offline, import error, server error ...
        raise DataUnavailableError(
            "abalone: no local copy of abalone.data and the download failed "
            f"({type(exc).__name__}: {exc}).\n"
            f"  File needed: abalone.data (SHA-256 {ABALONE_SHA256}).\n"
            f"  Put it at {_where_text('abalone/abalone.data')},\n"
            f"  or at {cache_dir() / 'abalone' / 'abalone.data'} (the cache).\n"
            f"  Download it from {ABALONE_URL} (page {ABALONE_PAGE})."
        ) from exc
    missing = [c for c in ABALONE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"abalone from ucimlrepo: columns {missing} missing; got "
                        f"{list(frame.columns)}")
    frame = frame[ABALONE_COLUMNS]
    lines = [
        ",".join([str(row[0])] + [f"{float(v):.15g}" for v in row[1:8]] + [str(int(row[8]))])
        for row in frame.itertuples(index=False)
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def _abalone_bytes():
    """(bytes, source) of ``abalone.data`` from the data dir, the cache or the network."""
    dd = data_dir()
    if dd is not None:
        path = dd / "abalone" / "abalone.data"
        if path.is_file():
            return _read_verified(path, ABALONE_SHA256), str(path)
    cached = cache_dir() / "abalone" / "abalone.data"
    data = _read_cached(cached, ABALONE_SHA256)
    if data is not None:
        return data, str(cached)
    data = _abalone_from_ucimlrepo()
    actual = _sha256(data)
    if actual != ABALONE_SHA256:
        raise ChecksumError(
            "abalone.data rebuilt from ucimlrepo.fetch_ucirepo(id=1): SHA-256 mismatch, "
            f"not used and not cached.\n  expected {ABALONE_SHA256}\n  got      {actual}"
        )
    _atomic_write(cached, data)
    return data, f"ucimlrepo.fetch_ucirepo(id=1), cached at {cached}"


def _parse_abalone(data: bytes, source: str):
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, names=ABALONE_COLUMNS,
                            dtype={c: (str if c == "Sex" else np.float64)
                                   for c in ABALONE_COLUMNS})
    except Exception as exc:
        raise DataFormatError(f"{source}: cannot parse as abalone.data: {exc}",
                              file=source) from exc
    bad = ~frame["Sex"].isin(ABALONE_SEXES)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(f"{source}, line {i + 1}: Sex {frame['Sex'].iloc[i]!r} "
                              f"is not one of {ABALONE_SEXES}", file=source, line=i + 1)
    num = frame[ABALONE_COLUMNS[1:]].to_numpy(dtype=np.float64)
    finite = np.isfinite(num).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise DataFormatError(f"{source}, line {i + 1}: missing or non-finite value",
                              file=source, line=i + 1)
    onehot = (frame["Sex"].to_numpy()[:, None] == np.array(ABALONE_SEXES)[None, :])
    X = np.hstack([onehot.astype(np.float64), num[:, :7]])
    Y = num[:, 7:8].copy()
    return X, Y


def load_abalone(standardize=True) -> Dataset:
    """UCI Abalone (id 1): 4177 rows, 10 features, target ``Rings``.

    Features: ``Sex_M``, ``Sex_F``, ``Sex_I`` (one-hot, in that order), then
    ``Length``, ``Diameter``, ``Height``, ``Whole_weight``, ``Shucked_weight``,
    ``Viscera_weight``, ``Shell_weight``. With ``standardize=True`` (default)
    every column, the one-hot ones included, and the target are z-scored.
    """
    data, source = _abalone_bytes()
    X, Y = _parse_abalone(data, source)
    names = [f"Sex_{s}" for s in ABALONE_SEXES] + ABALONE_COLUMNS[1:8]
    info = dict(_ABALONE_INFO, name="abalone", source=source, n=X.shape[0], d=X.shape[1],
                sha256=ABALONE_SHA256)
    return _finish(Dataset(X, Y, names, "Rings", info), standardize)


# --------------------------------------------------------------------------
# Gas sensor array drift (id 270)
# --------------------------------------------------------------------------

_HEAD_RE = re.compile(r"^([+-]?\d+);(\S+)$")


def _diagnose_gas(data: bytes, source: str):
    """Find the first bad line of a batch file and raise :class:`DataFormatError`."""
    text = data.decode("ascii", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{source}, line {lineno}"

        def fail(msg):
            raise DataFormatError(f"{where}: {msg}", file=source, line=lineno)

        m = _HEAD_RE.match(tokens[0])
        if m is None:
            fail(f"malformed line: expected 'GAS;CONCENTRATION' first, got {tokens[0][:40]!r}")
        gas = int(m.group(1))
        if gas not in GAS_NAMES:
            fail(f"unknown gas id {gas} (expected 1..6)")
        try:
            conc = float(m.group(2))
        except ValueError:
            fail(f"malformed concentration {m.group(2)!r}")
        if not math.isfinite(conc):
            fail(f"concentration is {conc}")
        feats = tokens[1:]
        if len(feats) != N_GAS_FEATURES:
            fail(f"expected {N_GAS_FEATURES} features, got {len(feats)}")
        for j, tok in enumerate(feats, start=1):
            key, sep, value = tok.partition(":")
            if sep != ":" or key != str(j):
                fail(f"malformed line: feature {j} should read '{j}:value', got {tok[:40]!r}")
            try:
                v = float(value)
            except ValueError:
                fail(f"malformed value {value[:40]!r} for feature {j}")
            if not math.isfinite(v):
                fail(f"feature {j} is {value!r} (NaN or infinite)")
    raise DataFormatError(f"{source}: cannot be parsed as a gas sensor batch file",
                          file=source)


def _parse_gas(data: bytes, source: str):
    """Parse one batch file: ``(gas int64 (m,), concentration (m,), X (m, 128))``.

    Fast path: turn ``;`` and ``:`` into spaces and let pandas' C parser read
    258 numbers per line (gas, concentration, then 128 pairs index, value);
    check the indices are 1..128 in order, all values finite, gas ids 1..6.
    Anything unexpected re-reads the file line by line to say which line is
    wrong (:class:`DataFormatError` with ``file`` and ``line``).
    """
    import pandas as pd

    width = 2 + 2 * N_GAS_FEATURES
    flat = data.replace(b";", b" ").replace(b":", b" ")
    try:
        A = pd.read_csv(io.BytesIO(flat), sep=" ", header=None, dtype=np.float64,
                        engine="c").to_numpy()
    except Exception:
        A = None
    ok = A is not None and A.ndim == 2 and A.shape[0] > 0 and A.shape[1] in (width, width + 1)
    if ok and A.shape[1] == width + 1:       # the trailing space of every line
        ok = bool(np.isnan(A[:, width]).all())
        A = A[:, :width]
    if ok:
        ok = bool(np.isfinite(A).all()
                  and (A[:, 2::2] == np.arange(1, N_GAS_FEATURES + 1)).all())
    if ok:
        gas = A[:, 0]
        ok = bool(((gas >= 1) & (gas <= 6) & (gas == np.round(gas))).all())
    if not ok:
        _diagnose_gas(data, source)   # raises
    return A[:, 0].astype(np.int64), A[:, 1].copy(), np.ascontiguousarray(A[:, 3::2])


def _extract_batches(archive: Path, wanted) -> dict:
    """Bytes of the wanted ``batchN.dat`` files found in a (possibly nested) zip."""
    found = {}

    def walk(zf):
        for member in zf.namelist():
            base = member.rsplit("/", 1)[-1]
            if base in wanted and base not in found:
                found[base] = zf.read(member)
            elif base.lower().endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(zf.read(member))) as inner:
                    walk(inner)

    try:
        with zipfile.ZipFile(archive) as zf:
            walk(zf)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{archive}: not a valid zip archive ({exc})") from exc
    return found


def _gas_missing_message(exc, needed) -> str:
    return (
        "gas sensor drift: no local copy and the download failed "
        f"({type(exc).__name__}: {exc}).\n"
        f"  Files needed: {', '.join(needed)} (SHA-256 in deeplinear.datasets.GAS_SHA256).\n"
        f"  Put them at {_where_text('gas_sensor_drift/')},\n"
        f"  or at {cache_dir() / 'gas_sensor_drift'} (the cache).\n"
        f"  Download the archive {GAS_ARCHIVE_URL}\n"
        f"  (SHA-256 {GAS_ARCHIVE_SHA256}; page {GAS_PAGE})."
    )


def _download_gas_archive(dest: Path, needed) -> Path:
    """Download the UCI archive with pooch (hash checked; retried if it fails the check)."""
    import pooch

    last = None
    for _ in range(DOWNLOAD_ATTEMPTS):
        try:
            return Path(pooch.retrieve(
                GAS_ARCHIVE_URL, known_hash=f"sha256:{GAS_ARCHIVE_SHA256}",
                fname=GAS_ARCHIVE_NAME, path=dest, downloader=_DOWNLOADER,
                progressbar=False,
            ))
        except ValueError as exc:   # pooch: hash mismatch (truncated or corrupted)
            last = exc
        except Exception as exc:    # offline, HTTP error ...
            raise DataUnavailableError(_gas_missing_message(exc, needed)) from exc
    raise DataError(
        f"{GAS_ARCHIVE_URL}: the download failed its SHA-256 check {DOWNLOAD_ATTEMPTS} "
        f"times (truncated or corrupted); nothing was cached. Last error: {last}"
    )


def _gas_sources():
    """``({batch: (bytes, path)}, missing batch numbers, origin)``."""
    all_names = {i: f"batch{i}.dat" for i in range(1, 11)}
    dd = data_dir()
    if dd is not None:
        folder = dd / "gas_sensor_drift"
        present = {i: folder / nm for i, nm in all_names.items() if (folder / nm).is_file()}
        if present:
            files = {i: (_read_verified(p, GAS_SHA256[p.name]), str(p))
                     for i, p in present.items()}
            missing = [i for i in all_names if i not in present]
            return files, missing, str(folder)
    folder = cache_dir() / "gas_sensor_drift"
    files = {}
    for i, nm in all_names.items():
        data = _read_cached(folder / nm, GAS_SHA256[nm])
        if data is not None:
            files[i] = (data, str(folder / nm))
    needed = [nm for i, nm in all_names.items() if i not in files]
    if needed:
        archive = _download_gas_archive(folder.parent, needed)
        extracted = _extract_batches(archive, set(needed))
        absent = [nm for nm in needed if nm not in extracted]
        if absent:
            raise DataError(f"{archive}: {', '.join(absent)} not found in the archive")
        for nm in needed:
            actual = _sha256(extracted[nm])
            if actual != GAS_SHA256[nm]:
                raise ChecksumError(
                    f"{nm} from {archive}: SHA-256 mismatch, not used and not cached.\n"
                    f"  expected {GAS_SHA256[nm]}\n  got      {actual}"
                )
        for nm in needed:
            _atomic_write(folder / nm, extracted[nm])
            i = int(nm[5:-4])
            files[i] = (extracted[nm], str(folder / nm))
    return files, [], str(folder)


def _load_gas_arrays():
    """All rows of the available batches, and a warning if some batches are missing."""
    files, missing, origin = _gas_sources()
    batches = sorted(files)
    parts = [(_parse_gas(files[i][0], files[i][1]), i) for i in batches]
    gas = np.concatenate([p[0] for p, _ in parts])
    conc = np.concatenate([p[1] for p, _ in parts])
    X = np.vstack([p[2] for p, _ in parts])
    batch = np.concatenate([np.full(p[0].shape[0], i, dtype=np.int64) for p, i in parts])
    if missing:
        names = ", ".join(f"batch{i}.dat" for i in missing)
        n_eth = int((gas == 1).sum())
        warnings.warn(
            f"{names} missing: {n_eth} of {sum(GAS_ETHANOL_ROWS.values())} ethanol rows "
            f"({gas.size} of {sum(GAS_ROWS.values())} rows of all gases) loaded from {origin}",
            PartialDataWarning, stacklevel=3,
        )
    meta = {"source": origin, "batches": batches, "missing_batches": missing,
            "files": [files[i][1] for i in batches]}
    return gas, conc, X, batch, meta


def load_ethanol(standardize=True) -> Dataset:
    """Ethanol (gas 1) rows of UCI id 270: 128 features, target concentration (ppmv).

    The full data set has 2565 ethanol rows in ``batch1.dat`` ... ``batch10.dat``.
    If ``$DEEPLINEAR_DATA_DIR/gas_sensor_drift`` holds only some of the batches,
    those are loaded with a :class:`PartialDataWarning`. ``info["rows"]["batch"]``
    gives each row's batch number.
    """
    gas, conc, X, batch, meta = _load_gas_arrays()
    keep = gas == 1
    info = dict(_GAS_INFO, name="ethanol", n=int(keep.sum()), d=N_GAS_FEATURES,
                gas="Ethanol (gas id 1)", units="ppmv", **meta,
                rows={"batch": batch[keep]})
    data = Dataset(X[keep], conc[keep][:, None], list(GAS_FEATURE_NAMES),
                   "concentration_ppmv", info)
    return _finish(data, standardize)


def load_gas_sensor_drift():
    """The whole UCI id 270 table as a ``pandas.DataFrame`` (not a Dataset).

    Columns: ``batch`` (1..10), ``gas`` (1..6), ``gas_name``,
    ``concentration_ppmv``, then the 128 features :data:`GAS_FEATURE_NAMES`.
    Nothing is standardized. ``df.attrs["info"]`` holds the sources, the
    missing batches and the citations.
    """
    import pandas as pd

    gas, conc, X, batch, meta = _load_gas_arrays()
    frame = pd.DataFrame(X, columns=GAS_FEATURE_NAMES)
    frame.insert(0, "concentration_ppmv", conc)
    frame.insert(0, "gas_name", pd.Categorical([GAS_NAMES[g] for g in gas.tolist()],
                                               categories=list(GAS_NAMES.values())))
    frame.insert(0, "gas", gas)
    frame.insert(0, "batch", batch)
    frame.attrs["info"] = dict(_GAS_INFO, name="gas_sensor_drift", n=int(gas.size), **meta)
    return frame


# --------------------------------------------------------------------------
# Your own CSV
# --------------------------------------------------------------------------


def load_csv(path, target=None, standardize=True, **read_csv_kwargs) -> Dataset:
    """A table of your own: every column numeric, one of them the target.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row. Extra keywords go to ``pandas.read_csv``.
    target : str, optional
        Name of the target column (default: the last column).
    standardize : bool
        Z-score features and target (default True, as the UCI loaders).

    A non-numeric column, a missing value or a missing target column raises
    :class:`DataError` naming the column.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, **read_csv_kwargs)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty") from exc
    if frame.shape[1] < 2:
        raise DataError(f"{path}: expected at least 2 columns (features and a target), "
                        f"got {list(frame.columns)}")
    if frame.shape[0] == 0:
        raise DataError(f"{path}: no data rows")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if target is None:
        target = columns[-1]
    if target not in columns:
        raise DataError(f"{path}: target column {target!r} not found; columns are {columns}")
    for col in columns:
        series = frame[col]
        if series.dtype.kind not in "iuf":
            as_num = pd.to_numeric(series, errors="coerce")
            bad = as_num.isna() & series.notna()
            example = f", e.g. {series[bad].iloc[0]!r} in row {int(np.flatnonzero(bad)[0]) + 1}" \
                if bad.any() else ""
            raise DataError(f"{path}: column {col!r} is not numeric (dtype {series.dtype}"
                            f"{example}); encode it as numbers or drop it")
        n_missing = int((~np.isfinite(series.to_numpy(dtype=np.float64))).sum())
        if n_missing:
            raise DataError(f"{path}: column {col!r} has {n_missing} missing or "
                            f"non-finite values")
    features = [c for c in columns if c != target]
    X = frame[features].to_numpy(dtype=np.float64)
    Y = frame[[target]].to_numpy(dtype=np.float64)
    info = {"name": path.stem, "source": str(path.resolve()), "n": X.shape[0],
            "d": X.shape[1], "citation": None, "doi": None, "license": None}
    return _finish(Dataset(X, Y, features, target, info), standardize)


# --------------------------------------------------------------------------
# By name
# --------------------------------------------------------------------------

_LOADERS = {
    "synthetic": load_synthetic,
    "abalone": load_abalone,
    "ethanol": load_ethanol,
    "csv": load_csv,
}


def load(name, **kwargs) -> Dataset:
    """Load a data set by name: "synthetic", "abalone", "ethanol" or "csv".

    Keywords go to the loader, e.g. ``load("csv", path="t.csv", target="y")``
    or ``load("synthetic", n=200, d=5)``.
    """
    key = str(name).lower()
    if key not in _LOADERS:
        raise ValueError(f"name: unknown data set {name!r}; expected one of {sorted(_LOADERS)}")
    return _LOADERS[key](**kwargs)
