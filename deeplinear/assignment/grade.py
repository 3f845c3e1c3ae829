"""Grade a student's package: a judge that never imports student code, and confined workers.

``grade(STUDENT_DIR)`` copies the student's ``deeplinear/`` package into a
staging folder, then starts the judge: pytest with the instructor's grading
tests (``tests/grading``, and ``tests/hidden`` with ``hidden=True``) and the
grading plugin, in ``jobs`` processes that share the parts between them. The
judge never imports the student's package. Each call of a student function
goes to a fresh worker process (``tests/gradesandbox.py``) that imports the
staged copy, and comes back as plain JSON and ``.npy`` arrays; the judge
compares it with its own expected values and writes the verdict into its
private folder, which no worker can see. Points come from the judge's own
collection of tests, and no part scores above its maximum.
"""

from __future__ import annotations

import json
import os
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
from .release import source_root

__all__ = ["GradeError", "PartResult", "GradeResult", "grade"]

MAX_FILES = 2000          # a student package with more files than this is refused
MAX_BYTES = 50 << 20      # ... or more bytes


class GradeError(ValueError):
    """Grading could not run (a missing STUDENT_DIR, missing tests, a broken judge)."""


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
        return "\n".join(line.rstrip() for line in lines)

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
                "execution_time": round(self.seconds, 2), "output": self.table(),
                "visibility": "visible", "tests": tests}


def _check_student_dir(student_dir) -> Path:
    path = Path(student_dir)
    if not path.exists():
        raise GradeError(f"STUDENT_DIR: {path} does not exist")
    if not (path / "deeplinear" / "__init__.py").is_file():
        raise GradeError(f"STUDENT_DIR: {path} is not a deeplinear package "
                         "(expected deeplinear/__init__.py inside it)")
    return path.resolve()


def _stage(package: Path, target: Path):
    """Copy the student's package (regular files only) where workers can read it, not write."""
    count = size = 0
    for src in sorted(package.rglob("*")):
        rel = src.relative_to(package)
        if "__pycache__" in rel.parts or src.is_symlink():
            continue
        dst = target / rel
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        elif src.is_file():
            count, size = count + 1, size + src.stat().st_size
            if count > MAX_FILES or size > MAX_BYTES:
                raise GradeError(f"STUDENT_DIR: the package holds more than {MAX_FILES} files "
                                 f"or {MAX_BYTES >> 20} MB")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
    for path in [target, *[p for p in target.rglob("*") if p.is_dir()]]:
        os.chmod(path, 0o755)


def _test_paths(root, hidden):
    paths = [root / "tests" / "grading"] + ([root / "tests" / "hidden"] if hidden else [])
    for path in paths:
        if not path.is_dir():
            raise GradeError(f"grading tests not found at {path}")
    return paths


def _judge(root, paths, parts, stage, private, name, options):
    """One judge process for ``parts``; returns its results document."""
    results = private / f"{name}.json"
    cmd = [sys.executable, "-m", "pytest", *map(str, paths), "-q", "--no-header",
           "-p", "no:cacheprovider", "--rootdir", str(root), "--dl-judge",
           "--dl-student", str(stage), "--dl-parts", ",".join(parts),
           "--dl-timeout", str(options["timeout"]), "--dl-memory", str(options["memory_mb"]),
           "--dl-part-budget", str(options["part_timeout"]), "--dl-hide", str(root),
           "--dl-hide", str(private), "--dl-results", str(results),
           # the tests' own messages, not the repository's warnings-as-errors rule
           "-W", "default::RuntimeWarning"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    limit = options["part_timeout"] * len(parts) + 120
    try:
        proc = subprocess.run(cmd, cwd=private, env=env, capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired:
        raise GradeError(f"the judge for parts {', '.join(parts)} ran longer than {limit:g} s")
    if not results.is_file():
        raise GradeError(f"the judge for parts {', '.join(parts)} wrote no results (exit code "
                         f"{proc.returncode}):\n" + (proc.stdout + proc.stderr)[-3000:])
    return json.loads(results.read_text())


def grade(student_dir, *, hidden=False, timeout=10.0, part_timeout=60.0, jobs=2,
          memory_mb=1024, parts=None, tests_root=None) -> GradeResult:
    """Grade STUDENT_DIR part by part.

    Parameters
    ----------
    student_dir : path
        A folder holding the student's ``deeplinear/`` package.
    hidden : bool
        Also run the hidden tests (``tests/hidden``).
    timeout : float
        Seconds one call of student code may run; the judge then kills its worker.
    part_timeout : float
        Seconds of worker time per part; the part's later tests are then cut short.
    jobs : int
        Judge processes; the parts are shared between them.
    memory_mb : int
        Address-space limit of each worker, in MB.
    parts : list of str, optional
        Grade only these parts (default: all).
    tests_root : path, optional
        The source tree holding ``tests/grading`` and ``tests/hidden``; default
        the instructor's tree.
    """
    student = _check_student_dir(student_dir)
    root = Path(tests_root).resolve() if tests_root is not None else source_root()
    paths = _test_paths(root, hidden)
    names = list(PARTS) if parts is None else list(parts)
    unknown = [p for p in names if p not in PARTS]
    if unknown or not names:
        raise GradeError(f"parts: unknown {unknown}; the parts are {', '.join(PARTS)}")
    options = {"timeout": timeout, "part_timeout": part_timeout, "memory_mb": int(memory_mb)}
    start = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="deeplinear-grade-"))
    try:
        os.chmod(base, stat.S_IRWXU | stat.S_IXGRP | stat.S_IXOTH)  # 0711
        stage, private = base / "stage", base / "private"
        private.mkdir(mode=0o700)
        _stage(student / "deeplinear", stage / "deeplinear")
        os.chmod(stage, 0o755)
        groups = [names[k::max(1, int(jobs))] for k in range(max(1, int(jobs)))]
        groups = [g for g in groups if g]
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            docs = list(pool.map(lambda kg: _judge(root, paths, kg[1], stage, private,
                                                   f"judge-{kg[0]}", options),
                                 enumerate(groups)))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return _collect(str(student), names, docs, hidden, time.perf_counter() - start)


def _collect(student, names, docs, hidden, seconds) -> GradeResult:
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
                           "cut_short": cut, "hidden": item["nodeid"].startswith("tests/hidden/")})
        part.possible += points
        part.earned += points if passed else 0.0
        part.cut_short |= cut
    for part in results.values():
        part.earned = min(part.earned, part.possible)
    modes = sorted({d.get("isolation", "?") for d in docs})
    return GradeResult(student, list(results.values()), hidden, seconds=seconds,
                       isolation=", ".join(modes),
                       judge_peak_rss_mb=max(d.get("peak_rss_kb", 0) for d in docs) / 1024)
