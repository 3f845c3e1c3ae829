"""The library without its numba kernels, as in a student release.

A release leaves ``deeplinear/_kernels/`` out. Everything else (train, the
grid, the command line) must then import and run on the NumPy functions,
without ever importing numba. The package is copied without ``_kernels/``
(and without the instructor tools in ``assignment/``) to a temporary folder,
which goes first on ``sys.path`` of a fresh interpreter; the repository is
installed in editable mode, so each check also verifies which copy was
imported.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from assignmentlib import prelude

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.nojit  # no kernel runs here, with or without the JIT


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A copy of the package without ``_kernels/`` and ``assignment/``."""
    tmp = tmp_path_factory.mktemp("release")
    shutil.copytree(ROOT / "deeplinear", tmp / "deeplinear",
                    ignore=shutil.ignore_patterns("_kernels", "assignment", "__pycache__"))
    assert not (tmp / "deeplinear" / "_kernels").exists()
    return tmp


def _run(release, code, timeout=240):
    """Run ``code`` in a fresh interpreter with the copy first on sys.path; return its JSON."""
    # The subprocess drops the editable install's finder (see assignmentlib.prelude)
    # and checks where every deeplinear module it imported came from.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run([sys.executable, "-c", prelude(release) + textwrap.dedent(code)],
                          cwd=release, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


CHECK_MODULES = """\
    foreign = sorted(name for name, m in sys.modules.items()
                     if name.split(".")[0] == "deeplinear"
                     and not (getattr(m, "__file__", None) or {release!r}).startswith({release!r}))
    """


def test_import_and_train_run_on_numpy_without_numba(release):
    out = _run(release, """\
        import numpy as np
        after_import = "numba" in sys.modules
        from deeplinear import train, init, _compiled
        rng = np.random.default_rng(0)
        X, Y = rng.standard_normal((50, 4)), rng.standard_normal((50, 2))
        factors = init.balanced([4, 3, 2], scale=0.5, rng=0)
        runs = {}
        for name, kw in [("sgd", dict(optimizer="sgd", lr=0.05)),
                         ("adam-l4", dict(optimizer="adam", lr=0.01, loss="l4")),
                         ("adagrad", dict(optimizer="adagrad", lr=0.05, weight_decay=0.01)),
                         ("adadelta", dict(optimizer="adadelta", lr=1.0)),
                         ("e2e", dict(optimizer="e2e", lr=0.05)),
                         ("track", dict(lr=0.05, track=True))]:
            h = train(factors, X, Y, steps=20, **kw)
            runs[name] = [h.info["compiled"], bool(h.diverged), float(h.loss[0]),
                          float(h.loss[-1]), len(h.loss)]
        try:
            train(factors, X, Y, lr=0.05, steps=20, compiled=True)
            error = None
        except ValueError as exc:
            error = str(exc)
        """ + CHECK_MODULES.format(release=str(release)) + """\
        print(json.dumps(dict(after_import=after_import, after_train="numba" in sys.modules,
                              available=_compiled.available(), runs=runs, error=error,
                              foreign=foreign)))
        """)
    assert out["after_import"] is False, "import deeplinear imported numba"
    assert out["after_train"] is False, "train imported numba without the kernels"
    assert out["available"] is False
    assert out["foreign"] == [], f"modules imported from outside the copy: {out['foreign']}"
    for name, (compiled, diverged, first, last, count) in out["runs"].items():
        assert compiled is False, f"{name}: History.info['compiled'] is not False"
        assert not diverged and count == 21 and last < first, f"{name}: did not train: {first} {last}"
    assert out["error"] is not None and "compiled" in out["error"] \
        and "no compiled kernels" in out["error"], out["error"]


def test_experiments_cli_runs_without_kernels(release, tmp_path):
    results = tmp_path / "results"
    out = _run(release, f"""\
        import runpy
        sys.argv = ["deeplinear.experiments", "--steps", "20", "--out", {str(results)!r},
                    "--quiet"]
        try:
            runpy.run_module("deeplinear.experiments", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code
        """ + CHECK_MODULES.format(release=str(release)) + """\
        print(json.dumps(dict(code=code, numba="numba" in sys.modules, foreign=foreign)))
        """)
    assert out["code"] == 0
    assert out["numba"] is False, "the experiments imported numba without the kernels"
    assert out["foreign"] == [], f"modules imported from outside the copy: {out['foreign']}"
    summary = json.loads((results / "summary.json").read_text())
    assert summary, "summary.json is empty"
    assert (results / "curves.csv").stat().st_size > 0 and (results / "curves.png").is_file()
