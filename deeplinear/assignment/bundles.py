"""Autograder bundles: the judge alone, the hidden material and pytest, for a grading platform.

:func:`gradescope` writes a Gradescope autograder (a zip) and
:func:`prairielearn` a PrairieLearn question graded externally. Both carry:

* ``lib/``, the judge as a standalone tree: ``deeplinear/__init__.py`` and
  ``deeplinear/assignment/__init__.py`` are stubs that import nothing, and
  ``deeplinear/assignment/judge/`` is the whole judge with its public tests.
  Beside it, pytest and every distribution it needs on this Python
  (pluggy, iniconfig, packaging, pygments, ...), copied from this environment
  with their ``.dist-info`` (licences included). They must be pure Python.
  They sit in the same folder as the judge because the judge starts its
  pytest with ``PYTHONPATH`` set to the folder holding its ``deeplinear/``
  (``grade.IMPORT_ROOT``). The platform then needs only Python 3 and NumPy;
  no package of the platform's environment is imported but NumPy.
* the instructor's private folder: the hidden tests and ``gradereference.py``;
* an entry script that makes the judge and the private folder readable by
  root alone, then runs ``python3 -m deeplinear.assignment.judge.autograder
  PLATFORM --private ... --hidden --isolation auto`` (``judge/autograder.py``:
  it finds the package in the upload and writes the platform's results). The
  platforms pass no arguments; in a local run, arguments are passed on to the
  judge (``--parts``, ``--seed``), and ``DEEPLINEAR_AUTOGRADER_ROOT=DIR``
  stands in for ``/``.

Gradescope unpacks the zip in ``/autograder/source``::

    setup.sh            run once when the image is built: pip installs requirements.txt
    requirements.txt    NumPy, and what pytest needs on other Pythons (backports)
    run_autograder      copied to /autograder/run_autograder; run for every submission
    lib/                the judge and pytest
    private/            the hidden tests and the reference

A PrairieLearn question folder (``OUT_DIR`` goes to the course's
``questions/``, ``OUT_DIR/serverFilesCourse/deeplinear_judge`` to the course's
``serverFilesCourse/``)::

    info.json           External grading: image, entrypoint, serverFilesCourse, timeout
    question.html       an upload of deeplinear.zip, and the grader's results
    tests/              the hidden tests and the reference (mounted at /grade/tests)
    serverFilesCourse/deeplinear_judge/
        run_autograder  the entrypoint
        lib/            the judge and pytest

PrairieLearn's image has no network: the Python there must be one that
needs no requirement left in ``requirements.txt`` (``prairielearn/grader-python``
runs Python 3.13). The zip is the same bytes for the same sources;
``info.json`` gets a new uuid each time (keep your question's when you update it).
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import shutil
import stat
import tempfile
import uuid
import zipfile
from importlib import metadata
from pathlib import Path

from .judge.parts import PARTS
from .judge.private import check_private

__all__ = ["NUMPY", "BundleError", "gradescope", "prairielearn", "vendored"]

#: Installed by Gradescope's setup.sh (the version range the judge runs with).
NUMPY = "numpy>=1.24,<3"
LIB = "lib"
PRIVATE = "private"
PL_FOLDER = "deeplinear_judge"
PL_IMAGE = "prairielearn/grader-python"
PL_TIMEOUT = 300          # seconds; a full grade takes about 20 s on 2 cores
UPLOAD = "deeplinear.zip"
JUDGE = Path(__file__).resolve().parent / "judge"
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")  # caches, dotfiles
COMPILED = {".so", ".pyd", ".dylib", ".dll"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

STUB = '''"""The judge of the deeplinear assignment, alone: an autograder bundle, not the library.

Only ``deeplinear.assignment.judge`` is here (see its docstring); nothing is imported.
"""
'''

GRADESCOPE_SETUP = '''#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (the zip
# is unpacked in /autograder/source). Written by python -m deeplinear.assignment gradescope.
# The judge needs Python {requires} and NumPy; pytest and what it needs are in lib/.
set -euo pipefail
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-pip
fi
# Newer Ubuntu images refuse system-wide installs without this (PEP 668); older pips ignore it.
export PIP_BREAK_SYSTEM_PACKAGES=1
python3 -m pip install --no-cache-dir -r "$SOURCE/requirements.txt"
if ! PYTHONPATH="$SOURCE/lib" python3 -c "import numpy, pytest, deeplinear.assignment.judge.grade"
then
    echo "setup.sh: the judge cannot run on $(python3 --version 2>&1): it needs Python" \\
         "{requires} and NumPy; choose another base image" >&2
    exit 1
fi
'''

GRADESCOPE_RUN = '''#!/usr/bin/env bash
# Gradescope runs this as /autograder/run_autograder, as root, for every submission.
# Written by python -m deeplinear.assignment gradescope. In a local run,
# DEEPLINEAR_AUTOGRADER_ROOT=DIR stands in for /, and options (--parts, --seed, ...) are
# passed on to the judge.
set -u
AUTOGRADER="${DEEPLINEAR_AUTOGRADER_ROOT:-}/autograder"
SOURCE="$AUTOGRADER/source"
# The judge, the hidden tests and the reference, and all of /autograder, are root's alone.
chmod -R go-rwx "$SOURCE" && chmod go-rwx "$AUTOGRADER" \\
    || echo "run_autograder: could not make $SOURCE private" >&2
# python -m puts the working folder first on sys.path: run from the judge's own folder.
cd "$SOURCE/lib" || exit 1
export PYTHONPATH="$SOURCE/lib"
exec python3 -m deeplinear.assignment.judge.autograder gradescope \\
    --private "$SOURCE/private" --hidden --isolation auto "$@"
'''

PRAIRIELEARN_RUN = '''#!/usr/bin/env bash
# PrairieLearn's entrypoint (info.json), run as root in the grading container for every
# submission. Written by python -m deeplinear.assignment prairielearn. In a local run,
# DEEPLINEAR_AUTOGRADER_ROOT=DIR stands in for /, and options (--parts, --seed, ...) are
# passed on to the judge.
set -u
GRADE="${{DEEPLINEAR_AUTOGRADER_ROOT:-}}/grade"
# The judge, the hidden tests and the reference, and all of /grade, are root's alone.
chmod -R go-rwx "$GRADE/tests" "$GRADE/serverFilesCourse" && chmod go-rwx "$GRADE" \\
    || echo "run_autograder: could not make $GRADE private" >&2
# python -m puts the working folder first on sys.path: run from the judge's own folder.
cd "$GRADE/serverFilesCourse/{folder}/lib" || exit 1
export PYTHONPATH="$GRADE/serverFilesCourse/{folder}/lib"
exec python3 -m deeplinear.assignment.judge.autograder prairielearn \\
    --private "$GRADE/tests" --hidden --isolation auto "$@"
'''

QUESTION_HTML = '''<pl-question-panel>
  <p>
    Upload your deeplinear assignment as <code>{upload}</code>: a zip of your release
    folder (the folder holding <code>deeplinear/</code>), or of the <code>deeplinear/</code>
    folder itself. Leave out <code>.git</code> and data files: the upload is limited to 5 MB.
  </p>
  <p>Graded parts:</p>
  <ul>
{parts}
  </ul>
  <pl-file-upload file-names="{upload}"></pl-file-upload>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
</pl-submission-panel>
'''


class BundleError(ValueError):
    """A bundle cannot be written (a bad argument, pytest missing or not pure Python)."""


def vendored():
    """pytest and every distribution it needs on this Python, and what it needs elsewhere.

    Returns
    -------
    dists : list of importlib.metadata.Distribution
        pytest first, then its requirements whose markers hold here, recursively.
    elsewhere : list of str
        Requirement lines whose markers do not hold here and name no extra
        (backports for an older Python, say), for ``pip install -r``.
    """
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:
        raise BundleError("a bundle carries pytest from this environment, and pytest is not "
                          "installed here (pip install 'deeplinear[assignment]')") from None
    dists, elsewhere, todo, seen = [], set(), ["pytest"], set()
    while todo:
        name = canonicalize_name(todo.pop(0))
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BundleError(f"{name} (needed by pytest) is not installed here") from None
        dists.append(dist)
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
            elif "extra" not in str(requirement.marker):
                elsewhere.add(line)
    return dists, sorted(elsewhere)


def _top_names(dist) -> list:
    """The importable top-level names a distribution installs (packages and modules)."""
    names = set()
    for file in dist.files or []:
        top = file.parts[0]
        if top in ("..", "__pycache__") or top.endswith((".dist-info", ".egg-info", ".data")):
            continue
        if len(file.parts) > 1:
            names.add(top)
        elif file.suffix == ".py":
            names.add(file.stem)
    return sorted(names)


def _copy_distribution(dist, lib: Path):
    """Copy ``dist``'s modules, found through their ``__file__``, and its ``.dist-info``."""
    for name in _top_names(dist):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise BundleError(f"{dist.name}: its module {name} cannot be found")
        origin = Path(spec.origin)
        if spec.submodule_search_locations:
            folder = origin.parent
            compiled = sorted(p for p in folder.rglob("*") if p.suffix in COMPILED)
            if compiled:
                raise BundleError(f"{dist.name}: {compiled[0]} is compiled; a bundle carries "
                                  "pure-Python distributions only")
            shutil.copytree(folder, lib / name, ignore=SKIP)
        elif origin.suffix == ".py":
            shutil.copyfile(origin, lib / origin.name)
        else:
            raise BundleError(f"{dist.name}: {origin} is compiled; a bundle carries "
                              "pure-Python distributions only")
    info = {f.parts[0] for f in dist.files or [] if f.parts[0].endswith(".dist-info")}
    for folder in info:
        shutil.copytree(Path(dist.locate_file(folder)), lib / folder, ignore=SKIP)


def _write_lib(lib: Path, dists):
    """The judge alone, as a ``deeplinear`` tree, and the vendored distributions beside it."""
    if not any((JUDGE / "public").glob("test_*.py")):
        raise BundleError(f"the public grading tests are missing from {JUDGE / 'public'}")
    assignment = lib / "deeplinear" / "assignment"
    assignment.mkdir(parents=True)
    (lib / "deeplinear" / "__init__.py").write_text(STUB)
    (assignment / "__init__.py").write_text(STUB)
    shutil.copytree(JUDGE, assignment / "judge", ignore=SKIP)
    for dist in dists:
        _copy_distribution(dist, lib)


def _private_folder(private) -> Path:
    try:
        return check_private(private)
    except ValueError as exc:
        raise BundleError(str(exc)) from None


def _script(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def _normalize_modes(tree: Path):
    """Folders 0755, files 0644, but executable files 0755: the same bundle on any umask."""
    for path in [tree, *tree.rglob("*")]:
        executable = path.is_dir() or path.stat().st_mode & stat.S_IXUSR
        path.chmod(0o755 if executable else 0o644)


def _zip(tree: Path, out: Path) -> list:
    """Write every file of ``tree`` into ``out``, sorted, dated 1980, modes kept; the names."""
    _normalize_modes(tree)
    names = []
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | stat.S_IMODE(path.stat().st_mode)) << 16
            zf.writestr(info, path.read_bytes())
            names.append(info.filename)
    os.replace(partial, out)
    return names


def _summary(files, dists) -> dict:
    return {"files": files, "vendored": [f"{d.metadata['Name']} {d.version}" for d in dists]}


def gradescope(out_zip, private=None) -> dict:
    """Write a Gradescope autograder zip (see the module's docstring for what it holds).

    Parameters
    ----------
    out_zip : path
        The zip to write (replaced if it exists), in an existing folder.
    private : path, optional
        The instructor's private folder; default the checkout's ``instructor/``.

    Returns
    -------
    dict
        ``files``: the paths in the zip; ``vendored``: the distributions carried.
    """
    out = Path(out_zip)
    if out.is_dir():
        raise BundleError(f"OUT.zip: {out} is a folder; give the path of the zip to write")
    if not out.parent.is_dir():
        raise BundleError(f"OUT.zip: the folder {out.parent} does not exist")
    folder = _private_folder(private)
    dists, elsewhere = vendored()
    requires = dists[0].metadata["Requires-Python"] or ">=3"
    with tempfile.TemporaryDirectory(prefix="deeplinear-bundle-") as tmp:
        source = Path(tmp) / "source"
        _write_lib(source / LIB, dists)
        shutil.copytree(folder, source / PRIVATE, ignore=SKIP)
        _script(source / "setup.sh", GRADESCOPE_SETUP.format(requires=requires))
        _script(source / "run_autograder", GRADESCOPE_RUN)
        (source / "requirements.txt").write_text("\n".join([NUMPY, *elsewhere]) + "\n")
        files = _zip(source, out)
    return _summary(files, dists)


def prairielearn(out_dir, private=None) -> dict:
    """Write a PrairieLearn question with its external grader (see the module's docstring).

    Parameters
    ----------
    out_dir : path
        A new or empty folder.
    private : path, optional
        The instructor's private folder; default the checkout's ``instructor/``.

    Returns
    -------
    dict
        ``files``: the paths written, relative to ``out_dir``; ``vendored``:
        the distributions carried.
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"OUT_DIR: {out} exists and is not an empty folder; give a new folder")
    folder = _private_folder(private)
    dists, _ = vendored()
    out.mkdir(parents=True, exist_ok=True)
    server = out / "serverFilesCourse" / PL_FOLDER
    _write_lib(server / LIB, dists)
    _script(server / "run_autograder", PRAIRIELEARN_RUN.format(folder=PL_FOLDER))
    shutil.copytree(folder, out / "tests", ignore=SKIP)
    info = {
        "uuid": str(uuid.uuid4()),
        "title": "deeplinear: the graded parts",
        "topic": "Deep linear networks",
        "tags": ["deeplinear", "autograder"],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True,
            "image": PL_IMAGE,
            "serverFilesCourse": [f"{PL_FOLDER}/"],
            "entrypoint": f"/grade/serverFilesCourse/{PL_FOLDER}/run_autograder",
            "timeout": PL_TIMEOUT,
        },
    }
    (out / "info.json").write_text(json.dumps(info, indent=4) + "\n")
    parts = "\n".join(f"    <li><code>{p.name}</code>: {html.escape(p.title)} "
                      f"({html.escape(p.where)})</li>" for p in PARTS.values())
    (out / "question.html").write_text(QUESTION_HTML.format(upload=UPLOAD, parts=parts))
    _normalize_modes(out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return _summary(files, dists)
