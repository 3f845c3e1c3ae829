"""The course assignment: release, grade, points, and what a broken student costs.

Every grade here runs the real grader: a judge process that never imports
student code, with the public tests of deeplinear/assignment/judge/public and
the hidden tests of instructor/, and one confined worker per call of student
code (deeplinear/assignment/judge/sandbox.py).
The attacks on the grader are in tests/test_attacks.py.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from assignmentlib import ROOT, by_part, run_in_copy, solve

from deeplinear.assignment import PARTS, ReleaseError, find_regions, release, stub_source
from deeplinear.assignment.__main__ import main
from deeplinear.assignment.judge.grade import grade


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    start = time.perf_counter()
    done = release(out)
    return out, done, time.perf_counter() - start


@pytest.fixture
def student(released, tmp_path):
    """A fresh copy of the untouched release to edit."""
    path = tmp_path / "student"
    shutil.copytree(released[0], path)
    return path


@pytest.mark.parametrize("isolation", ["namespaces", "user"])
def test_untouched_release_scores_zero_and_says_not_implemented(released, isolation):
    out, _, release_seconds = released
    start = time.perf_counter()
    result = grade(out, hidden=True, isolation=isolation)
    seconds = release_seconds + time.perf_counter() - start
    assert result.isolation == isolation
    assert [p.name for p in result.parts] == list(PARTS)
    for part in result.parts:
        assert part.possible > 0 and part.earned == 0, part.name
        assert part.tests and all("NotImplementedError" in t["output"] for t in part.tests), \
            (part.name, [t["output"][:80] for t in part.tests])
        # the stub's hint reaches the student: it is public text, not a secret
        assert f"{part.name}: implement" in part.first_failure, part.first_failure
    assert seconds < 60, f"release + full grade took {seconds:.1f} s"


@pytest.mark.parametrize("isolation", ["namespaces", "user"])
def test_the_solution_gets_full_marks(isolation):
    result = grade(ROOT, hidden=True, isolation=isolation)
    assert result.max_score == 100
    assert result.score == result.max_score, result.table()
    assert f"isolation of student code: {isolation}" in result.table()
    assert "grading seed" in result.table() and "limits: per call" in result.table()


def test_one_solved_part_earns_exactly_its_points(student):
    solve(student, ["adam"])
    parts = by_part(grade(student, hidden=True))
    assert parts["adam"].earned == parts["adam"].possible > 0
    assert all(p.earned == 0 for name, p in parts.items() if name != "adam")


def test_a_transposed_factor_fails_with_the_mismatch(student):
    solve(student, list(PARTS))
    network = student / "deeplinear" / "network.py"
    text = network.read_text()
    # Transpose the square gradients: same shapes, wrong values.
    text = text.replace("    return dW\n", "    return [D.T if D.shape[0] == D.shape[1] else D "
                                          "for D in dW]\n", 1)
    assert "D.T if" in text
    network.write_text(text)
    parts = by_part(grade(student, hidden=True, parts=["factor_gradients", "sgd"]))
    fg = parts["factor_gradients"]
    failed = [t for t in fg.tests if not t["passed"]]
    assert failed and 0 < fg.earned < fg.possible
    for t in failed:
        assert "differs from (W_N...W_{j+1})^T grad_e" in t["output"], t["output"]
    assert parts["sgd"].earned == parts["sgd"].possible


def test_results_json_has_the_gradescope_fields(released, tmp_path, capsys):
    path = tmp_path / "results.json"
    assert main(["grade", str(released[0]), "--json", str(path)]) == 0
    table = capsys.readouterr().out
    assert "total" in table and "NotImplementedError" in table and "isolation" in table
    doc = json.loads(path.read_text())
    assert isinstance(doc["score"], float) and isinstance(doc["max_score"], float)
    assert doc["tests"], doc
    for test in doc["tests"]:
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["visibility"] == "visible"  # no --hidden: the public tests only
    assert doc["score"] == sum(t["score"] for t in doc["tests"])
    assert doc["max_score"] == sum(t["max_score"] for t in doc["tests"])


def test_a_syntax_error_costs_only_the_parts_that_use_the_file(student):
    solve(student, list(PARTS))
    init = student / "deeplinear" / "init.py"
    init.write_text(init.read_text().replace("def near_zero(", "def near_zero((", 1))
    parts = by_part(grade(student))
    assert parts["balanced_init"].earned == 0
    assert "SyntaxError" in parts["balanced_init"].first_failure
    assert all(p.earned == p.possible for n, p in parts.items() if n != "balanced_init")


def test_an_infinite_loop_costs_only_its_part(student):
    solve(student, list(PARTS))
    gradcheck = student / "deeplinear" / "gradcheck.py"
    text = gradcheck.read_text()
    gradcheck.write_text(text.replace("    grad = np.zeros_like(x)\n",
                                      "    while True:\n        pass\n", 1))
    start = time.perf_counter()
    parts = by_part(grade(student, timeout=1.0, part_timeout=2.5))
    ng = parts["numerical_gradient"]
    assert ng.earned == 0 and ng.cut_short
    assert "cut short" in ng.first_failure
    assert all(p.earned == p.possible for n, p in parts.items() if n != "numerical_gradient")
    # Three tests of 1 s, but the part's budget of 2.5 s ends it: well under a minute.
    assert time.perf_counter() - start < 40


def test_an_isolation_the_machine_cannot_give_is_refused_in_one_line(monkeypatch, capsys):
    from deeplinear.assignment.judge import grade as grading

    reasons = {"namespaces": "namespaces needs the unshare command (util-linux)",
               "user": "user: chroot is not permitted"}
    monkeypatch.setattr(grading, "probe", lambda mode, memory_mb=1024: reasons.get(mode, ""))
    assert main(["grade", str(ROOT), "--isolation", "namespaces"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--isolation namespaces is not available here" in err
    # auto never falls to none: it refuses, and says how to ask for none.
    assert main(["grade", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert "no confinement" in err and "--isolation none" in err and err.count("\n") == 1


def _symlinked_package(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deeplinear").symlink_to(ROOT / "deeplinear")
    return tmp_path / "sub"


@pytest.mark.parametrize("build, why", [
    (_symlinked_package, "is a symlink"),
    (lambda t: (t / "top").symlink_to(ROOT) or t / "top", "is a symlink"),
    (lambda t: (shutil.copytree(ROOT / "deeplinear", t / "s" / "deeplinear",
                                ignore=shutil.ignore_patterns("__pycache__")),
                (t / "s" / "deeplinear" / "linalg.py").unlink(),
                (t / "s" / "deeplinear" / "linalg.py").symlink_to(ROOT / "deeplinear" / "linalg.py"))
     and t / "s", "is a symlink"),
    (lambda t: ([(t / "s" / "deeplinear" / f"d{k}").mkdir(parents=True) for k in range(300)],
                (t / "s" / "deeplinear" / "__init__.py").write_text(""))
     and t / "s", "folders"),
    (lambda t: ((t / "s" / "deeplinear" / "a" / "b" / "c" / "d" / "e" / "f" / "g" / "h" / "i")
                .mkdir(parents=True), (t / "s" / "deeplinear" / "__init__.py").write_text(""))
     and t / "s", "nested deeper"),
], ids=["package-symlink", "top-symlink", "file-symlink", "300-folders", "depth-9"])
def test_submissions_with_symlinks_or_too_many_folders_are_refused(tmp_path, build, why, capsys):
    student = build(tmp_path)
    assert main(["grade", str(student)]) == 2
    err = capsys.readouterr().err
    assert "STUDENT_DIR" in err and why in err, err


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty")]) == 2
    assert "not a deeplinear package" in capsys.readouterr().err
    assert main(["grade", str(ROOT), "--parts", "nosuchpart"]) == 2
    assert "unknown ['nosuchpart']" in capsys.readouterr().err
    assert main(["grade", str(ROOT), "--memory", "10"]) == 2
    assert "--memory" in capsys.readouterr().err


def test_release_is_deterministic_complete_and_keeps_the_answers_back(released, tmp_path):
    out, done, _ = released
    again = tmp_path / "again"
    release(again)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel
    names = [str(f) for f in files]
    assert sorted(done["files"]) == sorted(names)
    assert not any("hidden" in n or "gradereference" in n or n.startswith("instructor")
                   for n in names)
    assert not any(n.startswith("deeplinear/_kernels") for n in names)
    # Of the instructor's tools, only the judge (the student's own pytest runs on it).
    assert {n.split("/")[2] for n in names if n.startswith("deeplinear/assignment/")} == \
        {"__init__.py", "judge"}
    assert not any(n.startswith("deeplinear/assignment/judge/public") for n in names)
    for needed in ("README.md", "pyproject.toml", "tests/conftest.py",
                   "tests/grading/cases.npz", "tests/grading/test_adam.py",
                   "deeplinear/assignment/judge/plugin.py",
                   "tutorials/01_deep_linear_networks.py"):
        assert needed in names, needed
    # No implementation of a graded rule is left: no solution, no twin, no kernel.
    for rel in files:
        if rel.suffix == ".py":
            text = (out / rel).read_text()
            assert not re.search(r"^\s*# (BEGIN|END) SOLUTION", text, re.M), rel
            assert "_reference(" not in text and "@njit" not in text, rel
    assert {r.part for r in done["regions"]} == set(PARTS)
    guide = (out / "README.md").read_text()
    assert all(part in guide for part in PARTS) and "pytest tests/grading" in guide


def test_stored_cases_are_the_references_and_grading_draws_fresh_ones(released):
    from deeplinear.assignment.judge import cases as casebook
    from helpers import judge_reference

    reference = judge_reference()
    stored = casebook.read(released[0] / "tests" / "grading" / "cases.npz")
    cases = reference.public_cases()
    assert set(stored) == set(cases)
    for name, case in cases.items():
        assert set(stored[name]) == set(case), name
        for key, value in case.items():
            if key == "params":
                assert stored[name][key] == json.loads(json.dumps(value)), name
            else:
                assert np.array_equal(stored[name][key], value), (name, key)
    # A grading seed gives other inputs of the same shapes, kinds and options.
    fresh, again = reference.public_cases(seed=12345), reference.public_cases(seed=12345)
    for name, case in cases.items():
        assert fresh[name]["params"] == case["params"], name
        for key, value in case.items():
            if key != "params":
                assert fresh[name][key].shape == value.shape, (name, key)
                assert np.array_equal(fresh[name][key], again[name][key]), (name, key)
        inputs = [k for k in case if k != "params" and not k.startswith("expect")]
        assert any(not np.array_equal(fresh[name][k], case[k]) for k in inputs), name


def test_release_refuses_a_folder_with_files(released, capsys):
    assert main(["release", str(released[0])]) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize("text, where", [
    ("x = 1\n# END SOLUTION\n", "m.py:2: END SOLUTION without"),
    ("# BEGIN SOLUTION sgd: step\n# BEGIN SOLUTION adam: step\n# END SOLUTION\n",
     "m.py:2: BEGIN SOLUTION inside the region opened at line 1"),
    ("def f():\n    # BEGIN SOLUTION sgd: step\n    return 1\n", "m.py:2: BEGIN SOLUTION is never"),
    ("# BEGIN SOLUTION nosuchpart: x\n# END SOLUTION\n", "m.py:1: unknown part 'nosuchpart'"),
    ("# BEGIN SOLUTION sgd\n# END SOLUTION\n", "m.py:1: expected '# BEGIN SOLUTION <part>"),
])
def test_bad_markers_are_refused_with_file_and_line(text, where):
    with pytest.raises(ReleaseError, match=where.replace("(", r"\(").replace(")", r"\)")):
        find_regions(text, "m.py")


def test_stub_keeps_indentation_and_hint():
    text = ("def f(x):\n    y = 2\n    # BEGIN SOLUTION sgd: return x times y\n"
            "    #   (more words)\n    return x * y\n    # END SOLUTION\n")
    stubbed = stub_source(text, "m.py")
    scope = {}
    exec(compile(stubbed, "m.py", "exec"), scope)
    with pytest.raises(NotImplementedError, match=r"sgd: implement return x times y \(more words\)"):
        scope["f"](3)
    solved = stub_source(text, "m.py", keep={"sgd"})
    exec(compile(solved, "m.py", "exec"), scope)
    assert scope["f"](3) == 6 and "SOLUTION" not in solved and "more words" not in solved


def _run(args, cwd, env=None, timeout=300):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_grading_tests_are_selected_by_markers_not_folders(tmp_path):
    (tmp_path / "grading").mkdir()
    (tmp_path / "conftest.py").write_text(
        "pytest_plugins = ['deeplinear.assignment.judge.plugin']\n")
    (tmp_path / "grading" / "test_x.py").write_text(
        "import pytest\n\n@pytest.mark.points(2)\ndef test_no_part():\n    assert True\n")
    proc = _run([sys.executable, "-m", "pytest", "grading", "-q", "-p", "no:cacheprovider"],
                tmp_path)
    assert proc.returncode != 0
    assert "without @pytest.mark.part" in proc.stdout + proc.stderr


def test_an_unrelated_project_with_a_hidden_folder_collects_and_passes(tmp_path):
    # The plugin is not installed for every project: a tests/hidden/ folder of
    # someone else's project means nothing to it.
    (tmp_path / "tests" / "hidden").mkdir(parents=True)
    (tmp_path / "tests" / "hidden" / "test_other.py").write_text(
        "def test_other():\n    assert 1 + 1 == 2\n")
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout and "deeplinear grading" not in proc.stdout


def test_a_plain_pytest_in_a_release_ends_with_the_points(student):
    solve(student, ["sgd"])
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], student)
    assert proc.returncode == 1, proc.stdout[-2000:]  # the other parts are stubs
    summary = proc.stdout.split("deeplinear grading", 1)[1]
    assert re.search(r"^sgd +6 / 6$", summary, re.M), summary
    assert re.search(r"^adam +0 / 9$", summary, re.M) and re.search(r"^total +6 / 60$", summary,
                                                                    re.M), summary


def test_a_solved_release_runs_the_library_on_the_students_functions(student, tmp_path):
    solve(student, list(PARTS))
    env = dict(os.environ, MPLBACKEND="Agg", DEEPLINEAR_QUICK="1",
               DEEPLINEAR_FIGURES_DIR=str(tmp_path / "figures"))
    main_cmd = run_in_copy(student, ["-m deeplinear.experiments", "--steps", "20", "--out",
                                     str(tmp_path / "results")], tmp_path, env)
    assert main_cmd.returncode == 0, main_cmd.stdout[-2000:] + main_cmd.stderr[-2000:]
    for name in ("curves.csv", "summary.json", "curves.png"):
        assert (tmp_path / "results" / name).stat().st_size > 0
    tutorial = run_in_copy(student, [str(student / "tutorials" / "01_deep_linear_networks.py")],
                           tmp_path, env)
    assert tutorial.returncode == 0, tutorial.stdout[-2000:] + tutorial.stderr[-2000:]
    assert (tmp_path / "figures" / "01_deep_linear_networks.png").stat().st_size > 0
    # ... and they really run on the student's functions: with factor_gradients
    # stubbed again, the main command fails with the stub's message.
    (student / "deeplinear" / "network.py").write_text(stub_source(
        (ROOT / "deeplinear" / "network.py").read_text(), "network.py"))
    stubbed = run_in_copy(student, ["-m deeplinear.experiments", "--steps", "20", "--out",
                                    str(tmp_path / "again")], tmp_path, env)
    assert stubbed.returncode != 0
    assert "factor_gradients: implement" in stubbed.stdout + stubbed.stderr


def test_redaction_withholds_quotes_of_the_instructors_files(monkeypatch):
    from deeplinear.assignment.judge.checks import common
    from deeplinear.assignment.judge.checks.common import WITHHELD, describe_error, redact
    from deeplinear.assignment.judge.private import default_private, secret_windows

    monkeypatch.setattr(common, "SECRETS", secret_windows(str(default_private())))  # as the judge
    hidden = (default_private() / "test_sgd_hidden.py").read_text()
    line = next(x.strip() for x in hidden.splitlines() if "garbage" in x)
    assert redact(f"look: {line}") == WITHHELD
    region = (ROOT / "deeplinear" / "losses.py").read_text()
    solution_line = "return self.p * np.abs(r) ** (self.p - 1) * np.sign(r) / r.size"
    assert solution_line in region
    assert redact(solution_line) == WITHHELD
    ordinary = "operands could not be broadcast together with shapes (3,4) (4,3)"
    assert redact(ordinary) == ordinary
    text = describe_error({"type": "ValueError", "message": ordinary,
                           "where": {"file": "deeplinear/network.py", "line": 3,
                                     "function": "factor_gradients"}})
    assert text == ("your code raised ValueError in deeplinear/network.py:3 (factor_gradients): "
                    + ordinary)
    odd = describe_error({"type": "<script>", "message": "x" * 1000,
                          "where": {"file": "/etc/passwd", "line": 1, "function": "f"}})
    assert odd.startswith("your code raised an exception: ") and len(odd) < 460
