"""UCI Gas Sensor Array Drift at Different Concentrations (id 270).

13910 measurements of 16 chemical sensors (8 features each, 128 in all)
exposed to six gases, in ten batch files ``batch1.dat`` ... ``batch10.dat``
recorded over 36 months. A line reads ``GAS;CONCENTRATION 1:v1 ... 128:v128``.

The batch files are read from ``$DEEPLINEAR_DATA_DIR/gas_sensor_drift/``
(a folder with only some of them loads with a :class:`PartialDataWarning`),
else from the cache, else extracted from the UCI archive (:data:`GAS_ARCHIVE`,
downloaded with pooch). Every batch file is checked against
``GAS_SHA256`` before it is used or cached.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ._base import DataError, DataFormatError, Dataset, PartialDataWarning, finish
from ._remote import (RemoteFile, cache_dir, check_sha256, local_path, pooch_download,
                      read_cached, read_local, where_text, write_cached)

__all__ = [
    "load_ethanol",
    "load_gas_sensor_drift",
    "GAS_ARCHIVE",
    "GAS_SHA256",
    "GAS_ROWS",
    "GAS_ETHANOL_ROWS",
    "GAS_NAMES",
    "GAS_FEATURE_NAMES",
    "N_GAS_FEATURES",
    "GAS_ARCHIVE_URL",
    "GAS_ARCHIVE_NAME",
    "GAS_ARCHIVE_SHA256",
    "GAS_PAGE",
]

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
#: The UCI archive, cached at the top of the cache folder.
GAS_ARCHIVE = RemoteFile(GAS_ARCHIVE_NAME, GAS_ARCHIVE_URL, GAS_ARCHIVE_SHA256)
GAS_PAGE = "https://archive.ics.uci.edu/dataset/270"
_FOLDER = "gas_sensor_drift"
N_GAS_FEATURES = 128
_GAS_SENSOR_FEATURES = ["dR", "dR_norm", "EMAi_0.001", "EMAi_0.01", "EMAi_0.1",
                        "EMAd_0.001", "EMAd_0.01", "EMAd_0.1"]
#: The 128 gas features: 16 sensors x 8 features per sensor, in file order.
GAS_FEATURE_NAMES = [f"S{s}_{f}" for s in range(1, 17) for f in _GAS_SENSOR_FEATURES]

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


def _batch(i: int) -> RemoteFile:
    """Batch file ``i`` (1..10), with its hash as ``GAS_SHA256`` holds it now."""
    name = f"batch{i}.dat"
    return RemoteFile(f"{_FOLDER}/{name}", GAS_ARCHIVE.url, GAS_SHA256[name])


# --------------------------------------------------------------------------
# Parsing a batch file
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
    """Parse one batch file.

    Fast path: turn ``;`` and ``:`` into spaces and let pandas' C parser read
    258 numbers per line (gas, concentration, then 128 pairs index, value);
    check the indices are 1..128 in order, all values finite, gas ids 1..6.
    Anything unexpected re-reads the file line by line to say which line is
    wrong (:class:`DataFormatError` with ``file`` and ``line``).

    Returns
    -------
    gas : ndarray, shape (m,), int64
    concentration : ndarray, shape (m,), float64
    X : ndarray, shape (m, 128), float64
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


# --------------------------------------------------------------------------
# Finding the batch files
# --------------------------------------------------------------------------


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


def _unavailable_message(needed):
    def message(exc) -> str:
        return (
            "gas sensor drift: no local copy and the download failed "
            f"({type(exc).__name__}: {exc}).\n"
            f"  Files needed: {', '.join(needed)} (SHA-256 in deeplinear.datasets.GAS_SHA256).\n"
            f"  Put them at {where_text(_FOLDER + '/')},\n"
            f"  or at {cache_dir() / _FOLDER} (the cache).\n"
            f"  Download the archive {GAS_ARCHIVE.url}\n"
            f"  (SHA-256 {GAS_ARCHIVE.sha256}; page {GAS_PAGE})."
        )
    return message


def _gas_sources():
    """``({batch: (bytes, path)}, missing batch numbers, origin)``."""
    batches = {i: _batch(i) for i in range(1, 11)}
    folder = local_path(_FOLDER)
    if folder is not None:
        paths = {i: local_path(b.name) for i, b in batches.items()}
        present = {i: p for i, p in paths.items() if p.is_file()}
        if present:
            files = {i: (read_local(p, batches[i].sha256), str(p))
                     for i, p in present.items()}
            missing = [i for i in batches if i not in present]
            return files, missing, str(folder)
    cache = cache_dir()
    files = {}
    for i, b in batches.items():
        data = read_cached(cache / b.name, b.sha256)
        if data is not None:
            files[i] = (data, str(cache / b.name))
    needed = [i for i in batches if i not in files]
    if needed:
        names = [batches[i].basename for i in needed]
        archive = pooch_download(GAS_ARCHIVE, cache, _unavailable_message(names))
        extracted = _extract_batches(archive, set(names))
        absent = [nm for nm in names if nm not in extracted]
        if absent:
            raise DataError(f"{archive}: {', '.join(absent)} not found in the archive")
        for i in needed:
            check_sha256(extracted[batches[i].basename], batches[i].sha256,
                         f"{batches[i].basename} from {archive}", "not used and not cached")
        for i in needed:
            data = extracted[batches[i].basename]
            write_cached(cache / batches[i].name, data)
            files[i] = (data, str(cache / batches[i].name))
    return files, [], str(cache / _FOLDER)


def _load_gas_arrays():
    """All rows of the available batches, and a warning if some batches are missing.

    Returns
    -------
    gas : ndarray, shape (m,), int64
    concentration : ndarray, shape (m,), float64
    X : ndarray, shape (m, 128), float64
    batch : ndarray, shape (m,), int64
    meta : dict
        ``source``, ``batches``, ``missing_batches`` and ``files``.
    """
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


# --------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------


def load_ethanol(standardize=True) -> Dataset:
    """Ethanol (gas 1) rows of UCI id 270: 128 features, target concentration (ppmv).

    The full data set has 2565 ethanol rows in ``batch1.dat`` ... ``batch10.dat``.
    If ``$DEEPLINEAR_DATA_DIR/gas_sensor_drift`` holds only some of the batches,
    those are loaded with a :class:`PartialDataWarning`. ``info["rows"]["batch"]``
    gives each row's batch number.

    Parameters
    ----------
    standardize : bool, default True
        Z-score the 128 features and the concentration.

    Returns
    -------
    Dataset
        ``X`` (m, 128), ``Y`` (m, 1) with m = 2565 when all ten batches are
        there; ``info["rows"]["batch"]`` has shape (m,).
    """
    gas, conc, X, batch, meta = _load_gas_arrays()
    keep = gas == 1
    info = dict(_GAS_INFO, name="ethanol", n=int(keep.sum()), d=N_GAS_FEATURES,
                gas="Ethanol (gas id 1)", units="ppmv", **meta,
                rows={"batch": batch[keep]})
    data = Dataset(X[keep], conc[keep][:, None], list(GAS_FEATURE_NAMES),
                   "concentration_ppmv", info)
    return finish(data, standardize)


def load_gas_sensor_drift():
    """The whole UCI id 270 table as a ``pandas.DataFrame`` (not a Dataset).

    Columns: ``batch`` (1..10), ``gas`` (1..6), ``gas_name``,
    ``concentration_ppmv``, then the 128 features ``GAS_FEATURE_NAMES``.
    Nothing is standardized. ``df.attrs["info"]`` holds the sources, the
    missing batches and the citations.

    Returns
    -------
    pandas.DataFrame, shape (m, 132)
        m = 13910 when all ten batches are there.
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
