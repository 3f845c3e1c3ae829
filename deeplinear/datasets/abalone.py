"""UCI Abalone (id 1): 4177 abalones, 8 measurements, target the number of rings.

The original file is ``abalone.data`` (:data:`ABALONE`): comma-separated,
no header, columns :data:`ABALONE_COLUMNS`. It is read from
``$DEEPLINEAR_DATA_DIR/abalone/abalone.data``, else from the cache, else
fetched with ``ucimlrepo.fetch_ucirepo(id=1)`` and rewritten byte for byte as
the original file, whose SHA-256 is checked before it is cached.
"""

from __future__ import annotations

import io

import numpy as np

from ._base import DataError, DataFormatError, Dataset, finish
from ._remote import (RemoteFile, cache_dir, check_sha256, local_path, read_cached,
                      read_local, ucimlrepo_frame, where_text, write_cached)

__all__ = [
    "load_abalone",
    "ABALONE",
    "ABALONE_SHA256",
    "ABALONE_URL",
    "ABALONE_PAGE",
    "ABALONE_COLUMNS",
    "ABALONE_SEXES",
]

ABALONE_SHA256 = "de37cdcdcaaa50c309d514f248f7c2302a5f1f88c168905eba23fe2fbc78449f"
ABALONE_URL = "https://archive.ics.uci.edu/static/public/1/abalone.zip"
ABALONE_PAGE = "https://archive.ics.uci.edu/dataset/1/abalone"
#: The original file: its place below the data dir and the cache, URL and SHA-256.
ABALONE = RemoteFile("abalone/abalone.data", ABALONE_URL, ABALONE_SHA256)
ABALONE_COLUMNS = ["Sex", "Length", "Diameter", "Height", "Whole_weight",
                   "Shucked_weight", "Viscera_weight", "Shell_weight", "Rings"]
ABALONE_SEXES = ("M", "F", "I")   # one-hot column order
_UCI_ID = 1

_ABALONE_INFO = {
    "citation": ("Nash, W., Sellers, T., Talbot, S., Cawthorn, A., & Ford, W. (1995). "
                 "Abalone [Dataset]. UCI Machine Learning Repository."),
    "doi": "10.24432/C55C7W",
    "license": "CC BY 4.0",
    "url": ABALONE_PAGE,
}


def _unavailable_message(exc) -> str:
    return (
        "abalone: no local copy of abalone.data and the download failed "
        f"({type(exc).__name__}: {exc}).\n"
        f"  File needed: abalone.data (SHA-256 {ABALONE.sha256}).\n"
        f"  Put it at {where_text(ABALONE.name)},\n"
        f"  or at {cache_dir() / ABALONE.name} (the cache).\n"
        f"  Download it from {ABALONE.url} (page {ABALONE_PAGE})."
    )


def _abalone_from_ucimlrepo() -> bytes:
    """Fetch Abalone with ucimlrepo and rewrite it as the original ``abalone.data`` bytes."""
    frame = ucimlrepo_frame(_UCI_ID, _unavailable_message)
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
    path = local_path(ABALONE.name)
    if path is not None and path.is_file():
        return read_local(path, ABALONE.sha256), str(path)
    cached = cache_dir() / ABALONE.name
    data = read_cached(cached, ABALONE.sha256)
    if data is not None:
        return data, str(cached)
    data = check_sha256(_abalone_from_ucimlrepo(), ABALONE.sha256,
                        f"{ABALONE.basename} rebuilt from ucimlrepo.fetch_ucirepo(id={_UCI_ID})",
                        "not used and not cached")
    write_cached(cached, data)
    return data, f"ucimlrepo.fetch_ucirepo(id={_UCI_ID}), cached at {cached}"


def _parse_abalone(data: bytes, source: str):
    """Parse ``abalone.data``.

    Parameters
    ----------
    data : bytes
        The whole file.
    source : str
        Where it comes from, for the error messages.

    Returns
    -------
    X : ndarray, shape (n, 10), float64
        ``Sex`` one-hot (:data:`ABALONE_SEXES` order), then the 7 measurements.
    Y : ndarray, shape (n, 1), float64
        ``Rings``.

    Raises
    ------
    DataFormatError
        The file cannot be read as CSV, a ``Sex`` is not M, F or I, or a value
        is missing; ``line`` gives the first bad line.
    """
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

    Parameters
    ----------
    standardize : bool, default True
        Z-score the 10 features (the one-hot ones too) and ``Rings``.

    Returns
    -------
    Dataset
        ``X`` (4177, 10), ``Y`` (4177, 1); ``info["source"]`` says which
        file was read.

    Raises
    ------
    ChecksumError
        ``$DEEPLINEAR_DATA_DIR/abalone/abalone.data``, or what ucimlrepo
        served, is not the original file.
    DataUnavailableError
        No local copy and the download failed; the message says where to put
        the file.
    """
    data, source = _abalone_bytes()
    X, Y = _parse_abalone(data, source)
    names = [f"Sex_{s}" for s in ABALONE_SEXES] + ABALONE_COLUMNS[1:8]
    info = dict(_ABALONE_INFO, name="abalone", source=source, n=X.shape[0], d=X.shape[1],
                sha256=ABALONE.sha256)
    return finish(Dataset(X, Y, names, "Rings", info), standardize)
