"""The instructor's private folder: the hidden tests and the judge's reference.

It holds ``gradereference.py`` (each graded rule in plain NumPy, and the
cases) and the hidden tests (``test_*.py``). It never ships: not in a release,
not in the wheel. ``release`` and ``grade`` take it as an argument; from a
checkout of the repository, the default is its ``instructor/`` folder.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from .checks.common import windows
from .regions import find_regions, region_body

__all__ = ["REFERENCE", "default_private", "check_private", "reference", "secret_windows"]

REFERENCE = "gradereference.py"
#: The folder holding ``deeplinear/`` (a checkout, site-packages or a bundle).
PACKAGE_ROOT = Path(__file__).resolve().parents[3]
JUDGE = Path(__file__).resolve().parent


def default_private():
    """The checkout's ``instructor/`` folder, or None outside a checkout."""
    folder = PACKAGE_ROOT / "instructor"
    return folder if (folder / REFERENCE).is_file() else None


def check_private(private, what="--private"):
    """``private`` (or the default) as a resolved folder holding the reference."""
    folder = default_private() if private is None else Path(private)
    if folder is None:
        raise ValueError(f"{what}: no private folder given, and no checkout's instructor/ "
                         "folder beside the package; give the folder holding "
                         f"{REFERENCE} and the hidden tests")
    if not (folder / REFERENCE).is_file():
        raise ValueError(f"{what}: {folder} does not hold {REFERENCE} (the judge's reference)")
    return folder.resolve()


@lru_cache(maxsize=4)
def reference(private):
    """The private reference module, loaded from its file (never from sys.path)."""
    path = Path(private) / REFERENCE
    spec = importlib.util.spec_from_file_location("gradereference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=4)
def secret_windows(private) -> frozenset:
    """Every window of private text that no public file holds.

    The private text is what a release leaves out: the files of the private
    folder and the bodies of the solution regions of the package the judge
    belongs to (when it holds them). What a release shows anyway (the stubs'
    hints, the docstrings, the public tests and the judge) is not withheld,
    even where a hidden test repeats it.
    """
    private_texts = [p.read_text(errors="replace") for p in sorted(Path(private).rglob("*.py"))]
    public_texts = []
    package = PACKAGE_ROOT / "deeplinear"
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(errors="replace")
        if JUDGE in path.parents:
            public_texts.append(text)
            continue
        lines = text.splitlines(keepends=True)
        regions = find_regions(text, str(path))
        for region in regions:
            private_texts.append("".join(region_body(lines, region)))
            public_texts.append(region.hint)
        for region in reversed(regions):
            del lines[region.begin - 1:region.end]
        public_texts.append("".join(lines))
    return frozenset(windows(private_texts) - windows(public_texts))
