"""Autograder bundles, end to end: a Gradescope zip and a PrairieLearn question.

Each bundle is laid out under a temporary DIR as its platform lays it out
(``DIR/autograder/...``, ``DIR/grade/...``) and its entry script is run with
``DEEPLINEAR_AUTOGRADER_ROOT=DIR``, a scrubbed environment and, first on
PATH, a fresh venv that holds NumPy alone (no pytest, no deeplinear): what a
platform's image has. Grading runs in the strongest mode the machine gives
(``--isolation auto``). The three grades of each platform (the solution,
untouched, one part broken) run concurrently, the last two on two parts
only, and each uses a different upload layout. Finding the package in an
upload is also tested on its own, without grading.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from assignmentlib import solve

from deeplinear.assignment import PARTS, release
from deeplinear.assignment.__main__ import main
from deeplinear.assignment.judge.autograder import (
    ROOT_ENV,
    SubmissionError,
    find_student_dir,
)
from deeplinear.assignment.judge.results import GradeResult, PartResult

BROKEN, OTHER = "sgd", "adam"   # the broken part, and a solved one graded beside it
TWO_PARTS = ["--parts", f"{BROKEN},{OTHER}"]


# --- what the platforms run ------------------------------------------------------------------

def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@pytest.fixture(scope="module")
def numpy_only(tmp_path_factory) -> Path:
    """The bin/ of a fresh venv holding NumPy alone (copied from this environment)."""
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([python, "-c", purelib], check=True, capture_output=True,
                               text=True).stdout.strip())
    numpy_dir = Path(np.__file__).parent
    for folder in (numpy_dir, numpy_dir.with_name("numpy.libs")):
        if folder.is_dir():
            shutil.copytree(folder, site / folder.name, copy_function=_link_or_copy)
    alone = "import numpy, importlib.util; print(importlib.util.find_spec('pytest') is None)"
    probe = subprocess.run([python, "-c", alone], check=False, capture_output=True, text=True)
    assert probe.stdout.strip() == "True", probe.stdout + probe.stderr
    return venv / "bin"


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Both bundles, written by the command line."""
    out = tmp_path_factory.mktemp("bundles")
    assert main(["gradescope", str(out / "autograder.zip")]) == 0
    assert main(["prairielearn", str(out / "question")]) == 0
    return out / "autograder.zip", out / "question"


@pytest.fixture(scope="module")
def students(tmp_path_factory):
    """The untouched release, the solution, and the solution with BROKEN stubbed."""
    base = tmp_path_factory.mktemp("students")
    release(base / "untouched")
    for name, parts in (("solved", list(PARTS)), ("broken", [p for p in PARTS if p != BROKEN])):
        shutil.copytree(base / "untouched", base / name)
        solve(base / name, parts)
    return base


def gradescope_layout(bundle, root) -> Path:
    """Gradescope's layout under ``root``; returns the entry script."""
    autograder = root / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, autograder / "source"))
            path.chmod((info.external_attr >> 16) & 0o777)
    shutil.copy2(autograder / "source" / "run_autograder", autograder / "run_autograder")
    (autograder / "submission").mkdir()
    return autograder / "run_autograder"


def prairielearn_layout(question, root) -> Path:
    """PrairieLearn's layout under ``root``, as info.json says; returns the entry script."""
    options = json.loads((question / "info.json").read_text())["externalGradingOptions"]
    grade = root / "grade"
    shutil.copytree(question / "tests", grade / "tests")
    for item in options["serverFilesCourse"]:
        shutil.copytree(question / "serverFilesCourse" / item, grade / "serverFilesCourse" / item)
    (grade / "student").mkdir()
    entry = root / options["entrypoint"].lstrip("/")
    entry.chmod(0o755)  # PrairieLearn makes the entrypoint executable
    return entry


def zip_folder(folder, archive, top=None):
    """Zip the files of ``folder`` into ``archive``, under ``top/`` if given."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder)
                zf.write(path, str(Path(top) / rel) if top else str(rel))


def run_entry(entry, root, numpy_bin, *options):
    """Run an entry script as the platform does; its process and its results.json.

    It runs from this checkout, whose deeplinear/ must not shadow the bundle's.
    """
    env = {"PATH": f"{numpy_bin}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           ROOT_ENV: str(root)}
    proc = subprocess.run([str(entry), *options], check=False, env=env, capture_output=True,
                          text=True, timeout=900)
    results = next(root.glob("*/results/results.json"), None)
    assert results is not None, f"no results.json (exit {proc.returncode}):\n" \
                                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc, json.loads(results.read_text())


def log(proc, doc) -> str:
    """What to show when a check fails: the results' output and the job's log."""
    return f"{doc.get('output')}\n--- log:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def graded(bundles, students, numpy_only, tmp_path_factory):
    """Every end-to-end case, run three at a time: name -> (process, results)."""
    gs_zip, question = bundles
    base = tmp_path_factory.mktemp("platforms")
    cases = {}

    def gradescope(name, fill, *options):
        entry = gradescope_layout(gs_zip, base / name)
        fill(base / name / "autograder" / "submission")
        cases[name] = (entry, base / name, options)

    def prairielearn(name, fill, *options):
        entry = prairielearn_layout(question, base / name)
        fill(base / name / "grade" / "student")
        cases[name] = (entry, base / name, options)

    # Gradescope: the release folder, one top folder holding it, bare package contents.
    gradescope("gs-solved", lambda s: shutil.copytree(students / "solved", s, dirs_exist_ok=True))
    gradescope("gs-untouched", lambda s: shutil.copytree(students / "untouched", s / "student"),
               *TWO_PARTS)
    gradescope("gs-broken", lambda s: shutil.copytree(students / "broken" / "deeplinear", s,
                                                      dirs_exist_ok=True), *TWO_PARTS)
    gradescope("gs-malformed", lambda s: (s / "notes.txt").write_text("my answers\n"))
    # PrairieLearn: deeplinear.zip of the release folder, of deeplinear/, of its contents.
    prairielearn("pl-solved", lambda s: zip_folder(students / "solved", s / "deeplinear.zip",
                                                   top="student"))
    prairielearn("pl-untouched", lambda s: zip_folder(students / "untouched" / "deeplinear",
                                                      s / "deeplinear.zip", top="deeplinear"),
                 *TWO_PARTS)
    prairielearn("pl-broken", lambda s: zip_folder(students / "broken" / "deeplinear",
                                                   s / "deeplinear.zip"), *TWO_PARTS)

    def outside(student):
        with zipfile.ZipFile(student / "deeplinear.zip", "w") as zf:
            zf.writestr("../deeplinear/__init__.py", "")

    prairielearn("pl-malformed", outside)
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = {name: pool.submit(run_entry, entry, root, numpy_only, *options)
                for name, (entry, root, options) in cases.items()}
        return {name: future.result() for name, future in done.items()}


def test_a_private_folder_without_the_reference_is_refused(tmp_path, capsys):
    (tmp_path / "private").mkdir()
    assert main(["gradescope", str(tmp_path / "a.zip"), "--private",
                 str(tmp_path / "private")]) == 2
    assert "--private" in capsys.readouterr().err
    assert not (tmp_path / "a.zip").exists()


# --- Gradescope ------------------------------------------------------------------------------

def test_gradescope_zip_holds_the_judge_alone_pytest_and_the_hidden_material(bundles):
    gs_zip, _ = bundles
    with zipfile.ZipFile(gs_zip) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        stub = zf.read("lib/deeplinear/__init__.py").decode()
        requirements = zf.read("requirements.txt").decode().split("\n")
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert "lib/deeplinear/assignment/judge/autograder.py" in modes
    assert any(n.startswith("lib/deeplinear/assignment/judge/public/test_") for n in modes)
    assert "private/gradereference.py" in modes
    assert any(n.startswith("private/test_") for n in modes)
    for package in ("pytest", "_pytest", "pluggy", "iniconfig", "packaging"):
        assert f"lib/{package}/__init__.py" in modes, package
    # the judge alone: no library module, no cache, and stubs that import nothing
    assert not [n for n in modes if n.startswith("lib/deeplinear/") and "/assignment/" not in n
                and n != "lib/deeplinear/__init__.py"]
    assert not [n for n in modes if "__pycache__" in n or n.endswith(".pyc")]
    assert "import" not in stub.replace("imported", "")
    assert requirements[0].startswith("numpy>=")
    # the same sources give the same bytes
    again = gs_zip.with_name("again.zip")
    assert main(["gradescope", str(again)]) == 0
    assert again.read_bytes() == gs_zip.read_bytes()


@pytest.mark.slow
def test_gradescope_solution_gets_full_marks_from_the_release_folder(graded):
    proc, doc = graded["gs-solved"]
    assert (doc["score"], doc.get("max_score")) == (100, 100), log(proc, doc)
    visibility = {t["visibility"] for t in doc["tests"]}
    assert visibility == {"visible", "after_published"}
    assert doc["visibility"] == "visible" and "hidden tests:" in doc["output"]
    assert "isolation of student code: namespaces" in proc.stdout  # the strongest mode here


@pytest.mark.slow
def test_gradescope_untouched_release_in_a_top_folder_scores_zero(graded):
    proc, doc = graded["gs-untouched"]
    assert (doc["score"], doc.get("max_score")) == (0, 25), log(proc, doc)
    assert all("NotImplementedError" in t["output"] for t in doc["tests"])


@pytest.mark.slow
def test_gradescope_bare_package_with_one_broken_part_loses_exactly_its_points(graded):
    proc, doc = graded["gs-broken"]
    assert doc["tests"], log(proc, doc)
    by_part = {}
    for t in doc["tests"]:
        part = t["name"].split(":")[0]
        earned, possible = by_part.get(part, (0, 0))
        by_part[part] = (earned + t["score"], possible + t["max_score"])
    assert set(by_part) == {BROKEN, OTHER}
    assert by_part[BROKEN][0] == 0 and by_part[OTHER][0] == by_part[OTHER][1] > 0
    assert doc["score"] == doc["max_score"] - by_part[BROKEN][1], doc["output"]


@pytest.mark.slow
def test_gradescope_malformed_upload_scores_zero_and_says_why(graded):
    proc, doc = graded["gs-malformed"]
    assert proc.returncode == 0
    assert doc["score"] == 0 and doc["tests"] == []
    assert "no deeplinear package found" in doc["output"] and "notes.txt" in doc["output"]


# --- PrairieLearn ----------------------------------------------------------------------------

def test_prairielearn_question_is_complete(bundles):
    _, question = bundles
    info = json.loads((question / "info.json").read_text())
    assert info["type"] == "v3" and info["gradingMethod"] == "External" and info["uuid"]
    options = info["externalGradingOptions"]
    assert options["enabled"] and options["image"] and 0 < options["timeout"] <= 600
    assert options["entrypoint"].startswith("/grade/serverFilesCourse/")
    entry = question / options["entrypoint"][len("/grade/"):]
    assert entry.is_file() and os.access(entry, os.X_OK)
    assert (question / "tests" / "gradereference.py").is_file()
    assert '<pl-file-upload file-names="deeplinear.zip">' in (question / "question.html").read_text()
    assert main(["prairielearn", str(question)]) == 2  # not empty: refused


@pytest.mark.slow
def test_prairielearn_solution_zip_of_the_release_folder_scores_one(graded):
    proc, doc = graded["pl-solved"]
    assert doc["gradable"] is True and doc["score"] == 1.0, log(proc, doc)
    assert doc["message"] == "100 / 100 points"
    hidden = [t for t in doc["tests"] if t["name"].endswith(": hidden tests")]
    assert {t["name"].split(":")[0] for t in hidden} == set(PARTS)
    for t in doc["tests"]:
        assert set(t) == {"name", "points", "max_points", "output"}
        assert t["points"] == t["max_points"] > 0


@pytest.mark.slow
def test_prairielearn_untouched_zip_of_the_package_folder_scores_zero(graded):
    proc, doc = graded["pl-untouched"]
    assert doc["gradable"] is True and doc["score"] == 0.0, log(proc, doc)
    assert doc["message"] == "0 / 25 points"


@pytest.mark.slow
def test_prairielearn_zip_of_the_package_contents_with_one_broken_part(graded):
    proc, doc = graded["pl-broken"]
    assert doc["tests"], log(proc, doc)
    points = {}
    for t in doc["tests"]:
        part = t["name"].split(":")[0]
        points[part] = [a + b for a, b in zip(points.get(part, [0, 0]),
                                              (t["points"], t["max_points"]))]
    assert set(points) == {BROKEN, OTHER}
    assert points[BROKEN][0] == 0 and points[OTHER][0] == points[OTHER][1] > 0
    assert doc["score"] == pytest.approx(points[OTHER][1] / (points[OTHER][1]
                                                             + points[BROKEN][1]))
    hidden = next(t for t in doc["tests"] if t["name"] == f"{BROKEN}: hidden tests")
    assert hidden["output"].startswith("0 of ")  # points only: no hidden message


@pytest.mark.slow
def test_prairielearn_malformed_zip_is_not_gradable_and_says_why(graded):
    proc, doc = graded["pl-malformed"]
    assert proc.returncode == 0
    assert doc["gradable"] is False and doc["score"] == 0
    assert "points outside the archive" in doc["message"]


# --- finding the package in an upload ------------------------------------------------------

def _package(folder):
    (folder / "deeplinear" / "optim").mkdir(parents=True)
    (folder / "deeplinear" / "__init__.py").write_text("")
    (folder / "deeplinear" / "optim" / "__init__.py").write_text("")
    return folder


@pytest.mark.parametrize("layout", ["release", "top-folder", "bare", "zip-release",
                                    "zip-bare", "macos-zip"])
def test_the_package_is_found_in_every_layout(tmp_path, layout):
    upload, scratch = tmp_path / "upload", tmp_path / "scratch"
    scratch.mkdir()
    source = _package(tmp_path / "release")
    if layout == "release":
        shutil.copytree(source, upload)
    elif layout == "top-folder":
        shutil.copytree(source, upload / "my release")
    elif layout == "bare":
        shutil.copytree(source / "deeplinear", upload)
    else:
        upload.mkdir()
        folder = source / "deeplinear" if layout == "zip-bare" else source
        zip_folder(folder, upload / "deeplinear.zip", top="release" if layout != "zip-bare"
                   else None)
        if layout == "macos-zip":
            with zipfile.ZipFile(upload / "deeplinear.zip", "a") as zf:
                zf.writestr("__MACOSX/release/._deeplinear", "")
    found = find_student_dir(upload, scratch)
    assert (found / "deeplinear" / "optim" / "__init__.py").is_file()


@pytest.mark.parametrize("kind", ["symlink", "zip-symlink", "zip-absolute", "empty",
                                  "two-folders"])
def test_a_malformed_upload_is_refused_with_what_it_holds(tmp_path, kind):
    upload, scratch = tmp_path / "upload", tmp_path / "scratch"
    scratch.mkdir()
    _package(upload)
    expected = {"symlink": "is a symlink", "zip-symlink": "is a symlink",
                "zip-absolute": "points outside the archive", "empty": "holds nothing",
                "two-folders": "holds a/, b/"}[kind]
    if kind == "symlink":
        (upload / "deeplinear" / "secret.py").symlink_to("/etc/passwd")
    elif kind == "empty":
        shutil.rmtree(upload / "deeplinear")
    elif kind == "two-folders":
        shutil.rmtree(upload / "deeplinear")
        (upload / "a").mkdir()
        (upload / "b").mkdir()
    else:
        shutil.rmtree(upload / "deeplinear")
        with zipfile.ZipFile(upload / "deeplinear.zip", "w") as zf:
            if kind == "zip-symlink":
                info = zipfile.ZipInfo("deeplinear/__init__.py")
                info.external_attr = (0o120777 << 16)
                zf.writestr(info, "/etc/passwd")
            else:
                zf.writestr("/deeplinear/__init__.py", "")
    with pytest.raises(SubmissionError, match=expected):
        find_student_dir(upload, scratch)


def test_the_summary_a_student_sees_leaves_hidden_tests_out():
    def test(name, points, passed, hidden, output=""):
        return {"name": name, "nodeid": name, "points": points, "passed": passed,
                "output": output, "cut_short": False, "hidden": hidden}

    part = PartResult("sgd", "SGD", earned=1, possible=4, tests=[
        test("public", 1, True, False),
        test("secret", 3, False, True, "the hidden input had shape (7, 3)")])
    result = GradeResult("student", [part], hidden=True, isolation="namespaces")
    view = result.public()
    assert (view.parts[0].earned, view.parts[0].possible) == (1, 1)
    assert (part.earned, part.possible) == (1, 4)  # the result itself is left alone
    assert "(7, 3)" not in view.table() and "(7, 3)" in result.table()
