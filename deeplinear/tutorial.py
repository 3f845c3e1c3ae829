"""Small helpers shared by the scripts in ``tutorials/``.

Each tutorial script regenerates one figure in ``figures/`` and the CSV of
the numbers behind it. Two environment variables change what they do:

``DEEPLINEAR_QUICK=1``
    Quick mode: few steps, one seed, a smaller grid; each script then runs
    in seconds (the tests run every tutorial this way).
``DEEPLINEAR_FIGURES_DIR``
    Write the figures and CSVs there instead of the repository's
    ``figures/`` (the tests use a temporary folder, so the committed
    figures are never overwritten by a quick run).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

__all__ = ["quick_mode", "pick", "figures_dir", "pool", "save", "load_data", "data_caption"]


def quick_mode() -> bool:
    """True when ``DEEPLINEAR_QUICK`` is set to 1/true/yes."""
    return os.environ.get("DEEPLINEAR_QUICK", "").strip().lower() in {"1", "true", "yes"}


def pick(full, quick):
    """``quick`` in quick mode, else ``full``."""
    return quick if quick_mode() else full


def figures_dir(default) -> Path:
    """``$DEEPLINEAR_FIGURES_DIR`` if set, else ``default`` (a tutorial passes
    ``Path(__file__).resolve().parent.parent / "figures"``); created if needed."""
    path = Path(os.environ.get("DEEPLINEAR_FIGURES_DIR", "").strip() or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def pool(workers=2):
    """``with tutorial.pool() as pool:`` a process pool of ``workers`` processes,
    or None in quick mode (``grid_search(..., executor=None)`` runs serially).

    The pool is shut down on leaving the block. Its workers start on the first
    submit, so kernels that ``grid_search`` compiles first are inherited when
    the workers are forked (Linux).
    """
    if quick_mode():
        yield None
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers) as executor:
        yield executor


def save(fig, frame, name, folder) -> tuple:
    """Write ``<folder>/<name>.png`` (150 dpi) and ``<folder>/<name>.csv``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    frame : pandas.DataFrame
        The numbers drawn in the figure, in long format.
    name : str
        File name without extension, e.g. ``"03_report_figure2"``.
    folder : path-like

    Returns
    -------
    (png, csv) : tuple of Path
    """
    import matplotlib.pyplot as plt

    folder = Path(folder)
    png, csv = folder / f"{name}.png", folder / f"{name}.csv"
    fig.savefig(png, dpi=150)
    plt.close(fig)
    frame.to_csv(csv, index=False)
    print(f"wrote {png} and {csv.name}")
    return png, csv


def load_data(name):
    """``datasets.load(name)``, with the partial-data warning turned into a note.

    Only 8 of the 10 gas-sensor batches are available offline, so Ethanol
    has 1316 of its 2565 rows; ``data_caption`` says so in every figure.
    """
    from . import datasets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", datasets.PartialDataWarning)
        return datasets.load(name)


def data_caption(data) -> str:
    """``"abalone (n=4177, d=10)"``; for partial Ethanol also the rows used."""
    text = f"{data.name} (n={data.n}, d={data.d})"
    missing = data.info.get("missing_batches")
    if missing:
        from .datasets.gas_sensor import GAS_ETHANOL_ROWS

        total = sum(GAS_ETHANOL_ROWS.values()) if data.name == "ethanol" else None
        batches = ", ".join(str(b) for b in missing)
        text += (f", {data.n} of {total} rows: batches {batches} not available offline"
                 if total else f", batches {batches} missing")
    return text
