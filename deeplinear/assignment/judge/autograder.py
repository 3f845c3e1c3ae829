"""Grade on a platform: find the student's package in the upload, grade it, write the results.

Gradescope and PrairieLearn run the script of an autograder bundle (written by
``python -m deeplinear.assignment gradescope`` or ``prairielearn``) in a
container, as root, with the upload in a fixed folder; the script calls
``python -m deeplinear.assignment.judge.autograder PLATFORM [options]``. The
options are those of ``python -m deeplinear.assignment.judge``, except
STUDENT_DIR and ``--json``, which the platform fixes:

============  =========================  ================================
platform      the upload                 the results
============  =========================  ================================
gradescope    /autograder/submission     /autograder/results/results.json
prairielearn  /grade/student             /grade/results/results.json
============  =========================  ================================

``DEEPLINEAR_AUTOGRADER_ROOT=DIR`` stands in for ``/`` (a local run of a
bundle: ``DIR/autograder/...``, ``DIR/grade/...``).

**The upload** (:func:`find_student_dir`) is one of: the student's release
folder (holding ``deeplinear/``); the ``deeplinear/`` folder itself, or its
contents (``__init__.py`` at the top); a single folder holding either (an
archive of the release folder, unpacked by Gradescope); or a single ``.zip``
of any of these, unpacked here (PrairieLearn uploads files, not folders).
Names starting with a dot and ``__MACOSX`` are ignored beside them. A symlink,
a special file, or more than ``MAX_ENTRIES`` entries or ``MAX_BYTES`` bytes is
refused before anything is graded.

**The results** are always written, in the platform's format: the grade, or,
when the upload holds no package or grading fails, a score of 0 with a
message (on PrairieLearn ``"gradable": false``, which costs the student no
attempt). A student never sees more of a grader failure than that it
happened; the job's log (stdout and stderr, course staff only on both
platforms) has the full table and the details.

**Hidden tests.** On Gradescope they are ``after_published``
(``GradeResult.gradescope()``); PrairieLearn shows results at once, so each
part lists its hidden tests as one entry, with their points and without their
messages. On both, the summary shown to students (``output``) is the table of
the public tests alone (``GradeResult.summary``), so that neither a hidden test's
message nor its points show there.

This module imports the standard library only, and the rest of the judge
(hence NumPy) when it grades, so that a missing NumPy still gives results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "PLATFORMS", "ROOT_ENV", "Platform", "SubmissionError",
           "find_student_dir", "gradescope_results", "main", "prairielearn_results",
           "root"]

ROOT_ENV = "DEEPLINEAR_AUTOGRADER_ROOT"
PROG = f"python -m {__package__}.autograder"
MAX_ENTRIES = 5000        # files and folders of an upload (a release holds about a hundred)
MAX_BYTES = 100 << 20     # bytes of an upload, unpacked
#: Beside the package, archivers add these; they are not the student's files.
IGNORED_PREFIXES = (".", "__MACOSX")
#: A GradeError about the submission itself names it so (see submission.py).
STUDENT_ERROR = "STUDENT_DIR:"
LAYOUTS = ("your release folder (the one holding deeplinear/), the deeplinear/ folder itself "
           "or its contents, or a single .zip of one of these")


class SubmissionError(ValueError):
    """The upload holds no gradable package (the message is meant for the student)."""


class _UsageError(ValueError):
    """The options the bundle's script passed are wrong (the message is for the instructor)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{self.prog}: {message}")


def root() -> Path:
    """What stands in for ``/``: ``$DEEPLINEAR_AUTOGRADER_ROOT``, or ``/``."""
    return Path(os.environ.get(ROOT_ENV) or "/")


# --- the upload ----------------------------------------------------------------------------

def _visible(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if not p.name.startswith(IGNORED_PREFIXES))


def _check_tree(folder: Path):
    """Refuse symlinks, special files, and more than MAX_ENTRIES entries or MAX_BYTES bytes."""
    entries, size = 0, 0
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(base) / name
            rel = path.relative_to(folder)
            if path.is_symlink():
                raise SubmissionError(f"{rel} is a symlink; a submission holds no symlinks")
            if not (path.is_dir() or path.is_file()):
                raise SubmissionError(f"{rel} is not a regular file or folder")
            entries += 1
            size += path.stat().st_size if path.is_file() else 0
        if entries > MAX_ENTRIES or size > MAX_BYTES:
            raise SubmissionError(f"the submission holds more than {MAX_ENTRIES} files and "
                                  f"folders or {MAX_BYTES >> 20} MB")


def _unzip(archive: Path, target: Path) -> Path:
    """Unpack ``archive`` into ``target`` after checking every member; returns ``target``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_ENTRIES or sum(m.file_size for m in members) > MAX_BYTES:
                raise SubmissionError(f"{archive.name} holds more than {MAX_ENTRIES} files and "
                                      f"folders or {MAX_BYTES >> 20} MB")
            for member in members:
                # Some Windows archivers write backslashes between folder names.
                name = member.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                    raise SubmissionError(f"{archive.name}: {member.filename!r} points outside "
                                          "the archive")
                kind = stat.S_IFMT(member.external_attr >> 16)
                if kind == stat.S_IFLNK:
                    raise SubmissionError(f"{archive.name}: {member.filename} is a symlink; a "
                                          "submission holds no symlinks")
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise SubmissionError(f"{archive.name}: {member.filename} is not a regular "
                                          "file or folder")
                dest = target.joinpath(*parts)
                if name.endswith("/"):
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        raise SubmissionError(f"{archive.name} could not be unpacked as a zip archive ({exc})") \
            from None
    target.mkdir(parents=True, exist_ok=True)
    return target


def find_student_dir(submission, scratch) -> Path:
    """The folder holding the student's ``deeplinear/`` package, found in an upload.

    Parameters
    ----------
    submission : path
        The platform's upload folder (see the module's docstring for what it may hold).
    scratch : path
        An existing, empty folder private to this run: a ``.zip`` is unpacked
        there, and bare package contents are copied there as ``deeplinear/``.

    Returns
    -------
    Path
        ``submission``, the single folder inside it, or a folder in ``scratch``.

    Raises
    ------
    SubmissionError
        The upload holds a symlink, a special file, too much, or no package;
        the message says what it holds and what is expected.
    """
    folder, scratch = Path(submission), Path(scratch)
    if folder.is_symlink() or not folder.is_dir():
        raise SubmissionError(f"{folder} is not a folder (nothing was uploaded?)")
    _check_tree(folder)
    entries = _visible(folder)
    if len(entries) == 1 and entries[0].is_file() and entries[0].suffix.lower() == ".zip":
        folder = _unzip(entries[0], scratch / "unzipped")
        entries = _visible(folder)
    candidates = [folder] + ([entries[0]] if len(entries) == 1 and entries[0].is_dir() else [])
    for candidate in candidates:
        if (candidate / "deeplinear" / "__init__.py").is_file():
            return candidate
        if (candidate / "__init__.py").is_file():
            staged = scratch / "package"
            shutil.copytree(candidate, staged / "deeplinear",
                            ignore=shutil.ignore_patterns("__pycache__"))
            return staged
    found = ", ".join(e.name + ("/" if e.is_dir() else "") for e in entries[:12]) or "nothing"
    if len(entries) > 12:
        found += f" and {len(entries) - 12} more"
    raise SubmissionError(f"no deeplinear package found (the upload holds {found}); submit "
                          f"{LAYOUTS}")


# --- the results -------------------------------------------------------------------------

def gradescope_results(result) -> dict:
    """Gradescope's ``results.json``: ``GradeResult.gradescope()``."""
    return result.gradescope()


def prairielearn_results(result) -> dict:
    """PrairieLearn's ``results.json``: a score in [0, 1], one entry per public test, and
    one per part for its hidden tests (points only)."""
    tests = []
    for part in result.parts:
        hidden = [t for t in part.tests if t["hidden"]]
        for t in part.tests:
            if not t["hidden"]:
                tests.append({"name": f"{part.name}: {t['name']}",
                              "points": float(t["points"] if t["passed"] else 0),
                              "max_points": float(t["points"]),
                              "output": t["output"] or "passed"})
        if hidden:
            passed = [t for t in hidden if t["passed"]]
            tests.append({"name": f"{part.name}: hidden tests",
                          "points": float(sum(t["points"] for t in passed)),
                          "max_points": float(sum(t["points"] for t in hidden)),
                          "output": f"{len(passed)} of {len(hidden)} hidden tests passed"})
    score = result.score / result.max_score if result.max_score else 0.0
    return {"gradable": True, "score": min(1.0, max(0.0, score)),
            "message": f"{result.score:g} / {result.max_score:g} points",
            "output": result.summary("each part's hidden tests are listed below with their "
                                     "points, without their messages."),
            "tests": tests}


def _gradescope_not_graded(message, seconds) -> dict:
    return {"score": 0.0, "execution_time": round(seconds, 2), "output": message,
            "visibility": "visible", "tests": []}


def _prairielearn_not_graded(message, seconds) -> dict:
    return {"gradable": False, "score": 0.0, "message": message, "format_errors": [message],
            "output": message, "tests": []}


@dataclass(frozen=True)
class Platform:
    """Where a platform puts the upload and expects the results, and their format.

    ``submission`` and ``results`` are relative to :func:`root`.
    """

    name: str
    submission: str
    results: str
    graded: Callable     # GradeResult -> results document
    not_graded: Callable  # (message, seconds) -> results document


PLATFORMS = {p.name: p for p in [
    Platform("gradescope", "autograder/submission", "autograder/results/results.json",
             gradescope_results, _gradescope_not_graded),
    Platform("prairielearn", "grade/student", "grade/results/results.json",
             prairielearn_results, _prairielearn_not_graded),
]}


# --- the command ---------------------------------------------------------------------------

def _grade(platform, argv):
    """Parse the grading options, find the package in the upload, grade it."""
    from .grade import GradeError, add_arguments, grade_from_args

    submission = root() / platform.submission
    parser = _Parser(prog=f"{PROG} {platform.name}")
    add_arguments(parser)
    args = parser.parse_args([str(submission), *argv])
    if args.json is not None:
        raise _UsageError("--json: the platform fixes where the results go")
    with tempfile.TemporaryDirectory(prefix="deeplinear-upload-") as scratch:
        args.student_dir = str(find_student_dir(submission, scratch))
        try:
            return grade_from_args(args)
        except GradeError as exc:
            if str(exc).startswith(STUDENT_ERROR):
                raise SubmissionError(str(exc)[len(STUDENT_ERROR):].strip()) from None
            raise


def main(argv=None) -> int:
    """Grade the upload of ``PLATFORM`` and write its results; 0 once they are written."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Grade the upload of a Gradescope or PrairieLearn autograder "
                               "and write the platform's results.json.",
        epilog="Other options: those of python -m deeplinear.assignment.judge, except "
               f"STUDENT_DIR and --json (the platform fixes them). {ROOT_ENV}=DIR stands "
               "in for /.")
    parser.add_argument("platform", choices=sorted(PLATFORMS))
    known, rest = parser.parse_known_args(argv)
    platform = PLATFORMS[known.platform]
    start = time.perf_counter()
    try:
        result = _grade(platform, rest)
        print(result.table())
        doc = platform.graded(result)
    except SubmissionError as exc:
        message = f"This submission could not be graded: {exc}"
        print(message, file=sys.stderr)
        doc = platform.not_graded(message, time.perf_counter() - start)
    except Exception:  # noqa: BLE001 -- a grader failure: the results are written all the same
        traceback.print_exc()
        doc = platform.not_graded("The autograder failed on this submission (not a problem of "
                                  "your code that it could name); your instructor has the "
                                  "details.", time.perf_counter() - start)
    results = root() / platform.results
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
