"""pytest plugin of the course assignment: markers, points, fixtures, and the judge's verdict.

It is registered where it is used, never installed for every project: a
release's ``tests/conftest.py`` (``pytest_plugins``), this repository's, and
the judge that ``grade`` starts (``-p``, with no conftest and no settings of
any project).

Markers, declared here:

``@pytest.mark.part("name")``
    The test grades the student part ``name`` (usually set once per module
    with ``pytestmark``).
``@pytest.mark.points(n)``
    What the test is worth. A test with one of the two markers and not the
    other is an error at collection: it would otherwise count as a silent
    zero. Grading tests are selected by these markers, never by folder.

Fixtures:

``student``
    Runs one call of the student's code in a worker process (``sandbox.py``)
    and returns its answer as data; the test process never imports the
    student's package. By default the package is the ``deeplinear/`` this
    plugin belongs to (a student checking a release); the judge passes
    ``--dl-student`` and ``--dl-judge``.
``cases``
    ``cases(name)``: a public case, inputs with expected outputs. A student's
    run reads the stored ``cases.npz`` beside the tests; the judge, given
    the private folder (``--dl-private``) and a grading seed (``--dl-seed``),
    draws fresh inputs of the same shapes and kinds and computes the expected
    values with the private reference.
``rng``
    A generator seeded with ``--dl-seed`` (default a fixed seed).

When grading tests ran, the terminal summary ends with the points per part.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path

import numpy as np
import pytest

from . import cases as casebook
from .sandbox import MODES, IsolationError, Runner

DEFAULT_SEED = 20180712
#: The folder holding the ``deeplinear/`` this plugin belongs to.
PACKAGE_ROOT = Path(__file__).resolve().parents[3]

# What the plugin keeps on pytest's config for one session (``config.stash``).
#: The outcome of each grading test, as reported.
RESULTS = pytest.StashKey[list]()
#: Each grading test collected: what can be earned, known before any student code runs.
COLLECTED = pytest.StashKey[list]()
#: The worker runner, started by the first ``student`` fixture.
RUNNER = pytest.StashKey[object]()
#: Seconds of worker time spent per part.
SPENT = pytest.StashKey[dict]()
#: The public cases (stored, or drawn fresh), made by the first ``cases`` fixture.
BOOK = pytest.StashKey[object]()


def pytest_addoption(parser):
    group = parser.getgroup("deeplinear grading")
    group.addoption("--dl-judge", action="store_true", help="judge mode (used by grade)")
    group.addoption("--dl-student", default=None,
                    help="folder holding the student's deeplinear/ (default: this package's)")
    group.addoption("--dl-parts", default=None, help="comma-separated parts to run")
    group.addoption("--dl-timeout", type=float, default=10.0,
                    help="seconds one call of student code may run (default: 10)")
    group.addoption("--dl-memory", type=int, default=1024,
                    help="memory of one call of student code, in MB (default: 1024)")
    group.addoption("--dl-part-budget", type=float, default=60.0,
                    help="seconds of worker time per part; later tests of the part are cut "
                         "short (default: 60)")
    group.addoption("--dl-isolation", default="none", choices=MODES,
                    help="how workers are confined (default: none, for your own code)")
    group.addoption("--dl-private", default=None,
                    help="the instructor's private folder: fresh cases, withheld messages")
    group.addoption("--dl-seed", type=int, default=None,
                    help="the grading seed of the fresh cases and of rng")
    group.addoption("--dl-results", default=None, help="judge mode: write the results here")


def pytest_configure(config):
    config.addinivalue_line("markers", "part(name): the student part a grading test grades")
    config.addinivalue_line("markers", "points(n): what a grading test is worth")
    config.stash[RESULTS] = []
    config.stash[COLLECTED] = []
    config.stash[RUNNER] = None
    config.stash[SPENT] = {}
    config.stash[BOOK] = None
    private = config.getoption("--dl-private")
    if private:
        from . import private as instructor
        from .checks import common

        common.SECRETS = instructor.secret_windows(private)


def part_of(item):
    marker = item.get_closest_marker("part")
    return str(marker.args[0]) if marker is not None and marker.args else None


def points_of(item):
    marker = item.get_closest_marker("points")
    return None if marker is None or not marker.args else marker.args[0]


def _is_hidden(item, config):
    private = config.getoption("--dl-private")
    return bool(private) and Path(private).resolve() in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(session, config, items):
    problems = []
    for item in items:
        part, points = part_of(item), points_of(item)
        if part is None and item.get_closest_marker("points") is None:
            if item.get_closest_marker("part") is not None:
                problems.append(f"{item.nodeid}: @pytest.mark.part without a name")
            continue
        if part is None:
            problems.append(f"{item.nodeid}: grading test without @pytest.mark.part(name)")
        if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
            problems.append(f"{item.nodeid}: grading test without @pytest.mark.points(n), n > 0")
    if problems:
        raise pytest.UsageError("unmarked grading tests:\n  " + "\n  ".join(problems))
    wanted = config.getoption("--dl-parts")
    if wanted is not None:
        names = {p for p in wanted.split(",") if p}
        keep = [i for i in items if part_of(i) in names]
        config.hook.pytest_deselected(items=[i for i in items if part_of(i) not in names])
        items[:] = keep
    # What can be earned, known before any student code runs.
    config.stash[COLLECTED] = [{"nodeid": i.nodeid, "name": i.name, "part": part_of(i),
                                "points": points_of(i), "hidden": _is_hidden(i, config)}
                               for i in items if part_of(i) is not None]


def pytest_collectreport(report):
    """A test file that cannot be collected: the judge reports it instead of grading
    (as it does a worker that the sandbox cannot start: ``IsolationError``)."""
    if report.failed:
        _ERRORS.append(f"{report.nodeid}: {str(report.longrepr)[-1500:]}")


_ERRORS = []


class PartRunner:
    """The ``student`` fixture: the runner, with the time budget of one part."""

    def __init__(self, runner, part, spent, budget):
        self.runner, self.part, self.spent, self.budget = runner, part, spent, budget

    def run(self, request, arrays, oracle=None):
        from .wire import Response

        if self.spent.get(self.part, 0.0) > self.budget:
            return Response(ok=False, failure=f"cut short: the part {self.part!r} already used "
                                              f"its {self.budget:g} s of worker time")
        response = self.runner.run(request, arrays, oracle=oracle)
        self.spent[self.part] = self.spent.get(self.part, 0.0) + response.seconds
        return response


@pytest.fixture
def student(request):
    """Runs the student's code, one call per worker process (see ``checks/common.py``)."""
    config = request.config
    if config.stash[RUNNER] is None:
        package = config.getoption("--dl-student") or str(PACKAGE_ROOT)
        config.stash[RUNNER] = Runner(package, timeout=config.getoption("--dl-timeout"),
                                      memory_mb=config.getoption("--dl-memory"),
                                      mode=config.getoption("--dl-isolation"))
    return PartRunner(config.stash[RUNNER], part_of(request.node) or "", config.stash[SPENT],
                      config.getoption("--dl-part-budget"))


@pytest.fixture
def cases(request):
    """``cases(name)``: a public case (stored, or drawn fresh by the judge)."""
    config = request.config
    if config.stash[BOOK] is None:
        private = config.getoption("--dl-private")
        if private:
            config.stash[BOOK] = casebook.Fresh(private, config.getoption("--dl-seed"))
        else:
            config.stash[BOOK] = casebook.Stored(Path(str(request.path)).parent / casebook.FILE)
    return config.stash[BOOK]


@pytest.fixture
def rng(request):
    """A generator seeded with the grading seed (or a fixed one)."""
    seed = request.config.getoption("--dl-seed")
    return np.random.default_rng(DEFAULT_SEED if seed is None else seed)


def _failure_text(call, report) -> str:
    """What a student may see of a failure: the check's own message, never test source."""
    if call.excinfo is None:
        return "failed"
    exc = call.excinfo.value
    if isinstance(exc, AssertionError):
        text = str(exc)
        if not text or text.startswith("assert "):
            return "a check failed"
        return text.split("\nassert ", 1)[0].strip()[:3000]
    # An error of the test itself (the judge's code), not of the student's.
    return f"{type(exc).__name__}: {str(exc)[:1000]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    part = part_of(item)
    if part is None:
        return
    if call.excinfo is not None and isinstance(call.excinfo.value, IsolationError):
        # The sandbox, not the student: no grade is given rather than a wrong one.
        _ERRORS.append(f"{item.nodeid}: {str(call.excinfo.value)[:1500]}")
    if report.when == "call" or (report.failed and report.when == "setup"):
        output = _failure_text(call, report) if report.failed else ""
        item.config.stash[RESULTS].append({
            "nodeid": item.nodeid, "name": item.name, "part": part, "points": points_of(item),
            "passed": report.passed and report.when == "call",
            "cut_short": output.split(": ", 1)[-1].startswith("cut short"), "output": output})


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if config.stash[RUNNER] is not None:
        config.stash[RUNNER].close()
    path = config.getoption("--dl-results")
    if path:
        doc = {"collected": config.stash[COLLECTED], "results": config.stash[RESULTS],
               "errors": list(_ERRORS),
               "isolation": config.getoption("--dl-isolation"),
               "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
        Path(path).write_text(json.dumps(doc))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config.stash.get(RESULTS, [])
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
