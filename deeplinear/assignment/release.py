"""Write the student version of the package: every solution region becomes a stub.

The release replaces each solution region (``judge/regions.py``), markers
included, by ``raise NotImplementedError("<part>: implement <hint>")`` at the
marker's indentation. It works from a checkout and from an installed
package; the public cases come from the instructor's private folder. The
same input always gives the same files.

What a release holds:

* ``deeplinear/``, stubbed, without the numba twins (``_kernels/``) and
  without the instructor's tools (``assignment/`` but its judge, which a
  student's own ``pytest`` runs on);
* ``tests/grading/``: the public tests (``judge/public/``) and the stored
  ``cases.npz``; ``tests/conftest.py`` registers the judge's plugin;
* ``tutorials/`` when releasing from a checkout;
* a generated ``pyproject.toml`` and the student guide, ``README.md``.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import textwrap
from pathlib import Path

from .judge import cases as casebook
from .judge.parts import PARTS
from .judge.private import check_private, reference
from .judge.regions import HINT_CONTINUATION, ReleaseError, find_regions

__all__ = ["ReleaseError", "stub_source", "release", "package_root"]

PACKAGE = "deeplinear"
#: Left behind: the compiled twins of the graded rules (everything in a release
#: runs on the student's NumPy functions) and caches.
SKIP_DIRS = {"__pycache__", "_kernels"}
SKIP_SUFFIXES = {".pyc", ".nbi", ".nbc"}
#: Of ``deeplinear/assignment/``, only the judge is released (without its public
#: tests, which go to tests/grading).
ASSIGNMENT = Path(PACKAGE) / "assignment"
JUDGE = ASSIGNMENT / "judge"
PUBLIC = JUDGE / "public"
GRADING = Path("tests") / "grading"
TUTORIALS = "tutorials"

CONFTEST = '''"""Registers the grading plugin (markers, points, the ``student`` and ``cases`` fixtures)."""

pytest_plugins = ["deeplinear.assignment.judge.plugin"]
'''
ASSIGNMENT_INIT = '''"""The checking tools of the assignment (the judge's plugin, sandbox and checks).

``pytest`` in the release root runs the public tests with them.
"""
'''


def stub_source(text, file="<source>", keep=()):
    """``text`` with every region replaced by its NotImplementedError stub.

    Regions of the parts named in ``keep`` stay as they are (their markers
    removed): the student version with those parts solved.
    """
    regions = find_regions(text, file)
    lines = text.splitlines(keepends=True)
    for region in reversed(regions):
        if region.part in keep:
            body = lines[region.begin:region.end - 1]
            while body and HINT_CONTINUATION.match(body[0]):
                body.pop(0)
            lines[region.begin - 1:region.end] = body
            continue
        message = f"{region.part}: implement {region.hint}"
        pieces = textwrap.wrap(message, 72, drop_whitespace=False)
        body = "".join(f"{region.indent}    {piece!r}\n" for piece in pieces)
        stub = f"{region.indent}raise NotImplementedError(\n{body}{region.indent})\n"
        lines[region.begin - 1:region.end] = [stub]
    return "".join(lines)


def package_root() -> Path:
    """The folder holding this ``deeplinear/`` (a checkout, or site-packages)."""
    return Path(__file__).resolve().parents[2]


def _files(root):
    """What the release copies from ``root``: {path in the release: path in root}, sorted."""
    wanted = {}
    for path in sorted((root / PACKAGE).rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or SKIP_DIRS & set(rel.parts) or path.suffix in SKIP_SUFFIXES:
            continue
        if ASSIGNMENT in rel.parents and JUDGE not in rel.parents:
            continue  # the instructor's tools
        if PUBLIC in rel.parents:
            wanted[GRADING / rel.name] = rel
        else:
            wanted[rel] = rel
    if not any(PUBLIC in rel.parents for rel in wanted.values()):
        raise ReleaseError(f"{root / PUBLIC}: the public grading tests are missing")
    if (root / TUTORIALS).is_dir():
        for path in sorted((root / TUTORIALS).glob("*.py")):
            wanted[path.relative_to(root)] = path.relative_to(root)
    return dict(sorted(wanted.items()))


def pyproject() -> str:
    """The release's ``pyproject.toml``: this package's requirements, and pytest's settings."""
    meta = importlib.metadata.metadata(PACKAGE)
    needs, test = [], []
    for req in importlib.metadata.requires(PACKAGE) or []:
        name, _, marker = req.partition(";")
        if not marker:
            needs.append(name.strip())
        elif marker.replace(" ", "").replace("'", '"') == 'extra=="test"':
            test.append(name.strip())
    quote = lambda items: ", ".join(f'"{x}"' for x in items)  # noqa: E731
    return f'''[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{PACKAGE}"
version = "{meta["Version"]}"
description = "deeplinear, the student edition of the course assignment"
requires-python = "{meta.get("Requires-Python") or ">=3.10"}"
dependencies = [{quote(needs)}]

[project.optional-dependencies]
test = [{quote(test)}]

[tool.setuptools.packages.find]
include = ["{PACKAGE}", "{PACKAGE}.*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra --strict-markers"
'''


def release(out_dir, private=None, root=None) -> dict:
    """Write the student version into ``out_dir`` (which must not hold files).

    Parameters
    ----------
    out_dir : path
        A new or empty folder.
    private : path, optional
        The instructor's private folder (its reference writes the stored
        public cases); default the checkout's ``instructor/``.
    root : path, optional
        The folder holding the solution's ``deeplinear/``; default this package's.

    Returns
    -------
    dict
        ``files``: the relative paths written; ``regions``: the stubbed regions.
    """
    root = Path(root) if root is not None else package_root()
    try:
        private = check_private(private)
    except ValueError as exc:
        raise ReleaseError(str(exc)) from None
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"OUT_DIR: {out} exists and is not empty; give a new folder")
    files = _files(root)
    # Check every marker before writing anything.
    stubbed, regions = {}, []
    for target, rel in files.items():
        if rel.suffix == ".py":
            text = (root / rel).read_text()
            found = find_regions(text, str(rel))
            if found:
                stubbed[target] = stub_source(text, str(rel))
                regions += found
    missing = [p for p in PARTS if p not in {r.part for r in regions}]
    if missing:
        raise ReleaseError(f"parts without a solution region: {', '.join(missing)}")
    for target, rel in files.items():
        dest = out / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        if target in stubbed:
            dest.write_text(stubbed[target])
        else:
            shutil.copyfile(root / rel, dest)
    from .guide import student_readme

    generated = {ASSIGNMENT / "__init__.py": ASSIGNMENT_INIT,
                 Path("tests") / "conftest.py": CONFTEST,
                 Path("pyproject.toml"): pyproject(),
                 Path("README.md"): student_readme(regions)}
    for rel, text in generated.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    casebook.write(reference(str(private)).public_cases(), out / GRADING / casebook.FILE)
    written = sorted({str(p) for p in files} | {str(p) for p in generated}
                     | {str(GRADING / casebook.FILE)})
    return {"files": written, "regions": regions}
