"""Attacks on the grader, as tests: each earns 0 for its part and changes no other score.

Every attack is code that a student could hand in: it replaces the solution
of the part it targets (all of the part's regions, or the first one) in an
otherwise solved copy of the release, and sometimes adds code at the top of
the part's module. The attacks are graded in batches, at most one per part,
each batch in one run of the real grader with the hidden tests; the parts
without an attack in a batch must keep full marks. After every batch: the
Gradescope ``results.json`` is intact and quotes no private text, no process
of the attack survived, the instructor's files are unchanged, and the judge
stayed small.

The table of these attacks (name, part, points before and after this grader)
is in the note of issue 10.
"""

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from assignmentlib import ROOT, canary, inject
from attacks_answers import ANSWER_ATTACKS

from deeplinear.assignment import PARTS, release
from deeplinear.assignment.__main__ import main
from deeplinear.assignment.judge.grade import grade

pytestmark = pytest.mark.slow

PRIVATE = str(ROOT / "instructor")
JUDGE = str(ROOT / "deeplinear" / "assignment" / "judge")
MARKER = "dl-orphan-marker"
#: Private text that must never reach results.json: a hidden test's comment
#: and a line of the solution.
SECRETS = ["The starting buffer holds garbage",
           "return self.p * np.abs(r) ** (self.p - 1) * np.sign(r) / r.size"]


@dataclass(frozen=True)
class Attack:
    name: str
    part: str
    body: object                 # code, or one code per region of the part
    module_code: str = None      # run when the part's module is imported
    first_region_only: bool = False


STUB = 'raise NotImplementedError("the stub is still in place")'

FORGE = f'''
import glob, json, os
def forge():
    doc = json.dumps({{"score": 1000.0, "max_score": 100.0, "tests": []}})
    for pattern in ("/tmp/*/*.json", "/tmp/*/*/*.json", "/tmp/*/*/*/*.json", "*.json",
                    {PRIVATE!r} + "/*.py", {JUDGE!r} + "/*.py"):
        for path in glob.glob(pattern):
            try:
                with open(path, "w") as fh:
                    fh.write(doc)
            except OSError:
                pass
'''

FIND_SOLUTION = '''
import importlib, sys, types
def solution_from(root):
    """The instructor's package at root, imported under another name."""
    package = types.ModuleType("solution")
    package.__path__ = [root + "/deeplinear"]
    sys.modules["solution"] = package
    return package
'''

FD_LOSS_PRED = '''
h, q = 1e-6, self.p
P = np.array(pred, dtype=float)
out = np.zeros_like(P)
for i in np.ndindex(P.shape):
    old = P[i]
    P[i] = old + h
    up = float(np.mean(np.abs(P - Y) ** q))
    P[i] = old - h
    down = float(np.mean(np.abs(P - Y) ** q))
    P[i] = old
    out[i] = (up - down) / (2 * h)
return out
'''

FD_LOSS_E = '''
h, q = 1e-6, self.p
W = np.array(W_e, dtype=float)
value = lambda: float(np.mean(np.abs(X @ W.T - Y) ** q))
out = np.zeros_like(W)
for i in np.ndindex(W.shape):
    old = W[i]
    W[i] = old + h
    up = value()
    W[i] = old - h
    down = value()
    W[i] = old
    out[i] = (up - down) / (2 * h)
return value(), out
'''

FD_FACTORS = '''
h = 1e-6  # the judge's own step
fs = [W.copy() for W in factors]
def L():
    P = fs[0]
    for W in fs[1:]:
        P = W @ P
    return float(np.sum(grad_e * P))
dW = []
for W in fs:
    D = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        old = W[i]
        W[i] = old + h
        up = L()
        W[i] = old - h
        down = L()
        W[i] = old
        D[i] = (up - down) / (2 * h)
    dW.append(D)
return dW
'''

#: A mark left in ``folder`` by one call, looked for by the next.
STATE = """
import os
seen = os.path.exists("{folder}/dl-canary-state")
open("{folder}/dl-canary-state", "a").close()
if not seen:
    raise RuntimeError("no state from an earlier call")
"""

ATTACKS = [
    # --- what a release leaves behind ------------------------------------------
    Attack("call the kernels and twins left in the release", "factor_gradients", '''
import importlib
for module, name in [("deeplinear._kernels.chain", "factor_gradients"),
                     ("deeplinear.linalg", "factor_gradients_reference"),
                     ("deeplinear._compiled", "Chain")]:
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        continue
    if name == "Chain":
        chain = found(dims)
        chain.end_to_end(factors)
        return chain.gradients(grad_e)
    return found(factors, grad_e)
raise RuntimeError("nothing left to call")
'''),
    Attack("call the kernels and twins left in the release", "sgd", '''
import importlib
for module, name in [("deeplinear._kernels.optim", "sgd_update"),
                     ("deeplinear.optim", "sgd_update_reference")]:
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        continue
    buf = state.get("momentum_buffer", np.empty(0)).reshape(-1)
    found(p.reshape(-1), g.reshape(-1), buf, self.t, self.lr, self.momentum, self.dampening,
          self.nesterov, self.weight_decay)
    return
raise RuntimeError("nothing left to call")
'''),
    Attack("call the kernels and twins left in the release", "loss_gradient", ['''
from deeplinear.losses import Loss
return Loss.value_and_grad_e_reference(self, np.eye(pred.shape[0]), pred, Y)[1]
''', '''
from deeplinear._kernels.loss import lp_batch_value_and_grad_e
grad_e, value = np.empty((1, *W_e.shape)), np.empty(1)
lp_batch_value_and_grad_e(W_e[None], X, Y, self.p, grad_e, value, np.ones(1, bool))
return value[0], grad_e[0]
''']),
    Attack("call the kernels and twins left in the release", "e2e_update", '''
from deeplinear import dynamics
if W_e.shape[0] == 1:
    return dynamics.e2e_update_single_output(W_e, grad_e, N, lr, weight_decay)
return dynamics.e2e_update_reference(W_e, grad_e, N, lr, weight_decay)
''', first_region_only=True),
    # --- rewriting the verdict ----------------------------------------------------
    Attack("an atexit hook rewrites every results file", "numerical_gradient",
           FORGE + "import atexit\natexit.register(forge)\n" + STUB),
    Attack("a forked child rewrites every results file", "adam",
           FORGE + "import time\nif os.fork() == 0:\n    time.sleep(1.0)\n    forge()\n"
           "    os._exit(0)\n" + STUB),
    # --- leaving early -------------------------------------------------------------
    Attack("os._exit(0) at import", "balanced_init", STUB, module_code="import os\nos._exit(0)"),
    Attack("os._exit(0) during the call", "sgd", "import os\nos._exit(0)"),
    Attack("sys.exit(0)", "loss_gradient", "import sys\nsys.exit(0)"),
    Attack("KeyboardInterrupt", "adam", "raise KeyboardInterrupt"),
    Attack("SystemExit", "e2e_update", "raise SystemExit(0)"),
    Attack("a custom BaseException", "numerical_gradient",
           "class Escape(BaseException):\n    pass\nraise Escape('caught by nobody')"),
    # --- the test machinery ----------------------------------------------------------
    Attack("monkeypatch pytest, the plugin, numpy and the test helpers", "sgd", '''
import sys
try:
    import _pytest.reports, _pytest.runner
    _pytest.reports.TestReport.passed = property(lambda self: True)
    _pytest.runner.call_and_report = lambda *a, **k: None
except ImportError:
    pass
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
for module in list(sys.modules.values()):
    for name in ("assert_close", "assert_relative_error", "run_optimizer", "part_of"):
        if hasattr(module, name):
            setattr(module, name, lambda *a, **k: None)
'''),
    Attack("pytest.skip from student code", "adam", "import pytest\npytest.skip('not today')"),
    Attack("pytest.xfail from student code", "numerical_gradient",
           "import pytest\npytest.xfail('expected')"),
    Attack("pytest.exit from student code", "balanced_init",
           "import pytest\npytest.exit('bye', returncode=0)"),
    Attack("catch the timeout, ignore SIGALRM and SIGTERM", "numerical_gradient", '''
import signal, time
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    try:
        time.sleep(0.05)
    except BaseException:
        pass
'''),
    # --- answers that are not plain arrays --------------------------------------------
    Attack("an ndarray subclass that is zero on subtraction", "factor_gradients", '''
class Liar(np.ndarray):
    def __sub__(self, other):
        return np.zeros(self.shape)
    __rsub__ = __sub__
    def __eq__(self, other):
        return np.ones(self.shape, bool)
return [np.zeros(W.shape).view(Liar) for W in factors]
'''),
    Attack("an object with __eq__, __array__ and __sub__", "e2e_update", '''
class Liar:
    shape, dtype = W_e.shape, np.dtype(float)
    def __array__(self, *args, **kwargs):
        return np.zeros(W_e.shape)
    def __eq__(self, other):
        return True
    def __sub__(self, other):
        return np.zeros(W_e.shape)
    __rsub__ = __sub__
    def __float__(self):
        return 0.0
return Liar()
'''),
    Attack("NaNs", "loss_gradient", ["return np.full(pred.shape, np.nan)",
                                     "return float('nan'), np.full(W_e.shape, np.nan)"]),
    # --- the instructor's files ---------------------------------------------------------
    Attack("read the hidden tests and the solution, print them and raise them",
           "numerical_gradient", f'''
import glob
text = ""
for path in glob.glob({PRIVATE!r} + "/*.py") + [{str(ROOT)!r} + "/deeplinear/losses.py"]:
    try:
        text += open(path).read()
    except OSError as exc:
        text += str(exc)
print(text)
raise RuntimeError(text[-3000:] + " {SECRETS[0]} {SECRETS[1]}")
'''),
    Attack("the instructor's solution through importlib.metadata", "factor_gradients",
           FIND_SOLUTION + '''
import importlib.metadata, json
url = json.loads(importlib.metadata.distribution("deeplinear").read_text("direct_url.json"))["url"]
solution_from(url[len("file://"):])
return importlib.import_module("solution.linalg").factor_gradients(factors, grad_e)
'''),
    Attack("the instructor's solution through argv, the environment and /proc", "sgd",
           FIND_SOLUTION + '''
import glob, os, re
seen = " ".join(sys.argv) + " " + " ".join(os.environ.values())
for path in glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ"):
    try:
        seen += " " + open(path, "rb").read().replace(b"\\0", b" ").decode(errors="replace")
    except OSError:
        pass
for candidate in sorted(set(re.findall(r"(/[\\w./-]+?)/(?:tests|deeplinear)\\b", seen))):
    try:
        solution_from(candidate)
        module = importlib.import_module("solution.optim")
    except Exception:
        sys.modules.pop("solution", None)
        continue
    return module.SGD.update(self, p, g, state)
raise RuntimeError("no solution found")
'''),
    Attack("the judge's expected values from the stack frames", "adam", '''
import gc, sys
frame = sys._getframe()
while frame is not None:
    for value in frame.f_locals.values():
        if isinstance(value, dict) and "expect_p" in value:
            p[...] = value["expect_p"][self.t - 1]
            return
    frame = frame.f_back
for obj in gc.get_objects():
    if isinstance(obj, dict) and "expect_p" in obj:
        p[...] = obj["expect_p"][self.t - 1]
        return
raise RuntimeError("no expected values in reach")
'''),
    Attack("the shipped test helpers and the judge's reference", "e2e_update", f'''
import os, sys
here = os.path.dirname(sys.modules["deeplinear"].__path__[0])
for folder in (here + "/instructor", here + "/tests", {PRIVATE!r}, {JUDGE!r} + "/checks",
               os.getcwd()):
    sys.path.insert(0, folder)
try:
    import gradereference
    return gradereference.theorem1(W_e, grad_e, N, lr, weight_decay)
except ImportError:
    import common
    for name in ("theorem1", "psd_power_reference"):
        if hasattr(common, name):
            return getattr(common, name)(W_e, grad_e, N, lr, weight_decay)
raise RuntimeError("no reference in the helpers")
'''),
    Attack("edit the instructor's plugin, helpers and tests on disk", "balanced_init", f'''
import glob
for path in glob.glob({JUDGE!r} + "/*.py") + glob.glob({PRIVATE!r} + "/*.py"):
    try:
        with open(path, "a") as fh:
            fh.write("\\nimport pytest\\npytest.skip(allow_module_level=True)\\n")
    except OSError:
        pass
''' + STUB),
    Attack("overwrite the inputs the judge passed in", "factor_gradients", '''
for W in factors:
    W[...] = 0.0
grad_e[...] = 0.0
return [np.zeros_like(W) for W in factors]
'''),
    Attack("central differences with the judge's h in place of a formula", "factor_gradients",
           FD_FACTORS),
    Attack("central differences with the judge's h in place of a formula", "loss_gradient",
           [FD_LOSS_PRED, FD_LOSS_E]),
    # --- resources ------------------------------------------------------------------------
    Attack("allocate 3.9 GB", "e2e_update",
           "big = np.ones(int(3.9e9 / 8))\nreturn big[:W_e.size].reshape(W_e.shape)"),
    Attack("fork 50 children that outlive the call", "sgd", f'''
import os, sys
for _ in range(50):
    if os.fork() == 0:
        os.setsid()
        os.execv(sys.executable, [sys.executable, "-c",
                                  "import time; time.sleep(600)  # {MARKER}"])
''' + STUB),
    Attack("print 512 MB", "adam", '''
import sys
chunk = "x" * (1 << 20)
for _ in range(512):
    sys.stdout.write(chunk)
sys.stdout.flush()
''' + STUB),
    Attack("an infinite loop", "balanced_init", "while True:\n    pass"),
    # --- what the worker can see (an allowlist) -----------------------------------------
    Attack("another copy of the package anywhere on the host (a filesystem walk)",
           "factor_gradients", FIND_SOLUTION + """
import os, time
deadline, found = time.monotonic() + 2.0, None
for top in ("/work", "/tmp", "/root", "/home", "/opt", "/srv", "/usr/local", "/var", "/"):
    for base, dirs, files in os.walk(top):
        if time.monotonic() > deadline or found:
            break
        if base.endswith("/deeplinear") and "network.py" in files and \\
                not base.startswith("/student"):
            try:
                text = open(base + "/network.py").read()
            except OSError:
                continue
            if "NotImplementedError" not in text.split("def factor_gradients", 1)[-1][:3000]:
                found = os.path.dirname(base)
if not found:
    raise RuntimeError("no other copy found")
solution_from(found)
return importlib.import_module("solution.network").factor_gradients(factors, grad_e)
"""),
    Attack("the judge's site-packages: editable finder, direct_url.json, installed solution",
           "adam", FIND_SOLUTION + """
import glob, json, os, re
roots = []
for pattern in ("/root/.pyenv/versions/*/lib/python3*/site-packages",
                "/usr/local/lib/python3*/*-packages", "/usr/lib/python3*/*-packages",
                "/tmp/*/venv/lib/python3*/site-packages", "/opt/*/lib/python3*/site-packages",
                "/*/lib/python3*/site-packages"):
    for site in glob.glob(pattern):
        for finder in glob.glob(site + "/__editable__*deeplinear*finder.py"):
            roots += [os.path.dirname(p) for p in re.findall(r"'(/[^']+/deeplinear)'",
                                                             open(finder).read())]
        for url in glob.glob(site + "/deeplinear*.dist-info/direct_url.json"):
            roots.append(json.load(open(url))["url"][len("file://"):])
        roots.append(site)
for root in roots:
    try:
        solution_from(root)
        module = importlib.import_module("solution.optim")
        return module.Adam.update(self, p, g, state)
    except Exception:
        sys.modules.pop("solution", None)
        continue
raise RuntimeError("no solution in reach")
"""),
    Attack("packages of the judge's environment (pytest, hypothesis) on the worker's path",
           "balanced_init", canary("balanced_init", """
import glob, sys
for pattern in ("/root/.pyenv/versions/*/lib/python3*/site-packages",
                "/usr/local/lib/python3*/*-packages", "/tmp/*/venv/lib/python3*/site-packages"):
    sys.path += glob.glob(pattern)
import _pytest, hypothesis  # noqa: F401  (reachable: then the solution runs)
""")),
    Attack("state kept in /tmp from one call to the next", "loss_gradient",
           canary("loss_gradient", STATE.format(folder="/tmp"))),
    Attack("state kept in /dev/shm from one call to the next", "e2e_update",
           canary("e2e_update", STATE.format(folder="/dev/shm"))),
]


#: Answers without the work (tests/attacks_answers.py): stubs that do none of the
#: part's work, forged numerical_gradient reports, the complex step in place of a
#: formula, the stored public answers as a lookup table.
ATTACKS += [Attack(**spec) for spec in ANSWER_ATTACKS]


def batches():
    """The attacks in batches, at most one per part, in catalogue order."""
    out = []
    for attack in ATTACKS:
        for batch in out:
            if all(a.part != attack.part for a in batch):
                batch.append(attack)
                break
        else:
            out.append([attack])
    return out


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("attacks") / "release"
    release(out)
    return out


@pytest.fixture(params=["namespaces", "user"])
def isolation(request):
    """Both confined modes. Where one is missing the test is skipped, never in CI (CI=1)."""
    from deeplinear.assignment.judge.sandbox import probe

    why = probe(request.param)
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"the attack tests need the {request.param!r} isolation: {why}")
        pytest.skip(why)
    return request.param


def _fingerprint():
    digest = hashlib.sha256()
    for folder in ("tests", "deeplinear", "instructor"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def _survivors():
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if MARKER.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _student(release_dir, tmp_path, batch):
    """A copy of the release, solved, with each attack of the batch in its part."""
    student = tmp_path / "student"
    shutil.copytree(release_dir, student)
    inject(student, batch)
    return student


@pytest.mark.parametrize("batch", batches(), ids=lambda b: f"{len(b)}-attacks-" +
                         "-".join(sorted(a.part for a in b)))
def test_attacks_earn_nothing_and_change_no_other_score(release_dir, tmp_path, batch, isolation,
                                                        capsys):
    before = _fingerprint()
    student = _student(release_dir, tmp_path, batch)
    results = tmp_path / "results.json"
    assert main(["grade", str(student), "--hidden", "--timeout", "3", "--part-timeout", "6",
                 "--isolation", isolation, "--json", str(results)]) == 0
    table = capsys.readouterr().out
    doc = json.loads(results.read_text())
    scores = {}
    for test in doc["tests"]:
        part = test["name"].split(":", 1)[0]
        got, top = scores.get(part, (0.0, 0.0))
        scores[part] = (got + test["score"], top + test["max_score"])
    attacked = {a.part: a.name for a in batch}
    for part in PARTS:
        got, top = scores[part]
        if part in attacked:
            assert got == 0, f"{attacked[part]!r} earned {got} / {top} on {part}\n{table}"
        else:
            assert got == top > 0, f"{part} lost points beside the attacks: {got} / {top}\n{table}"
    assert doc["score"] == sum(t["score"] for t in doc["tests"]) <= doc["max_score"] == 100
    text = json.dumps(doc) + table
    for secret in SECRETS:
        assert secret not in text, f"private text reached the results: {secret!r}"
    assert not _survivors(), "processes of the attack outlived the grading"
    assert _fingerprint() == before, "the instructor's files changed"


#: Memory is limited per call, not per process: three processes of 600 MB each
#: (each under the 1024 MB address-space limit of a process) are 1.8 GB in one
#: call. Its own test: filling 1.8 GB takes about 4 s here, over the batches' 3 s.
MEMORY = Attack("three processes of 600 MB each in one call", "sgd", canary("sgd", """
import os, time
readers = []
for _ in range(3):
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        try:
            block = bytearray(600 << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            os.write(w, b"k")
            time.sleep(5)
        finally:
            os._exit(0)
    os.close(w)
    readers.append(r)
if any(os.read(r, 1) != b"k" for r in readers):
    raise MemoryError("a child could not hold its 600 MB")
"""))


def test_memory_is_limited_for_the_whole_call(release_dir, tmp_path, isolation):
    student = _student(release_dir, tmp_path, [MEMORY])
    result = grade(student, isolation=isolation, parts=["sgd", "adam"], timeout=15)
    parts = {p.name: p for p in result.parts}
    assert parts["sgd"].earned == 0, result.table()
    assert "could not hold" in parts["sgd"].first_failure or \
        "without answering" in parts["sgd"].first_failure, result.table()
    assert parts["adam"].earned == parts["adam"].possible > 0, result.table()
    assert "per call (cgroup" in result.limits or "RLIMIT_NPROC" in result.limits
