"""Where the original data files come from, and the check that they are the originals.

A file is described by a :class:`RemoteFile`: its path below the data and
cache folders, the address to download it from, and the SHA-256 of the
original. The loaders look for it, in this order:

1. ``$DEEPLINEAR_DATA_DIR/<name>`` (:func:`data_dir`, :func:`read_local`): a
   file there with the wrong SHA-256 is an error, it is never used.
2. ``<cache>/<name>`` (:func:`cache_dir`, :func:`read_cached`): a corrupted
   cached file is deleted (with a warning) and fetched again.
3. The network (:func:`pooch_download`, :func:`ucimlrepo_frame`); what comes
   from it is checked before it is cached (:func:`write_cached`).

:func:`check_sha256` is the one place where a SHA-256 is compared.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from ._base import ChecksumError, DataError, DataUnavailableError


#: How many times a download that fails its hash check is tried.
DOWNLOAD_ATTEMPTS = 3
#: pooch downloader used for the archive; ``None`` lets pooch choose (HTTP).
#: Tests replace it to serve a locally built archive through the same code.
_DOWNLOADER = None


@dataclass(frozen=True)
class RemoteFile:
    """One original file of a data set.

    Attributes
    ----------
    name : str
        Path below ``$DEEPLINEAR_DATA_DIR`` and below the cache folder, in the
        original layout, e.g. ``"abalone/abalone.data"``.
    url : str
        Where the original can be downloaded (for a file shipped inside an
        archive, the archive's address).
    sha256 : str
        SHA-256 hex digest of the original file.
    """

    name: str
    url: str
    sha256: str

    @property
    def basename(self) -> str:
        """The file name without its folder, e.g. ``"abalone.data"``."""
        return self.name.rsplit("/", 1)[-1]


# --------------------------------------------------------------------------
# Folders
# --------------------------------------------------------------------------


def data_dir():
    """``Path`` of ``$DEEPLINEAR_DATA_DIR``, or ``None`` when it is unset or empty."""
    value = os.environ.get("DEEPLINEAR_DATA_DIR", "").strip()
    return Path(value).expanduser() if value else None


def local_path(subpath: str):
    """``$DEEPLINEAR_DATA_DIR/subpath`` as a ``Path``, or ``None`` when the variable is unset."""
    dd = data_dir()
    return None if dd is None else dd / subpath


def where_text(subpath: str) -> str:
    """``$DEEPLINEAR_DATA_DIR/subpath`` and the variable's current value, for messages."""
    dd = data_dir()
    now = f"currently {dd}" if dd is not None else "currently unset"
    return f"$DEEPLINEAR_DATA_DIR/{subpath} (DEEPLINEAR_DATA_DIR is {now})"


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


# --------------------------------------------------------------------------
# Hashes, reads and writes
# --------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    """SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_sha256(data: bytes, expected: str, source: str, verdict: str,
                 advice: str = "") -> bytes:
    """``data`` if its SHA-256 is ``expected``, else :class:`ChecksumError`.

    Parameters
    ----------
    data : bytes
        The whole file.
    expected : str
        SHA-256 hex digest of the original file.
    source : str
        What ``data`` is, first in the message (a path, ``"batch3.dat from
        <archive>"`` ...).
    verdict : str
        What was done with it, e.g. ``"not used and not cached"``.
    advice : str
        Appended to the message as is.

    Returns
    -------
    bytes
        ``data`` itself.

    Raises
    ------
    ChecksumError
        ``"<source>: SHA-256 mismatch, <verdict>."`` and both digests, with
        ``file``, ``expected`` and ``actual`` set.
    """
    actual = sha256(data)
    if actual != expected:
        raise ChecksumError(
            f"{source}: SHA-256 mismatch, {verdict}.\n"
            f"  expected {expected}\n  got      {actual}{advice}",
            file=source, expected=expected, actual=actual,
        )
    return data


def read_local(path: Path, expected: str) -> bytes:
    """The bytes of a file of the data dir, or :class:`ChecksumError` if it is not the original."""
    return check_sha256(
        path.read_bytes(), expected, str(path),
        "the file is not the original and was not used",
        "\nReplace it with the original file (or delete it to download it again).",
    )


def read_cached(path: Path, expected: str):
    """Bytes of a cached file if its hash is right, else ``None``; a corrupted one is deleted."""
    if not path.is_file():
        return None
    try:
        return check_sha256(path.read_bytes(), expected, str(path), "corrupted")
    except ChecksumError as exc:
        warnings.warn(
            f"cached {path} is corrupted (SHA-256 {exc.actual}, expected {expected}); "
            f"deleting it and fetching it again",
            stacklevel=4,
        )
    try:
        path.unlink()
    except OSError:
        pass
    return None


def write_cached(path: Path, data: bytes) -> None:
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


# --------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------


def pooch_download(remote: RemoteFile, folder: Path, unavailable) -> Path:
    """Download ``remote`` into ``folder`` with pooch, hash checked; retried if it fails the check.

    pooch compares the download with ``remote.sha256`` itself and deletes a
    file that fails, so nothing half-downloaded is ever cached.

    Parameters
    ----------
    remote : RemoteFile
        Saved as ``folder / remote.basename``.
    folder : Path
    unavailable : callable
        ``unavailable(exc) -> str``, the message of the
        :class:`DataUnavailableError` raised when the download itself fails
        (offline, HTTP error ...).

    Returns
    -------
    Path
        The downloaded (or already present and correct) file.
    """
    import pooch

    last = None
    for _ in range(DOWNLOAD_ATTEMPTS):
        try:
            return Path(pooch.retrieve(
                remote.url, known_hash=f"sha256:{remote.sha256}",
                fname=remote.basename, path=folder, downloader=_DOWNLOADER,
                progressbar=False,
            ))
        except ValueError as exc:   # pooch: hash mismatch (truncated or corrupted)
            last = exc
        except Exception as exc:    # offline, HTTP error ...
            raise DataUnavailableError(unavailable(exc)) from exc
    raise DataError(
        f"{remote.url}: the download failed its SHA-256 check {DOWNLOAD_ATTEMPTS} "
        f"times (truncated or corrupted); nothing was cached. Last error: {last}"
    )


def ucimlrepo_frame(uci_id: int, unavailable):
    """Features and targets of UCI data set ``uci_id`` as one ``pandas.DataFrame``.

    Parameters
    ----------
    uci_id : int
        Id at the UCI Machine Learning Repository (1 for Abalone).
    unavailable : callable
        ``unavailable(exc) -> str``, the message of the
        :class:`DataUnavailableError` raised when ``ucimlrepo`` cannot be
        imported or the download fails.

    Returns
    -------
    pandas.DataFrame, shape (n, n_features + n_targets)
    """
    try:
        from ucimlrepo import fetch_ucirepo
        repo = fetch_ucirepo(id=uci_id)
        return repo.data.features.join(repo.data.targets)
    except Exception as exc:   # offline, import error, server error ...
        raise DataUnavailableError(unavailable(exc)) from exc
