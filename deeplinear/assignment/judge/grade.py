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
"""

from __future__ import annotations

import dataclasses
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
from dataclasses import dataclass, field
from pathlib import Path

from .parts import PARTS
from .private import check_private
from .limits import limits_in_force
from .sandbox import MODES, probe

__all__ = ["GradeError", "PartResult", "GradeResult", "grade", "resolve_isolation",
           "add_arguments", "run"]

MAX_FILES = 2000          # a student package with more files than this is refused
MAX_FOLDERS = 200         # ... or more folders
MAX_DEPTH = 8             # ... or folders nested deeper
MAX_BYTES = 50 << 20      # ... or more bytes
PUBLIC = Path(__file__).resolve().parent / "public"
PLUGIN = f"{__package__}.plugin"
#: Put on the judge's import path: the folder holding the top package of this judge.
IMPORT_ROOT = Path(__file__).resolve().parents[len(__package__.split("."))]


class GradeError(ValueError):
    """Grading could not run (a bad STUDENT_DIR, a missing folder, an isolation not given)."""


@dataclass
class PartResult:
    name: str
    title: str
    earned: float = 0.0
    possible: float = 0.0
    tests: list = field(default_factory=list)  # dicts: name, nodeid, points, passed, output
    cut_short: bool = False

    @property
    def first_failure(self) -> str:
        for test in self.tests:
            if not test["passed"]:
                return test["output"] or "failed"
        return ""


@dataclass
class GradeResult:
    student_dir: str
    parts: list
    hidden: bool
    seconds: float = 0.0
    isolation: str = ""
    limits: str = ""
    seed: int | None = None
    judge_peak_rss_mb: float = 0.0

    @property
    def score(self) -> float:
        return sum(p.earned for p in self.parts)

    @property
    def max_score(self) -> float:
        return sum(p.possible for p in self.parts)

    def table(self, width=64) -> str:
        """Per part: points earned / possible, cut short, the first failure."""
        rows = [("part", "points", "cut short", "first failure")]
        for p in self.parts:
            failure = " ".join(p.first_failure.split())
            if len(failure) > width:
                failure = failure[:width - 3] + "..."
            rows.append((p.name, f"{p.earned:g} / {p.possible:g}", "yes" if p.cut_short else "",
                         failure))
        rows.append(("total", f"{self.score:g} / {self.max_score:g}", "", ""))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = []
        for k, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
            if k == 0 or k == len(rows) - 2:
                lines.append("-" * (sum(widths) + 6 + width))
        lines.append(f"isolation of student code: {self.isolation} (see README, For instructors)")
        if self.isolation == "none":
            lines.append("WARNING: student code ran with the grader's own rights and files "
                         "(--isolation none)")
        lines.append(f"limits: {self.limits}")
        if self.seed is not None:
            lines.append(f"grading seed: {self.seed} (--seed {self.seed} draws the same inputs)")
        return "\n".join(line.rstrip() for line in lines)

    def public(self) -> GradeResult:
        """This result with its public tests alone, points recounted."""
        parts = []
        for part in self.parts:
            tests = [t for t in part.tests if not t["hidden"]]
            possible = sum(t["points"] for t in tests)
            earned = min(possible, sum(t["points"] for t in tests if t["passed"]))
            parts.append(dataclasses.replace(part, tests=tests, earned=earned,
                                             possible=possible,
                                             cut_short=any(t["cut_short"] for t in tests)))
        return dataclasses.replace(self, parts=parts)

    def summary(self, note) -> str:
        """What a student may see at once: the table of the public tests, a line on the
        hidden ones (their number and points) and ``note``."""
        hidden = [t for part in self.parts for t in part.tests if t["hidden"]]
        text = "public tests:\n" + self.public().table()
        if hidden:
            text += (f"\n\nhidden tests: {len(hidden)}, worth "
                     f"{sum(t['points'] for t in hidden):g} points; {note}")
        return text

    def gradescope(self) -> dict:
        """A Gradescope ``results.json``: score, max_score and one entry per test."""
        tests = []
        for p in self.parts:
            for t in p.tests:
                tests.append({
                    "name": f"{p.name}: {t['name']}",
                    "score": float(t["points"] if t["passed"] else 0),
                    "max_score": float(t["points"]),
                    "output": t["output"] or "passed",
                    "visibility": "after_published" if t["hidden"] else "visible",
                })
        return {"score": float(self.score), "max_score": float(self.max_score),
                "execution_time": round(self.seconds, 2),
                "output": self.summary("they are shown when the grades are published."),
                "visibility": "visible", "tests": tests}


def _check_student_dir(student_dir) -> Path:
    path = Path(student_dir)
    if path.is_symlink():
        raise GradeError(f"STUDENT_DIR: {path} is a symlink; a submission holds no symlinks")
    if not path.exists():
        raise GradeError(f"STUDENT_DIR: {path} does not exist")
    package = path / "deeplinear"
    if package.is_symlink():
        raise GradeError(f"STUDENT_DIR: {package} is a symlink; a submission holds no symlinks")
    if not (package / "__init__.py").is_file():
        raise GradeError(f"STUDENT_DIR: {path} is not a deeplinear package "
                         "(expected deeplinear/__init__.py inside it)")
    return path.resolve()


def _stage(package: Path, target: Path):
    """Copy the student's package (regular files only) where workers can read it, not write.

    Refused, before anything is copied: a symlink anywhere, and more files,
    folders, bytes or depth than the caps. The instructor's tools
    (``deeplinear/assignment``) of a submission are left out: no test uses them.
    """
    files, folders, size = [], 0, 0
    for base, dirs, names in os.walk(package):
        rel = Path(base).relative_to(package)
        if len(rel.parts) > MAX_DEPTH:
            raise GradeError(f"STUDENT_DIR: folders nested deeper than {MAX_DEPTH} levels "
                             f"({rel})")
        for name in dirs + names:
            if (Path(base) / name).is_symlink():
                raise GradeError(f"STUDENT_DIR: deeplinear/{rel / name} is a symlink; a "
                                 "submission holds no symlinks")
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (rel == Path() and
                                                                   d == "assignment")]
        folders += len(dirs)
        for name in names:
            path = Path(base) / name
            if not path.is_file():
                raise GradeError(f"STUDENT_DIR: deeplinear/{rel / name} is not a regular file")
            files.append(path)
            size += path.stat().st_size
        if len(files) > MAX_FILES or folders > MAX_FOLDERS or size > MAX_BYTES:
            raise GradeError(f"STUDENT_DIR: the package holds more than {MAX_FILES} files, "
                             f"{MAX_FOLDERS} folders or {MAX_BYTES >> 20} MB")
    for src in files:
        dst = target / src.relative_to(package)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o644)
    target.mkdir(parents=True, exist_ok=True)
    for path in [target, *[p for p in target.rglob("*") if p.is_dir()]]:
        os.chmod(path, 0o755)


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


def _judge(paths, parts, stage, private, work, name, options):
    """One judge process for ``parts``; returns its results document."""
    results = work / f"{name}.json"
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\n")
    cmd = [sys.executable, "-m", "pytest", *map(str, paths), "-q", "--no-header",
           "-p", "no:cacheprovider", "-p", PLUGIN, "--noconftest", "-c", str(ini),
           "--rootdir", str(work), "--dl-judge", "--dl-student", str(stage),
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
        raise GradeError(f"the judge could not collect its tests (parts {', '.join(parts)}):\n"
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
    """
    student = _check_student_dir(student_dir)
    try:
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
        stage, work = base / "stage", base / "judge"
        work.mkdir(mode=0o700)
        _stage(student / "deeplinear", stage / "deeplinear")
        os.chmod(stage, 0o755)
        groups = [names[k::max(1, int(jobs))] for k in range(max(1, int(jobs)))]
        groups = [g for g in groups if g]
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            docs = list(pool.map(lambda kg: _judge(paths, kg[1], stage, private, work,
                                                   f"judge-{kg[0]}", options),
                                 enumerate(groups)))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return _collect(str(student), names, docs, hidden, time.perf_counter() - start, mode,
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


def _collect(student, names, docs, hidden, seconds, mode, limits, seed) -> GradeResult:
    """Per part: the tests the judge collected, and their outcomes; capped at the maximum."""
    collected = [c for d in docs for c in d["collected"]]
    outcomes = {r["nodeid"]: r for d in docs for r in d["results"]}
    results = {n: PartResult(n, PARTS[n].title) for n in names}
    for item in collected:
        part = results.get(item["part"])
        if part is None:  # a test of a part outside the chosen ones
            continue
        outcome = outcomes.get(item["nodeid"])
        passed = bool(outcome and outcome["passed"])
        output = outcome["output"] if outcome else "not run: the judge stopped before this test"
        cut = bool(outcome and outcome.get("cut_short"))
        points = float(item["points"])
        part.tests.append({"name": item["name"], "nodeid": item["nodeid"], "points": points,
                           "passed": passed, "output": "" if passed else output,
                           "cut_short": cut, "hidden": bool(item["hidden"])})
        part.possible += points
        part.earned += points if passed else 0.0
        part.cut_short |= cut
    for part in results.values():
        part.earned = min(part.earned, part.possible)
    return GradeResult(student, list(results.values()), hidden, seconds=seconds,
                       isolation=mode, limits=limits, seed=seed,
                       judge_peak_rss_mb=max(d.get("peak_rss_kb", 0) for d in docs) / 1024)
