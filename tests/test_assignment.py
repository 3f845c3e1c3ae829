"""The course assignment: release, grade, points, and what a broken student costs.

Every grade here runs the real grader: one process per part, importing
``deeplinear`` from the graded folder (never the installed solution), with
the grading tests of tests/grading and tests/hidden.
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeplinear.assignment import PARTS, ReleaseError, find_regions, release, stub_source
from deeplinear.assignment.__main__ import main
from deeplinear.assignment.grade import grade
from deeplinear.assignment.release import source_root

ROOT = source_root()


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


def solve(student_dir, parts):
    """Put the solution of ``parts`` back into every file of a student copy."""
    for source in sorted((ROOT / "deeplinear").rglob("*.py")):
        rel = source.relative_to(ROOT)
        target = student_dir / rel
        text = source.read_text()
        if target.exists() and find_regions(text, str(rel)):
            target.write_text(stub_source(text, str(rel), keep=set(parts)))


def by_part(result):
    return {p.name: p for p in result.parts}


def test_untouched_release_scores_zero_and_says_not_implemented(released):
    out, _, release_seconds = released
    start = time.perf_counter()
    result = grade(out, hidden=True)
    seconds = release_seconds + time.perf_counter() - start
    assert [p.name for p in result.parts] == list(PARTS)
    for part in result.parts:
        assert part.possible > 0 and part.earned == 0, part.name
        assert part.tests and all("NotImplementedError" in t["output"] for t in part.tests), \
            (part.name, [t["output"][:80] for t in part.tests])
        # deeplinear came from the release, although the installed one is complete
        assert part.modules and all(f.startswith(str(out.resolve())) for f in part.modules)
    assert seconds < 60, f"release + full grade took {seconds:.1f} s"


def test_the_solution_gets_full_marks():
    result = grade(ROOT, hidden=True)
    assert result.max_score > 0
    assert result.score == result.max_score, result.table()


def test_one_solved_part_earns_exactly_its_points(student):
    solve(student, ["adam"])
    parts = by_part(grade(student, hidden=True))
    assert parts["adam"].earned == parts["adam"].possible > 0
    assert all(p.earned == 0 for name, p in parts.items() if name != "adam")


def test_a_transposed_factor_fails_with_the_finite_difference_mismatch(student):
    solve(student, list(PARTS))
    linalg = student / "deeplinear" / "linalg.py"
    text = linalg.read_text()
    right = "below = reduce(lambda acc, W: W @ acc, factors[: j - 1]"
    assert right in text
    # Transpose the square factors below W_j: same shapes, wrong gradient.
    linalg.write_text(text.replace(
        right, "below = reduce(lambda acc, W: (W.T if W.shape[0] == W.shape[1] else W) @ acc, "
               "factors[: j - 1]"))
    parts = by_part(grade(student, hidden=True))
    fg = parts["factor_gradients"]
    failed = [t for t in fg.tests if not t["passed"]]
    assert failed and fg.earned < fg.possible
    for t in failed:
        assert "finite difference" in t["output"].lower(), t["output"]
    assert all(p.earned == p.possible for n, p in parts.items() if n != "factor_gradients")


def test_results_json_has_the_gradescope_fields(released, tmp_path, capsys):
    path = tmp_path / "results.json"
    assert main(["grade", str(released[0]), "--json", str(path)]) == 0
    table = capsys.readouterr().out
    assert "total" in table and "NotImplementedError" in table
    doc = json.loads(path.read_text())
    assert isinstance(doc["score"], float) and isinstance(doc["max_score"], float)
    assert doc["tests"], doc
    for test in doc["tests"]:
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["visibility"] in {"hidden", "after_due_date", "after_published", "visible"}
    assert doc["score"] == sum(t["score"] for t in doc["tests"])
    assert doc["max_score"] == sum(t["max_score"] for t in doc["tests"])
    assert not any("hidden" in t["name"] for t in doc["tests"])  # no --hidden: public only


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
    parts = by_part(grade(student, timeout=1.0))
    ng = parts["numerical_gradient"]
    assert ng.earned == 0 and ng.cut_short
    assert "cut short" in ng.first_failure
    assert all(p.earned == p.possible for n, p in parts.items() if n != "numerical_gradient")


def test_bad_student_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty")]) == 2
    assert "not a deeplinear package" in capsys.readouterr().err


def test_release_is_deterministic_complete_and_keeps_hidden_tests_back(released, tmp_path):
    out, done, _ = released
    again = tmp_path / "again"
    release(again)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel
    names = [str(f) for f in files]
    assert not any("hidden" in n for n in names)
    assert not any(n.startswith("deeplinear/assignment") for n in names)
    assert "README.md" in names and "deeplinear/pytest_plugin.py" in names
    assert any(n.startswith("tests/grading/test_") for n in names)
    for rel in files:
        if rel.suffix == ".py":
            assert "BEGIN SOLUTION" not in (out / rel).read_text(), rel
    assert {r.part for r in done["regions"]} == set(PARTS)
    guide = (out / "README.md").read_text()
    assert all(part in guide for part in PARTS) and "pytest tests/grading" in guide


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


def test_stub_keeps_indentation_and_hint(tmp_path):
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


def _pytest(args, cwd):
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_an_unmarked_grading_test_is_a_collection_error(tmp_path):
    (tmp_path / "grading").mkdir()
    (tmp_path / "grading" / "test_x.py").write_text(
        "import pytest\npytestmark = pytest.mark.part('sgd')\n\ndef test_no_points():\n"
        "    assert True\n")
    proc = _pytest(["grading", "-q", "-p", "no:cacheprovider"], tmp_path)
    assert proc.returncode != 0
    assert "without @pytest.mark.points" in proc.stdout + proc.stderr


def test_a_plain_pytest_run_prints_the_score(tmp_path):
    proc = _pytest([str(ROOT / "tests" / "grading"), "-q", "-p", "no:cacheprovider"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "deeplinear grading" in proc.stdout
    summary = proc.stdout.split("deeplinear grading", 1)[1]
    assert all(part in summary for part in PARTS) and "total" in summary
