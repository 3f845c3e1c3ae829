"""pytest plugin for graded assignments built on deeplinear.

It is installed with the package (entry point ``pytest11``), so every pytest
run in an environment with deeplinear can use these markers:

``@pytest.mark.part("name")``
    The test grades the student part ``name`` (usually set once per module
    with ``pytestmark``). Tests in a folder named ``grading`` or ``hidden``
    are grading tests too.
``@pytest.mark.points(n)``
    What the test is worth. A grading test without it is an error at
    collection: it would otherwise count as a silent zero.

When grading tests ran, the terminal summary ends with the points per part.
The options ``--dl-part``, ``--dl-timeout`` and ``--dl-report`` are used by
``python -m deeplinear.assignment grade``, which runs each part in its own
process (``deeplinear/assignment/runner.py``).

This file imports nothing from deeplinear: the grader loads it by path, so
that a grading process imports the *student's* deeplinear and not the
installed solution.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

GRADING_DIRS = {"grading", "hidden"}


class GradingTimeout(Exception):
    """A test ran longer than ``--dl-timeout`` seconds and was cut short."""


def pytest_addoption(parser):
    group = parser.getgroup("deeplinear grading")
    group.addoption("--dl-part", default=None, help="run only the grading tests of this part")
    group.addoption("--dl-timeout", type=float, default=0.0,
                    help="cut a test short after this many seconds (0: never)")
    group.addoption("--dl-report", default=None,
                    help="append one JSON line per grading test to this file")


def pytest_configure(config):
    config.addinivalue_line("markers", "part(name): the student part a grading test grades")
    config.addinivalue_line("markers", "points(n): what a grading test is worth")
    config._dl_results = []


def _part(item):
    marker = item.get_closest_marker("part")
    if marker is not None:
        return str(marker.args[0]) if marker.args else None
    if GRADING_DIRS & set(Path(str(item.fspath)).parent.parts[-2:]):
        return ""  # a grading test without a part: reported below
    return None


def _points(item):
    marker = item.get_closest_marker("points")
    return None if marker is None or not marker.args else marker.args[0]


def pytest_collection_modifyitems(session, config, items):
    problems = []
    for item in items:
        part = _part(item)
        if part is None:
            continue
        points = _points(item)
        if part == "":
            problems.append(f"{item.nodeid}: grading test without @pytest.mark.part(name)")
        if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
            problems.append(f"{item.nodeid}: grading test without @pytest.mark.points(n), n > 0")
    if problems:
        raise pytest.UsageError("unmarked grading tests:\n  " + "\n  ".join(problems))
    wanted = config.getoption("--dl-part")
    if wanted is not None:
        keep = [i for i in items if _part(i) == wanted]
        config.hook.pytest_deselected(items=[i for i in items if _part(i) != wanted])
        items[:] = keep
    path = config.getoption("--dl-report")
    if path:  # what can be earned, known before any student code runs
        graded = [{"nodeid": i.nodeid, "name": i.name, "part": _part(i), "points": _points(i)}
                  for i in items if _part(i) is not None]
        with open(path, "a") as fh:
            fh.write(json.dumps({"collected": graded}) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    timeout = item.config.getoption("--dl-timeout")
    if not timeout or _part(item) is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise GradingTimeout(f"cut short: the test ran longer than {timeout:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    part = _part(item)
    if part is None:
        return
    failed = report.failed
    if report.when == "call" or (failed and report.when == "setup"):
        message = ""
        if failed:
            message = _failure_text(call, report)
        record = {"nodeid": item.nodeid, "name": item.name, "part": part,
                  "points": _points(item), "passed": report.passed and report.when == "call",
                  "cut_short": bool(call.excinfo and call.excinfo.errisinstance(GradingTimeout)),
                  "output": message}
        item.config._dl_results.append(record)
        path = item.config.getoption("--dl-report")
        if path:
            with open(path, "a") as fh:
                fh.write(json.dumps(record) + "\n")


def _failure_text(call, report):
    if call.excinfo is not None:
        exc = call.excinfo.value
        head = f"{type(exc).__name__}: {exc}".strip()
        return head[:2000]
    return str(report.longrepr)[-2000:]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = getattr(config, "_dl_results", [])
    if not results:
        return
    parts = {}
    for r in results:
        earned, possible = parts.get(r["part"], (0.0, 0.0))
        parts[r["part"]] = (earned + (r["points"] if r["passed"] else 0), possible + r["points"])
    tr = terminalreporter
    tr.section("deeplinear grading")
    for name, (earned, possible) in parts.items():
        tr.write_line(f"{name:<24} {earned:g} / {possible:g}")
    total = sum(e for e, _ in parts.values())
    maximum = sum(p for _, p in parts.values())
    tr.write_line(f"{'total':<24} {total:g} / {maximum:g}")
