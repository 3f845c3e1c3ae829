"""Grade a student's package: each part in its own process, with a per-test timeout.

For every part, ``python runner.py STUDENT_DIR REPORT PLUGIN ...`` runs
that part's grading tests (the instructor's copies, never the student's)
with ``deeplinear`` imported from STUDENT_DIR: its ``__init__`` is not run
and only the modules a test imports are loaded, so a syntax error in one
file costs only the parts that use that file. A test that runs longer than
``timeout`` seconds is cut short; a part whose process hangs beyond
``part_timeout`` is killed and its unfinished tests score 0. The report of
each process lists the files of every ``deeplinear`` module it imported; the
grader refuses a run that imported any of them from outside STUDENT_DIR.
"""

from __future__ import annotations

import json
import os
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


class GradeError(ValueError):
    """Grading could not run (a missing STUDENT_DIR, missing tests, a broken run)."""


@dataclass
class PartResult:
    name: str
    title: str
    earned: float = 0.0
    possible: float = 0.0
    tests: list = field(default_factory=list)  # dicts: name, nodeid, points, passed, output
    cut_short: bool = False
    seconds: float = 0.0
    modules: list = field(default_factory=list)  # files of the deeplinear modules imported

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

    @property
    def score(self) -> float:
        return sum(p.earned for p in self.parts)

    @property
    def max_score(self) -> float:
        return sum(p.possible for p in self.parts)

    def table(self, width=64) -> str:
        """Per part: points earned / possible, the first failure, cut short."""
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
                    "visibility": "after_published" if "/hidden/" in t["nodeid"] else "visible",
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


def _test_paths(tests_root, hidden):
    root = Path(tests_root) if tests_root is not None else source_root() / "tests"
    paths = [root / "grading"] + ([root / "hidden"] if hidden else [])
    for path in paths:
        if not path.is_dir():
            raise GradeError(f"grading tests not found at {path}")
    return [str(p) for p in paths]


def _run_part(part, student, paths, timeout, part_timeout, workdir):
    """One part in one process; returns a PartResult."""
    report = Path(workdir) / f"{part.name}.jsonl"
    here = Path(__file__).resolve().parent
    cmd = [sys.executable, str(here / "runner.py"), str(student), str(report),
           str(here.parent / "pytest_plugin.py"), *paths, "--dl-part", part.name,
           "--dl-timeout", str(timeout), "-q", "--no-header",
           # the test's own message, not the repository's warnings-as-errors rule
           "-W", "default::RuntimeWarning"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # Only the grading plugin, loaded by path: an installed plugin (ours
    # included) would import the installed deeplinear.
    env.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    start = time.perf_counter()
    killed = False
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=part_timeout)
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        killed = True
        output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) \
            else (exc.stdout or "")
    result = PartResult(part.name, part.title, seconds=time.perf_counter() - start)
    lines = [json.loads(x) for x in report.read_text().splitlines()] if report.exists() else []
    collected = next((x["collected"] for x in lines if "collected" in x), None)
    if collected is None:
        raise GradeError(f"part {part.name}: the grading tests could not be collected:\n"
                         + output[-3000:])
    done = {x["nodeid"]: x for x in lines if "nodeid" in x}
    for info in lines:
        if "modules" in info:
            root = Path(info["student_root"])
            result.modules = [f for f in info["modules"] if f]
            outside = [f for f in info["modules"] if f and root not in Path(f).resolve().parents]
            if outside:
                raise GradeError(f"part {part.name}: deeplinear was imported from outside "
                                 f"STUDENT_DIR: {outside}")
    for item in collected:
        test = done.get(item["nodeid"])
        if test is None:  # the process was killed (or crashed) before this test ended
            result.cut_short = True
            test = dict(item, passed=False, cut_short=True,
                        output=(f"cut short: the part ran longer than {part_timeout:g} s"
                                if killed else "not run: the test process ended early\n"
                                + output[-1000:]))
        result.cut_short |= bool(test.get("cut_short"))
        result.tests.append(test)
        result.possible += item["points"]
        result.earned += item["points"] if test["passed"] else 0
    return result


def grade(student_dir, *, hidden=False, timeout=10.0, part_timeout=120.0, tests_root=None,
          jobs=2) -> GradeResult:
    """Grade STUDENT_DIR part by part.

    Parameters
    ----------
    student_dir : path
        A folder holding the student's ``deeplinear/`` package.
    hidden : bool
        Also run the hidden tests (``tests/hidden``).
    timeout : float
        Seconds after which one test is cut short (and scores 0).
    part_timeout : float
        Seconds after which a part's whole process is killed.
    tests_root : path, optional
        The folder holding ``grading/`` and ``hidden/``; default the
        instructor's source tree.
    jobs : int
        Parts graded at the same time.
    """
    student = _check_student_dir(student_dir)
    paths = _test_paths(tests_root, hidden)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="deeplinear-grade-") as workdir:
        with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
            futures = [pool.submit(_run_part, part, student, paths, timeout, part_timeout,
                                   workdir) for part in PARTS.values()]
            parts = [f.result() for f in futures]
    return GradeResult(str(student), parts, hidden, seconds=time.perf_counter() - start)
