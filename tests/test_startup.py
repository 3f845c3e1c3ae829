"""Start-up (issue 12): what ``import deeplinear`` pulls in, the flat kernel
arguments (one compiled specialisation for every depth), and the one-line
message before numba compiles the kernels."""

import os
import subprocess
import sys

import numpy as np
import pytest

from deeplinear import _compile_notice, train, train_objective
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
    # matrix completion (its observed entries), at two depths, wide and tall
    from deeplinear.completion import CompletionObjective

    for shape, hidden in (((3, 5), []), ((6, 2), [4, 3])):
        mask = rng.random(shape) < 0.5
        mask[0, 0] = True
        objective = CompletionObjective(rng.standard_normal(shape), mask)
        dims = [shape[1], *hidden, shape[0]]
        factors = [0.3 * rng.standard_normal((b, a)) for a, b in zip(dims[:-1], dims[1:])]
        train_objective(factors, objective, lr=1e-2, steps=3, compiled=True)
    after = _loop_signatures()
    # l2 moments, the lp pass, l4 moments, completion entries: nothing per depth
    assert len(after) == 4, after
    # the specialisations differ in the type of Data (argument 3) alone
    assert len({sig[:3] + sig[4:] for sig in after}) == 1
    assert len({sig[3] for sig in after}) == len(after)


def test_needs_compiling_reads_the_cache_index(tmp_path):
    # An empty cache folder: nothing compiled for this numba version and source.
    code = ("from deeplinear import _compile_notice; from deeplinear._kernels import train; "
            "print(_compile_notice.needs_compiling(train.train_loop))")
    assert _python(code, NUMBA_CACHE_DIR=str(tmp_path)).stdout.strip() == "True"
    # After an l2 run, that cache holds the l2 loop, and not the lp one.
    probe = ("import numpy as np, deeplinear as dl, sys; from deeplinear import _compile_notice "
             "as cn; from deeplinear._kernels import train; sys.stderr = sys.stdout; "
             "seen = []; cn.needs_compiling = lambda d, a=None, f=cn."
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
    assert not _compile_notice.needs_compiling(kernel_train.train_loop)


def test_the_notice_is_printed_once_per_compile_and_only_then(monkeypatch, capsys):
    monkeypatch.setattr(_compile_notice, "_CHECKED", set())
    monkeypatch.delenv("DEEPLINEAR_QUIET_COMPILE", raising=False)
    l2, lp_pass = (np.ones(2),), (np.ones((2, 2)),)  # arguments of two numba types
    monkeypatch.setattr(_compile_notice, "needs_compiling", lambda d, a=None: False)
    _compile_notice.announce_compiling(kernel_train.train_loop, l2, "the l2 loop")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_compile_notice, "_CHECKED", set())
    monkeypatch.setattr(_compile_notice, "needs_compiling", lambda d, a=None: True)
    for _ in range(3):
        _compile_notice.announce_compiling(kernel_train.train_loop, l2, "the l2 loop")
    # Another compile (other argument types) is announced too, once.
    for _ in range(2):
        _compile_notice.announce_compiling(kernel_train.train_loop, lp_pass, "the lp loop")
    err = capsys.readouterr().err
    assert err == (_compile_notice.compile_message("the l2 loop") + "\n"
                   + _compile_notice.compile_message("the lp loop") + "\n")
    assert err.startswith("deeplinear: compiling the l2 loop with numba: about 10-25 s, once "
                          "per kind of data")


def test_the_notice_names_the_kind_of_data_and_is_silenced(monkeypatch, capsys):
    X, Y = np.ones((3, 2)), np.ones((3, 1))
    monkeypatch.setattr(_compile_notice, "_CHECKED", set())
    monkeypatch.setattr(_compile_notice, "needs_compiling", lambda d, a=None: True)
    monkeypatch.delenv("DEEPLINEAR_QUIET_COMPILE", raising=False)
    train([np.zeros((1, 2))], X, Y, lr=0.1, steps=1, loss="l4", compiled=True)
    assert capsys.readouterr().err == _compile_notice.compile_message(
        "the training loop (every update rule and depth) for the lp pass") + "\n"
    monkeypatch.setattr(_compile_notice, "_CHECKED", set())
    monkeypatch.setenv("DEEPLINEAR_QUIET_COMPILE", "1")
    train([np.zeros((1, 2))], X, Y, lr=0.1, steps=1, compiled=True)
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_first_run_says_it_compiles_and_the_second_does_not(tmp_path):
    env = dict(NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    code = ("from deeplinear.experiments.__main__ import main; "
            "main(['--steps', '3', '--seeds', '0', '--out', {!r}])")
    first = _python(code.format(str(tmp_path / "o1")), **env)
    notices = [line for line in first.stderr.splitlines() if "deeplinear: compiling" in line]
    # One line of its own per kind of data the grid compiles, none twice.
    assert notices and len(set(notices)) == len(notices), first.stderr
    assert all(line.startswith("deeplinear: compiling the training loop") for line in notices)
    second = _python(code.format(str(tmp_path / "o2")), **env)
    assert "compiling" not in second.stderr, second.stderr
