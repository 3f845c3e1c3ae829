"""Start-up (issue 12): what ``import deeplinear`` pulls in, the flat kernel
arguments (one compiled specialisation for every depth), and the one-line
message before numba compiles the kernels."""

import os
import subprocess
import sys

import numpy as np
import pytest

from deeplinear import _compiled, train
from deeplinear.losses import lp
from deeplinear._kernels import train as kernel_train


def _python(code, **env):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.nojit
def test_import_deeplinear_imports_no_numba_pandas_or_matplotlib():
    out = _python("import deeplinear, sys; "
                  "print([m for m in ('numba', 'pandas', 'matplotlib') if m in sys.modules])")
    assert out.stdout.strip() == "[]"


def _loop_signatures():
    return set(kernel_train.train_loop.signatures)


def test_one_specialisation_per_kind_of_loss_serves_every_depth(rng):
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    for hidden in ([], [4], [4, 5], [2, 3, 4, 5]):
        dims = [3, *hidden, 2]
        factors = [0.3 * rng.standard_normal((b, a)) for a, b in zip(dims[:-1], dims[1:])]
        for opt in ("sgd", "adam"):
            train(factors, X, Y, lr=1e-2, steps=3, optimizer=opt, loss="l2")
            train(factors, X, Y, lr=1e-3, steps=3, optimizer=opt, loss="l4", weight_decay=0.1)
    train(factors, X, Y, lr=1e-3, steps=3, loss=lp(3.0))  # any p: the same pass
    # d_0 < d_N: the transposed network, same types
    wide = [rng.standard_normal((5, 2)), rng.standard_normal((3, 5))]
    train(wide, X[:, :2].copy(), Y @ np.ones((2, 3)), lr=1e-2, steps=3, optimizer="adagrad")
    # l4 from the fourth moments (one output, many rows), at two depths
    Xn = rng.standard_normal((400, 3))
    for hidden in ([], [4, 5]):
        dims = [3, *hidden, 1]
        factors = [0.3 * rng.standard_normal((b, a)) for a, b in zip(dims[:-1], dims[1:])]
        train(factors, Xn, Xn[:, :1] ** 2, lr=1e-3, steps=3, loss="l4")
    after = _loop_signatures()
    assert len(after) == 3, after  # l2 moments, the lp pass, l4 moments: nothing per depth
    # the specialisations differ in the type of Data (argument 3) alone
    assert len({sig[:3] + sig[4:] for sig in after}) == 1
    assert len({sig[3] for sig in after}) == len(after)


def test_needs_compiling_reads_the_cache_index(tmp_path):
    # An empty cache folder: nothing compiled for this numba version and source.
    code = ("from deeplinear import _compiled; from deeplinear._kernels import train; "
            "print(_compiled.needs_compiling(train.train_loop))")
    assert _python(code, NUMBA_CACHE_DIR=str(tmp_path)).stdout.strip() == "True"
    # After an l2 run, that cache holds the l2 loop, and not the lp one.
    probe = ("import numpy as np, deeplinear as dl, sys; from deeplinear import _compiled; "
             "from deeplinear._kernels import train; sys.stderr = sys.stdout; "
             "seen = []; _compiled.needs_compiling = lambda d, a=None, f=_compiled."
             "needs_compiling: seen.append(f(d, a)) or seen[-1]; "
             "dl.train([np.zeros((1, 2))], np.ones((3, 2)), np.ones((3, 1)), lr=0.1, steps=1, "
             "loss={!r}); print('needs', seen)")
    env = dict(NUMBA_CACHE_DIR=str(tmp_path))
    assert "needs [True]" in _python(probe.format("l2"), **env).stdout
    assert "needs [False]" in _python(probe.format("l2"), **env).stdout
    assert "needs [True]" in _python(probe.format("l4"), **env).stdout
    assert "needs [False]" in _python(probe.format("l4"), **env).stdout
    # In this process the loop has run (or been loaded): no compiling ahead.
    train([np.zeros((1, 2))], np.ones((3, 2)), np.ones((3, 1)), lr=0.1, steps=1)
    assert not _compiled.needs_compiling(kernel_train.train_loop)


def test_the_message_is_printed_once_and_only_when_compiling(monkeypatch, capsys):
    monkeypatch.setattr(_compiled, "_CHECKED", set())
    monkeypatch.setattr(_compiled, "_ANNOUNCED", [False])
    monkeypatch.setattr(_compiled, "needs_compiling", lambda d, a=None: False)
    _compiled.announce_compiling(kernel_train.train_loop)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_compiled, "_CHECKED", set())
    monkeypatch.setattr(_compiled, "needs_compiling", lambda d, a=None: True)
    for _ in range(3):
        _compiled.announce_compiling(kernel_train.train_loop)
        _compiled.announce_compiling(kernel_train.objective_value_and_grads)
    err = capsys.readouterr().err
    assert err == _compiled.COMPILE_MESSAGE + "\n"
    assert "compiling" in err and "once" in err and "about" in err


@pytest.mark.slow
def test_first_run_says_it_compiles_and_the_second_does_not(tmp_path):
    env = dict(NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    code = ("from deeplinear.experiments.__main__ import main; "
            f"main(['--steps', '3', '--seeds', '0', '--quiet', '--out', {str(tmp_path / 'o')!r}])")
    first = _python(code, **env)
    assert first.stderr.count("deeplinear: compiling the numba kernels") == 1, first.stderr
    second = _python(code, **env)
    assert "compiling" not in second.stderr, second.stderr
