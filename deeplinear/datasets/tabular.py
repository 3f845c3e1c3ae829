"""Your own table: a CSV file of numeric columns, one of them the target.

:func:`load_csv` reads the file with ``pandas.read_csv`` and refuses, with a
:class:`DataError` that names the column, anything a linear network cannot
take as it is: a non-numeric column, a missing or non-finite value, a target
column that is not there. Nothing is downloaded and nothing is cached.

A header row is optional. A first row whose every field is a number is data,
not names: the file is read without a header, its columns are named by their
position (``"0"``, ``"1"``, ...) and a :class:`NoHeaderWarning` says so.
Column names that are all numbers are therefore read as data; pass
``header=0`` to read them as names.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ._base import DataError, Dataset, NoHeaderWarning, finish

__all__ = ["load_csv"]


def _check_columns(frame, path: Path, columns) -> None:
    """:class:`DataError` naming the first column that is not numeric or not complete."""
    import pandas as pd

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


def _first_row_is_data(path: Path, read_csv_kwargs) -> bool:
    """Whether every field of the file's first row reads as a number (then it is no header).

    The first row is read alone, with the caller's ``pandas.read_csv``
    options (``sep``, ``decimal`` ...), so that a number is what pandas would
    parse as one in the whole file.
    """
    import pandas as pd

    first = pd.read_csv(path, **{**read_csv_kwargs, "header": None, "nrows": 1})
    return all(first[col].dtype.kind in "iuf" for col in first.columns)


def load_csv(path, target=None, standardize=True, **read_csv_kwargs) -> Dataset:
    """A table of your own: every column numeric, one of them the target.

    Parameters
    ----------
    path : str or Path
        CSV file, with or without a header row. A first row whose every field
        is a number is read as data: the columns are then named by their
        position, ``"0"`` to ``"m-1"``, with a :class:`NoHeaderWarning`.
    target : str, optional
        Name of the target column (default: the last column). In a file
        without a header row, its position as a string (``"3"``).
    standardize : bool
        Z-score features and target (default True, as the UCI loaders).
    **read_csv_kwargs
        Passed to ``pandas.read_csv`` (``sep=";"``, ``decimal=","`` ...).
        With ``header`` or ``names`` among them, the first row is read as
        they say and never guessed at (``header=None``: no header row, no
        warning).

    Returns
    -------
    Dataset
        ``X`` (n, d) float64, the other columns in file order, and ``Y``
        (n, 1) float64, the target; ``info["name"]`` is the file's stem and
        ``info["source"]`` its absolute path.

    Raises
    ------
    TypeError
        ``target`` is not a string.
    DataError
        The file does not exist or is empty, has fewer than 2 columns or no
        row, the target column is not found, or a column is not numeric or
        has a missing or non-finite value; the message names the column.

    Warns
    -----
    NoHeaderWarning
        The first row is all numbers, so it was read as data (not when
        ``header`` or ``names`` is given).

    Notes
    -----
    Integer columns are read as float64. A boolean or text column is
    refused rather than guessed at: encode it as numbers (0/1, one-hot)
    before loading. Rows keep the file's order; :meth:`~deeplinear.datasets.Dataset.split` makes
    a random train/validation split.

    Examples
    --------
    >>> from deeplinear import datasets
    >>> data = datasets.load_csv("houses.csv", target="price")   # doctest: +SKIP
    >>> train, valid = data.split(valid_ratio=0.2, seed=42)       # doctest: +SKIP
    """
    import pandas as pd

    if target is not None and not isinstance(target, str):
        raise TypeError(f"target: expected a column name (str) or None, got "
                        f"{type(target).__name__} {target!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    guessed = not {"header", "names"} & set(read_csv_kwargs)
    try:
        no_header = guessed and _first_row_is_data(path, read_csv_kwargs)
        frame = pd.read_csv(path, **({"header": None} if no_header else {}), **read_csv_kwargs)
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
        where = " (no header row: the columns are named by position)" if no_header else ""
        raise DataError(f"{path}: target column {target!r} not found; columns are "
                        f"{columns}{where}")
    if no_header:
        warnings.warn(f"{path}: no header row (every field of the first row is a number): the "
                      f"first row is read as data and the columns are named by position, "
                      f"{columns[0]!r} to {columns[-1]!r}; the target is {target!r}. Pass "
                      "header=None to say so (no warning), or header=0 to read the first row "
                      "as names.", NoHeaderWarning, stacklevel=2)
    _check_columns(frame, path, columns)
    features = [c for c in columns if c != target]
    X = frame[features].to_numpy(dtype=np.float64)
    Y = frame[[target]].to_numpy(dtype=np.float64)
    info = {"name": path.stem, "source": str(path.resolve()), "n": X.shape[0],
            "d": X.shape[1], "citation": None, "doi": None, "license": None}
    return finish(Dataset(X, Y, features, target, info), standardize)
