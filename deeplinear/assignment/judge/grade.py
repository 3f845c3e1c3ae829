"""Grade a student's package: a judge that never imports student code, and confined workers.

``grade(STUDENT_DIR)`` copies the student's ``deeplinear/`` package into a
private staging folder (refusing symlinks, and more files, folders, bytes or
depth than a package needs), then starts the judge: pytest with this
package's plugin and nothing of any project's conftest or settings, over the
public tests (``public/``) and, with ``hidden=True``, the hidden tests of the
instructor's private folder, in ``jobs`` processes that share the parts. The
public tests are graded on fresh inputs drawn from a grading seed. The judge
never imports the student's package: each call of a student function goes to
a confined worker (``sandbox.py``) and comes back as plain data. Points come
from the judge's own collection of tests, and no part scores above its maximum.

The submission is checked and staged by ``submission.py``; the judges'
results become a :class:`~.results.GradeResult` in ``results.py``. Here: the
isolation, the judge processes, and the command line's options.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .limits import limits_in_force
from .parts import PARTS
from .private import check_private
from .results import GradeResult, collect
from .sandbox import MODES, probe
from .submission import check_student_dir, stage

__all__ = ["GradeError", "grade", "resolve_isolation", "add_arguments", "grade_from_args",
           "run"]

PUBLIC = Path(__file__).resolve().parent / "public"
PLUGIN = f"{__package__}.plugin"
#: Put on the judge's import path: the folder holding the top package of this judge.
IMPORT_ROOT = Path(__file__).resolve().parents[len(__package__.split("."))]


class GradeError(ValueError):
    """Grading could not run (a bad STUDENT_DIR, a missing folder, an isolation not given)."""


def resolve_isolation(isolation="auto", memory_mb=1024) -> str:
    """The mode to grade in: ``isolation`` if this machine gives it, else a GradeError.

    ``auto`` takes namespaces, else user; it never falls to ``none``, which
    runs student code with the grader's own rights and must be named.
    """
    if isolation not in ("auto", *MODES):
        raise GradeError(f"--isolation: expected auto, {', '.join(MODES)}; got {isolation!r}")
    if isolation != "auto":
        why = probe(isolation, memory_mb)
        if why:
            raise GradeError(f"--isolation {isolation} is not available here: {why}")
        return isolation
    reasons = []
    for mode in ("namespaces", "user"):
        why = probe(mode, memory_mb)
        if not why:
            return mode
        reasons.append(why)
    raise GradeError("no confinement for student code on this machine (" + "; ".join(reasons)
                     + "); --isolation none runs it with your own rights")


def _judge(paths, parts, staged, private, work, name, options):
    """One judge process for ``parts``; returns its results document."""
    results = work / f"{name}.json"
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\n")
    cmd = [sys.executable, "-m", "pytest", *map(str, paths), "-q", "--no-header",
           "-p", "no:cacheprovider", "-p", PLUGIN, "--noconftest", "-c", str(ini),
           "--rootdir", str(work), "--dl-judge", "--dl-student", str(staged),
           "--dl-parts", ",".join(parts), "--dl-timeout", str(options["timeout"]),
           "--dl-memory", str(options["memory_mb"]),
           "--dl-part-budget", str(options["part_timeout"]),
           "--dl-isolation", options["isolation"], "--dl-private", str(private),
           "--dl-seed", str(options["seed"]), "--dl-results", str(results),
           # the tests' own messages, not a project's warnings-as-errors rule
           "-W", "default::RuntimeWarning"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               PYTHONPATH=str(IMPORT_ROOT))
    limit = options["part_timeout"] * len(parts) + 120
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired:
        raise GradeError(f"the judge for parts {', '.join(parts)} ran longer than {limit:g} s")
    if not results.is_file():
        raise GradeError(f"the judge for parts {', '.join(parts)} wrote no results (exit code "
                         f"{proc.returncode}):\n" + (proc.stdout + proc.stderr)[-3000:])
    doc = json.loads(results.read_text())
    if doc.get("errors"):
        raise GradeError(f"the judge could not collect its tests or start the sandbox (parts "
                         f"{', '.join(parts)}):\n"
                         + "\n".join(doc["errors"])[-3000:])
    return doc


def grade(student_dir, *, private=None, hidden=False, isolation="auto", timeout=10.0,
          part_timeout=60.0, jobs=2, memory_mb=1024, parts=None, seed=None) -> GradeResult:
    """Grade STUDENT_DIR part by part.

    Parameters
    ----------
    student_dir : path
        A folder holding the student's ``deeplinear/`` package.
    private : path, optional
        The instructor's private folder (the reference and the hidden tests);
        default the checkout's ``instructor/``.
    hidden : bool
        Also run the hidden tests.
    isolation : {"auto", "namespaces", "user", "none"}
        How workers are confined (see ``sandbox.py``); ``auto`` never means ``none``.
    timeout : float
        Seconds one call of student code may run; the judge then kills it.
    part_timeout : float
        Seconds of worker time per part; the part's later tests are then cut short.
    jobs : int
        Judge processes; the parts are shared between them.
    memory_mb : int
        Memory of one call of student code, in MB.
    parts : list of str, optional
        Grade only these parts (default: all).
    seed : int, optional
        The grading seed of the fresh public inputs (default: drawn at random,
        and printed under the table).

    Returns
    -------
    GradeResult
        The points and tests of each part (``results.py``).

    Raises
    ------
    GradeError
        Grading could not run: a refused submission (``STUDENT_DIR: ...``), a
        bad private folder or part, an isolation this machine cannot give, a
        judge that failed or ran too long.
    """
    try:
        student = check_student_dir(student_dir)
        private = check_private(private)
    except ValueError as exc:
        raise GradeError(str(exc)) from None
    paths = [PUBLIC] + ([private] if hidden else [])
    if not any(PUBLIC.glob("test_*.py")):
        raise GradeError(f"the public grading tests are missing from {PUBLIC}")
    names = list(PARTS) if parts is None else list(parts)
    unknown = [p for p in names if p not in PARTS]
    if unknown or not names:
        raise GradeError(f"parts: unknown {unknown}; the parts are {', '.join(PARTS)}")
    mode = resolve_isolation(isolation, int(memory_mb))
    seed = secrets.randbits(31) if seed is None else int(seed)
    options = {"timeout": timeout, "part_timeout": part_timeout, "memory_mb": int(memory_mb),
               "isolation": mode, "seed": seed}
    start = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="deeplinear-grade-"))
    try:
        os.chmod(base, stat.S_IRWXU)  # 0700: the stage is private to this run
        staged, work = base / "stage", base / "judge"
        work.mkdir(mode=0o700)
        try:
            stage(student / "deeplinear", staged / "deeplinear")
        except ValueError as exc:
            raise GradeError(str(exc)) from None
        os.chmod(staged, 0o755)
        groups = [names[k::max(1, int(jobs))] for k in range(max(1, int(jobs)))]
        groups = [g for g in groups if g]
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            docs = list(pool.map(lambda kg: _judge(paths, kg[1], staged, private, work,
                                                   f"judge-{kg[0]}", options),
                                 enumerate(groups)))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return collect(str(student), names, docs, hidden, time.perf_counter() - start, mode,
                   limits_in_force(mode, int(memory_mb)), seed)


def add_arguments(parser):
    """The arguments of the grade command (shared by both command lines)."""
    parser.add_argument("student_dir", metavar="STUDENT_DIR",
                        help="folder holding the student's deeplinear/ package")
    parser.add_argument("--private", default=None, metavar="DIR",
                        help="the instructor's private folder (hidden tests, reference); "
                             "default: the checkout's instructor/")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="write a Gradescope results.json here")
    parser.add_argument("--hidden", action="store_true", help="also run the hidden tests")
    parser.add_argument("--isolation", default="auto", choices=("auto", *MODES),
                        help="how student code is confined (default: %(default)s, the "
                             "strongest available, never none)")
    parser.add_argument("--seed", type=int, default=None,
                        help="grading seed of the fresh public inputs (default: random)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds one call of student code may run before it is killed "
                             "(default: %(default)s)")
    parser.add_argument("--part-timeout", type=float, default=60.0,
                        help="seconds of worker time per part; its later tests are then cut "
                             "short (default: %(default)s)")
    parser.add_argument("--memory", type=int, default=1024, metavar="MB",
                        help="memory of one call of student code (default: %(default)s)")
    parser.add_argument("--parts", default=None, metavar="A,B",
                        help="grade only these parts (default: all)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="judge processes sharing the parts (default: %(default)s)")


def grade_from_args(args) -> GradeResult:
    """Grade as the options of :func:`add_arguments`, parsed, say (an autograder's entry).

    Raises
    ------
    GradeError
        A bad option (named), or what :func:`grade` raises.
    """
    if args.timeout <= 0 or args.part_timeout <= 0 or args.jobs < 1 or args.memory < 64:
        raise GradeError("--timeout and --part-timeout must be > 0, --jobs >= 1, "
                         "--memory >= 64 (MB)")
    parts = None if args.parts is None else [p for p in args.parts.split(",") if p]
    return grade(args.student_dir, private=args.private, hidden=args.hidden,
                 isolation=args.isolation, timeout=args.timeout, part_timeout=args.part_timeout,
                 jobs=args.jobs, memory_mb=args.memory, parts=parts, seed=args.seed)


def run(args, prog) -> int:
    """Grade as the parsed ``args`` say; print the table; write ``--json``."""
    try:
        result = grade_from_args(args)
    except GradeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print(result.table())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result.gradescope(), fh, indent=2)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0

