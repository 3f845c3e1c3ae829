"""Data sets as small ``Dataset`` records.

Every loader returns a :class:`Dataset`: ``X`` (n, d) float64, ``Y`` (n, k)
float64 (k = 1 for the real data sets), ``feature_names``, ``target_name`` and
``info`` (source, citation, DOI, licence, n, d and what was standardized).

==========================  ====================================================
``load_synthetic``          linear teacher plus noise, no download
``load_abalone``            UCI Abalone (id 1): 10 features, target Rings
``load_ethanol``            UCI Gas Sensor Array Drift at Different
                            Concentrations (id 270), gas 1 (Ethanol) only:
                            128 features, target concentration (ppmv)
``load_gas_sensor_drift``   the whole id 270 table, all six gases, as a
                            ``pandas.DataFrame`` (not a ``Dataset``)
``load_csv``                your own table, numeric columns only, with or
                            without a header row
``load``                    dispatch by name: "synthetic", "abalone",
                            "ethanol", "csv"
==========================  ====================================================

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
(``ABALONE_SHA256``, ``GAS_SHA256``).

The modules: ``_base`` (the record, standardization, the errors),
``_remote`` (:class:`RemoteFile`, the folders, the hash check, the
downloads), ``abalone``, ``gas_sensor``, ``tabular`` (CSV) and ``synthetic``.
The facts of each UCI data set (file names, URLs, columns, row counts) are
in its module, e.g. ``datasets.abalone.ABALONE_COLUMNS`` or
``datasets.gas_sensor.GAS_ETHANOL_ROWS``.
"""

from ._base import (ChecksumError, DataError, DataFormatError, Dataset,
                    DataUnavailableError, NoHeaderWarning, PartialDataWarning, standardize)
from ._remote import RemoteFile, cache_dir, data_dir
from .abalone import ABALONE, ABALONE_SHA256, load_abalone
from .gas_sensor import (GAS_ARCHIVE, GAS_ARCHIVE_SHA256, GAS_SHA256, load_ethanol,
                            load_gas_sensor_drift)
from .synthetic import load_synthetic
from .tabular import load_csv

__all__ = [
    "Dataset",
    "DataError",
    "ChecksumError",
    "DataFormatError",
    "DataUnavailableError",
    "PartialDataWarning",
    "NoHeaderWarning",
    "standardize",
    "load",
    "load_synthetic",
    "load_abalone",
    "load_ethanol",
    "load_gas_sensor_drift",
    "load_csv",
    "data_dir",
    "cache_dir",
    "RemoteFile",
    "ABALONE",
    "GAS_ARCHIVE",
    "ABALONE_SHA256",
    "GAS_SHA256",
    "GAS_ARCHIVE_SHA256",
]

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

    Parameters
    ----------
    name : str
        Case-insensitive.
    **kwargs
        Passed to the loader.

    Returns
    -------
    Dataset
    """
    key = str(name).lower()
    if key not in _LOADERS:
        raise ValueError(f"name: unknown data set {name!r}; expected one of {sorted(_LOADERS)}")
    return _LOADERS[key](**kwargs)
