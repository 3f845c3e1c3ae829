"""Small helpers shared by the scripts in ``tutorials/``.

Each tutorial runs unchanged as a script (``python tutorials/01_....py``), as
a Jupyter notebook (downloaded from the site, or opened with jupytext), and in
the docs' gallery. It writes one figure and the CSV of the numbers behind it
(:func:`save`, which also shows the figure: inline in a notebook, in a
window from a script with an interactive backend). Where they go
(:func:`figures_dir`, which never relies on ``__file__``, absent in a
notebook):

- a full run writes into the repository's ``figures/`` when this copy of
  deeplinear is a checkout of the repository (the committed figures), else
  into ``figures/`` in the current folder;
- a quick run (``DEEPLINEAR_QUICK=1``: few steps, one seed, a smaller grid;
  each script then runs in seconds, and its numbers mean nothing) never
  writes into the repository's ``figures/``: it writes into
  ``deeplinear-quick-figures`` in the system's temporary folder;
- ``DEEPLINEAR_FIGURES_DIR`` overrides both (the tests and the docs build
  use their own folders).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

__all__ = ["quick_mode", "pick", "figures_dir", "repository_figures", "pool", "save",
           "load_data", "data_caption"]


def quick_mode() -> bool:
    """True when ``DEEPLINEAR_QUICK`` is set to 1/true/yes."""
    return os.environ.get("DEEPLINEAR_QUICK", "").strip().lower() in {"1", "true", "yes"}


def pick(full, quick):
    """``quick`` in quick mode, else ``full``."""
    return quick if quick_mode() else full


def repository_figures() -> Path | None:
    """The repository's ``figures/`` folder if this copy of deeplinear is a
    checkout of it (an editable install or ``PYTHONPATH``), else None."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "figures").is_dir():
        return root / "figures"
    return None


def figures_dir() -> Path:
    """Where a tutorial writes its figure and CSV; created if needed.

    ``$DEEPLINEAR_FIGURES_DIR`` if set; else, in quick mode,
    ``deeplinear-quick-figures`` in the temporary folder (never the committed
    figures); else the repository's ``figures/`` (:func:`repository_figures`)
    or, outside a checkout, ``figures/`` in the current folder.
    """
    chosen = os.environ.get("DEEPLINEAR_FIGURES_DIR", "").strip()
    if chosen:
        path = Path(chosen)
    elif quick_mode():
        path = Path(tempfile.gettempdir()) / "deeplinear-quick-figures"
    else:
        path = repository_figures() or Path.cwd() / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def pool(workers=2):
    """``with tutorial.pool() as pool:`` a process pool of ``workers`` processes,
    or None in quick mode (``grid_search(..., executor=None)`` runs serially).

    The pool (``experiments.process_pool``) leaves Ctrl-C to this process and
    is shut down on leaving the block. Its workers start on the first
    submit, so kernels that ``grid_search`` compiles first are inherited when
    the workers are forked (Linux).
    """
    if quick_mode():
        yield None
        return
    from .experiments import process_pool

    with process_pool(workers) as executor:
        yield executor


def save(fig, frame, name, folder) -> None:
    """Write ``<folder>/<name>.png`` (150 dpi) and ``<folder>/<name>.csv``, then
    show the figure (``plt.show()``) and close it.

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
    None
        (A tutorial's last line calls it: a value returned would be printed
        below the cell of a notebook or a gallery page.) It prints the paths.
    """
    import matplotlib.pyplot as plt

    folder = Path(folder)
    png, csv = folder / f"{name}.png", folder / f"{name}.csv"
    fig.savefig(png, dpi=150)
    frame.to_csv(csv, index=False)
    print(f"wrote {png} and {csv.name}")
    plt.show()  # inline in a notebook; a window with an interactive backend; nothing with Agg
    plt.close(fig)


def load_data(name, **options):
    """``datasets.load(name, **options)``, with the partial-data warning turned into a note.

    Only 8 of the 10 gas-sensor batches are available offline, so Ethanol
    has 1316 of its 2565 rows; ``data_caption`` says so in every figure.
    """
    from . import datasets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", datasets.PartialDataWarning)
        return datasets.load(name, **options)


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
