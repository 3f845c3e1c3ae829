"""A student release computes a graded quantity only through the student's functions.

Issue 19, item A1: the shipped code of a release (the package without
``_kernels/`` and ``assignment/``, and the tutorials) must hold no second
copy, a *twin*, of a graded rule, or a student could take the answer from it
instead of writing it. Four checks, on a release built from this checkout:

1. ``deeplinear.curvature`` in the release: every public function that
   involves a graded quantity raises the stub's ``NotImplementedError``, also
   when called the way an attacker would (an ``Objective`` with its own
   gradient, ``loss_hvp`` swapped out and V = 0; ``loss_hvp`` with X = I and
   V = r / (p - 1); the preconditioner of balanced factors built from an
   SVD). The others run. A new public function must be sorted into one of
   the two lists here.
2. Each tutorial, run in the release in quick mode, stops at a stub: its
   last error is the stub's ``NotImplementedError`` or quotes it (a grid
   records a run's error and goes on; tutorials 7 and 10 then stop with the
   first one). All ten use a graded rule (``WITHOUT_GRADED_RULE`` would list
   those that do not).
3. No ``.py`` file of the release holds a 40-character window (whitespace
   normalised) of a solution body of the instructor's source, unless the
   window is also public text of that source (docstrings, hints, markers).
   This catches copies, not rewrites: the tutorial 1 loop
   ``suffix.T @ G @ prefix.T`` shares no such window with
   ``factor_gradients``' ``multi_dot``.
4. So, for rewrites, a spy: each tutorial runs on the instructor's package
   with the graded functions (``factor_gradients``, ``Loss.grad_pred``,
   ``Loss.value_and_grad_e``, ``numerical_gradient``, ``e2e_update``,
   ``e2e_update_single_output``) wrapped to return their result times
   ``1 + 1e-8`` and to remember the true result (calls made inside another
   graded call are left alone). A global of the tutorial that equals a true
   result to 1e-12 of its largest entry, and none of that call's inputs, was
   computed without the function: the pattern of a by-hand derivation
   checked against the library (tutorial 1's factor-gradient loop, tutorial
   2's Claim 1 formula, before issue 19).
   A twin that is never compared with the library, or whose result lives
   only inside a function, escapes this check; balanced init and the
   in-place optimizer steps are not wrapped.

The release and tutorial runs take about a minute on 2 cores (two
subprocesses at a time).
"""

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from assignmentlib import prelude, run_in_copy
from helpers import REAL_DATA

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted(p.stem for p in (ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
#: Tutorials that use no graded rule and so run to the end in a release.
WITHOUT_GRADED_RULE = set()
WINDOW = 40
STUB = re.compile(r"NotImplementedError: ([a-z0-9_]+): implement")
TIMEOUT = 300


# --------------------------------------------------------------------------------------
# Solution bodies and their windows

_BEGIN = re.compile(r"^\s*# BEGIN SOLUTION\b")
_HINT = re.compile(r"^\s*#   ")
_END = re.compile(r"^\s*# END SOLUTION\s*$")


def split_solution(text):
    """``(bodies, public)`` of one source file.

    A body is the code between a ``# BEGIN SOLUTION`` line (with its ``#   ``
    hint continuation lines) and its ``# END SOLUTION``; ``public`` is the
    file without the bodies (docstrings, markers, hints: what a release shows).
    """
    bodies, public, body, in_hint = [], [], None, False
    for line in text.splitlines():
        if body is None:
            public.append(line)
            if _BEGIN.match(line):
                body, in_hint = [], True
        elif in_hint and _HINT.match(line):
            public.append(line)
        elif _END.match(line):
            bodies.append("\n".join(body))
            body = None
        else:
            body.append(line)
            in_hint = False
    assert body is None, "a BEGIN SOLUTION without END SOLUTION"
    return bodies, "\n".join(public)


def windows(text, size=WINDOW):
    """Every ``size``-character substring of ``text`` with its whitespace runs made one space."""
    flat = " ".join(text.split())
    return {flat[i:i + size] for i in range(len(flat) - size + 1)}


def secret_windows(root):
    """Windows of the solution bodies under ``root/deeplinear`` that no public text shows,
    and the number of solution regions."""
    secret, public, regions = set(), set(), 0
    for path in sorted((root / "deeplinear").rglob("*.py")):
        if "assignment" in path.relative_to(root).parts:
            continue
        bodies, shown = split_solution(path.read_text())
        if bodies:
            regions += len(bodies)
            secret |= set().union(*(windows(b) for b in bodies))
            public |= windows(shown)
    return secret - public, regions


def leaks(text, secret):
    """The windows of ``text`` that are windows of a solution body, sorted."""
    return sorted(windows(text) & secret)


def test_the_window_check_finds_a_copied_solution_and_nothing_public():
    secret, regions = secret_windows(ROOT)
    assert regions >= 9 and len(secret) > 1000
    network = (ROOT / "deeplinear" / "network.py").read_text()
    (body,), public = split_solution(network)
    copied = "def my_gradients(factors, grad_e):\n" + "\n".join(
        "        " + line.strip() for line in body.splitlines())
    assert len(leaks(copied, secret)) > 100
    assert leaks(public, secret) == []
    assert leaks("# dL/dW_j = (W_N ... W_{j+1})^T grad_e (W_{j-1} ... W_1)^T", secret) == []


# --------------------------------------------------------------------------------------
# The release, and every subprocess run on it


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    from deeplinear.assignment import release

    out = tmp_path_factory.mktemp("release") / "student"
    release(out)
    return out


def _env(figures):
    if not (REAL_DATA / "abalone" / "abalone.data").is_file():
        pytest.fail(f"real data not found at {REAL_DATA}: set DEEPLINEAR_DATA_DIR")
    return {**os.environ, "DEEPLINEAR_QUICK": "1", "MPLBACKEND": "Agg",
            "DEEPLINEAR_FIGURES_DIR": str(figures), "DEEPLINEAR_DATA_DIR": str(REAL_DATA),
            "DEEPLINEAR_QUIET_COMPILE": "1"}


@pytest.fixture(scope="module")
def tutorial_runs(release_dir, tmp_path_factory):
    """Each tutorial twice, two subprocesses at a time: in the release, and on the
    instructor's package under the spy (both the release's copy of the script)."""
    work = tmp_path_factory.mktemp("runs")
    env = _env(work / "figures")

    def in_release(name):
        return run_in_copy(release_dir, [str(release_dir / "tutorials" / f"{name}.py")],
                           cwd=work, env=env, timeout=TIMEOUT)

    def spied(name):
        return subprocess.run([sys.executable, "-c", SPY, str(release_dir / "tutorials" /
                                                               f"{name}.py")],
                              cwd=work, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)

    jobs = [(kind, name) for name in TUTORIALS for kind in ("release", "spy")]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda job: (in_release if job[0] == "release" else spied)(job[1]),
                             jobs))
    return dict(zip(jobs, done))


def _stub_parts(release_dir):
    """The parts of every stub in the release's package, one entry per stub."""
    found = []
    for path in sorted((release_dir / "deeplinear").rglob("*.py")):
        found += re.findall(r"raise NotImplementedError\(\s*['\"]([a-z0-9_]+): implement",
                            path.read_text())
    return found


# --------------------------------------------------------------------------------------
# 1. curvature in a release

CURVATURE = r"""
import numpy as np
import deeplinear as dl
from deeplinear import curvature as cv

rng = np.random.default_rng(0)
X, Y = rng.standard_normal((12, 4)), rng.standard_normal((12, 2))
factors = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
W_e = factors[1] @ factors[0]
objective = dl.Objective(X, Y, "l4", weight_decay=0.1)
V = [rng.standard_normal(W.shape) for W in factors]
G = rng.standard_normal(W_e.shape)       # an attacker's dL/dW_e, not the student's
p = 4.0


class OwnGradient(dl.Objective):
    def value_and_grad_e(self, W_e):
        return 0.0, G


def factor_hvp_as_factor_gradients():
    # V = 0, G from the objective, loss_hvp swapped: the old products were S^T G P^T
    swapped, cv.loss_hvp = cv.loss_hvp, lambda *args, **kwargs: np.zeros_like(G)
    try:
        return cv.factor_hvp(OwnGradient(X, Y), factors, [np.zeros_like(W) for W in factors])
    finally:
        cv.loss_hvp = swapped


def loss_hvp_as_grad_pred():
    # X = I, V = r / (p - 1): p (p - 1) |r|^(p-2) V / (n k) = dL/dpred (transposed)
    eye, target = np.eye(4), rng.standard_normal((4, 2))
    r = W_e.T - target
    return cv.loss_hvp(W_e, (r / (p - 1)).T, eye, target, dl.losses.lp(p))


def balanced_by_svd(W, depth):
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    root = np.diag(s ** (1 / depth))
    return [root @ Vt] + [root] * (depth - 2) + [U @ root]


graded = {
    "loss_hessian": lambda: cv.loss_hessian(W_e, X, Y, "l4"),
    "loss_hessian (l2, W_e = None)": lambda: cv.loss_hessian(None, X, Y),
    "loss_hvp": lambda: cv.loss_hvp(W_e, G, X, Y, "l3"),
    "loss_hvp (l2)": lambda: cv.loss_hvp(W_e, G, X, Y),
    "loss_hvp (X = I, V = r / (p - 1))": loss_hvp_as_grad_pred,
    "loss_sharpness": lambda: cv.loss_sharpness(None, X, Y),
    "factor_hvp": lambda: cv.factor_hvp(objective, factors, V),
    "factor_hvp (eps)": lambda: cv.factor_hvp(objective, factors, V, eps=1e-4),
    "factor_hvp (own G, V = 0, loss_hvp swapped)": factor_hvp_as_factor_gradients,
    "factor_hessian": lambda: cv.factor_hessian(objective, factors),
    "end_to_end_preconditioner": lambda: cv.end_to_end_preconditioner(factors),
    "end_to_end_preconditioner (balanced by an SVD)":
        lambda: cv.end_to_end_preconditioner(balanced_by_svd(W_e[:1], 3)),
    "gauss_newton_sharpness": lambda: cv.gauss_newton_sharpness(objective, factors),
    "sharpness": lambda: cv.sharpness(objective, factors, rng=0, iters=3),
    "sharpness (eps)": lambda: cv.sharpness(objective, factors, rng=0, iters=3, eps=1e-4),
    "sharpness_e": lambda: cv.sharpness_e(W_e, X, Y, "l4", rng=0, iters=3),
}
not_graded = {
    "flatten": lambda: cv.flatten(factors),
    "unflatten": lambda: cv.unflatten(cv.flatten(factors), factors),
    "Eigenpair": lambda: cv.Eigenpair(1.0, np.ones(2)),
    "power_iteration": lambda: cv.power_iteration(lambda v: 2 * v, np.ones(3), iters=3),
    "effective_lr": lambda: cv.effective_lr(0.1, W_e[:1], 3),
    "balanced_sharpness": lambda: cv.balanced_sharpness(W_e[:1], 3, 2.0),
}
results = {"all": sorted(cv.__all__), "graded": {}, "not_graded": {}}
for kind, calls in (("graded", graded), ("not_graded", not_graded)):
    for name, call in calls.items():
        try:
            call()
            results[kind][name] = None
        except BaseException as exc:
            results[kind][name] = f"{type(exc).__name__}: {exc}"
print("RESULT " + json.dumps(results))
"""


def test_curvature_in_a_release_stops_at_a_stub_wherever_a_graded_quantity_is_involved(
        release_dir, tmp_path):
    parts = set(_stub_parts(release_dir))
    run = subprocess.run([sys.executable, "-c", prelude(release_dir) + CURVATURE], cwd=tmp_path,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.split("RESULT ", 1)[1])
    names = {name.split(" (")[0] for kind in ("graded", "not_graded") for name in results[kind]}
    assert names == set(results["all"]), "sort every public function of curvature into a list"
    for name, error in results["graded"].items():
        assert error is not None, f"{name}: returned a value in a release, without student code"
        stub = STUB.match(error)
        assert stub and stub.group(1) in parts, f"{name}: {error}"
    for name, error in results["not_graded"].items():
        assert error is None, f"{name}: {error}"


# --------------------------------------------------------------------------------------
# 2. tutorials in a release


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_in_a_release_stops_at_a_stub(release_dir, tutorial_runs, name):
    run = tutorial_runs["release", name]
    if name in WITHOUT_GRADED_RULE:
        assert run.returncode == 0, run.stderr[-3000:]
        return
    assert run.returncode != 0, f"{name} ran to the end in a release: it uses no graded rule?"
    last = run.stderr.strip().splitlines()[-1]       # the exception, or one that quotes it
    stub = STUB.search(last)
    assert stub and stub.group(1) in set(_stub_parts(release_dir)), run.stderr[-3000:]


# --------------------------------------------------------------------------------------
# 3. no window of a solution body in a shipped file


def test_no_shipped_file_holds_a_window_of_a_solution_body(release_dir):
    secret, regions = secret_windows(ROOT)
    assert len(_stub_parts(release_dir)) == regions, "the release stubs other regions"
    shipped = sorted(release_dir.rglob("*.py"))
    assert any(p.parent.name == "tutorials" for p in shipped)
    found = {str(p.relative_to(release_dir)): leaks(p.read_text(), secret) for p in shipped}
    found = {path: hits[:3] for path, hits in found.items() if hits}
    assert not found, found


# --------------------------------------------------------------------------------------
# 4. no tutorial recomputes what it asks a graded function for

SPY = r'''
import json, runpy, sys
import numpy as np
import deeplinear
from deeplinear import dynamics, gradcheck, losses, network

tutorial = sys.argv[1]
NUDGE, RTOL, MOST = 1e-8, 1e-12, 100_000
truths = {}              # shape -> [(function, true result, same-shape inputs)]
count, depth = [0], [0]


def arrays(x):
    if isinstance(x, np.ndarray):
        return [x] if x.dtype.kind == "f" and x.size else []
    if isinstance(x, (list, tuple)):
        return [a for item in x for a in arrays(item)]
    return []


def nudged(x):
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x * (1 + NUDGE)
    if isinstance(x, (list, tuple)):
        return type(x)(nudged(a) for a in x)
    return x                                         # a loss value stays as it is


def spy(name, function):
    def wrapper(*args, **kwargs):
        if depth[0]:                                 # inside another graded call: untouched
            return function(*args, **kwargs)
        depth[0] += 1
        try:
            out = function(*args, **kwargs)
        finally:
            depth[0] -= 1
        inputs = arrays(args) + arrays(list(kwargs.values()))
        for a in arrays(out):
            if np.any(a) and count[0] < MOST:
                count[0] += 1
                truths.setdefault(a.shape, []).append(
                    (name, a.copy(), [b for b in inputs if b.shape == a.shape]))
        return nudged(out)
    return wrapper


for module, attr in [(network, "factor_gradients"), (gradcheck, "numerical_gradient"),
                     (dynamics, "e2e_update"), (dynamics, "e2e_update_single_output")]:
    original = getattr(module, attr)
    wrapped = spy(attr, original)
    for loaded in list(sys.modules.values()):        # every name already bound to it
        if getattr(loaded, "__name__", "").startswith("deeplinear"):
            for key, value in list(vars(loaded).items()):
                if value is original:
                    setattr(loaded, key, wrapped)
for attr in ("grad_pred", "value_and_grad_e"):
    setattr(losses.Loss, attr, spy("Loss." + attr, getattr(losses.Loss, attr)))

names = runpy.run_path(tutorial, run_name="__main__")


def close(a, b, scale):
    return a.shape == b.shape and float(np.max(np.abs(a - b))) <= RTOL * scale


found = []
for key, value in names.items():
    if key.startswith("__"):
        continue
    candidates = arrays(list(value.values()) if isinstance(value, dict) else value)
    for c in candidates:
        for function, truth, inputs in truths.get(c.shape, []):
            scale = float(np.max(np.abs(truth)))
            if close(c, truth, scale) and not any(close(c, b, scale) for b in inputs):
                found.append([key, function])
                break
print("SPY " + json.dumps({"truths": count[0], "found": sorted(set(map(tuple, found)))}))
'''


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_never_recomputes_a_graded_result_it_asks_the_library_for(tutorial_runs,
                                                                           name):
    run = tutorial_runs["spy", name]
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.rsplit("SPY ", 1)[1])
    assert report["found"] == [], (
        f"{name}: these globals equal a graded function's true result, computed without it "
        f"(global, function): {report['found']}")


FAKE_TUTORIAL = """
import numpy as np
import deeplinear as dl

rng = np.random.default_rng(0)
factors = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
G = rng.standard_normal((2, 4))
library = dl.factor_gradients(factors, G)
copies = [g.copy() for g in library]
by_hand = [factors[1].T @ G, G @ factors[0].T]
"""


def test_the_spy_finds_a_by_hand_twin_and_nothing_derived_from_the_library(tmp_path):
    script = tmp_path / "fake_tutorial.py"
    script.write_text(FAKE_TUTORIAL)
    run = subprocess.run([sys.executable, "-c", SPY, str(script)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.rsplit("SPY ", 1)[1])
    assert report == {"truths": 2, "found": [["by_hand", "factor_gradients"]]}
