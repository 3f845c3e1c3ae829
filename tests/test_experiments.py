"""Grid search, its summary, the presets and the command line."""

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from deeplinear.datasets import load_abalone, load_synthetic
from deeplinear.experiments import (PRESETS, Results, check_grid, grid_search, parse_hidden,
                                    run_grids, run_preset)
from deeplinear.experiments.__main__ import main


@pytest.fixture(scope="module")
def small():
    return load_synthetic(n=120, d=6, k=1, noise=0.1, seed=5)


def test_parse_hidden():
    assert parse_hidden("[]") == ()
    assert parse_hidden("[10,10]") == (10, 10)
    assert parse_hidden(" 64 , 8 ") == (64, 8)
    assert parse_hidden([3]) == (3,)
    for bad in ["[10,x]", "[0]", "[-3]", "[1.5]", "ten"]:
        with pytest.raises(ValueError, match="hidden"):
            parse_hidden(bad)


@pytest.mark.nojit
def test_grid_runs_every_combination(small):
    r = grid_search(small, hidden=["[]", "[4]", "[4,3]"], init="default", optimizer="sgd",
                    loss=["l2", "l4"], steps=15, lrs=[1e-3, 1e-2], seeds=[0, 1])
    assert len(r.runs) == 3 * 2 * 2 * 2 == len(r.curves)
    assert list(r.runs["run"]) == list(range(24))
    expected_cols = {"arch", "depth", "init", "optimizer", "loss", "lr", "seed",
                     "final_loss", "diverged", "seconds"}
    assert expected_cols <= set(r.runs.columns)
    assert sorted(r.runs["depth"].unique()) == [1, 2, 3]
    # The lrs of one (arch, seed, loss) start from the same factors: the same initial loss.
    for _, group in r.runs.groupby(["arch", "seed", "loss"]):
        starts = [r.curves[run][1][0] for run in group["run"]]
        assert starts[0] == starts[1]
    # Different seeds start elsewhere.
    a = r.runs.query("arch == '[4]' and loss == 'l2' and lr == 0.01")
    assert r.curves[a["run"].iloc[0]][1][0] != r.curves[a["run"].iloc[1]][1][0]
    frame = r.curves_frame()
    assert len(frame) == 24 * 16
    assert_array_equal(frame.query("run == 5")["value"], r.curves[5][1])


def _fake_results(curves_by_run, optimizers=None):
    """Results built by hand: rows (arch, depth, lr, seed, diverged) and a curve each;
    ``optimizers``: one per run (default all "sgd")."""
    rows, curves = [], []
    for run, (arch, depth, lr, seed, curve, diverged) in enumerate(curves_by_run):
        curve = np.asarray(curve, dtype=float)
        rows.append(dict(run=run, arch=arch, hidden=(), depth=depth, init="default",
                         optimizer=optimizers[run] if optimizers else "sgd", options="",
                         weight_decay=0.0, loss="l2", lr=lr,
                         seed=seed, final_loss=math.inf if diverged else curve[-1],
                         diverged=diverged, failed=False, error="", steps_run=len(curve) - 1,
                         seconds=0.0))
        curves.append((np.arange(len(curve)), curve))
    config = dict(dataset="fake", n=1, d_in=1, d_out=1, steps=4, lrs=[0.1, 1.0], seeds=[0, 1])
    return Results(pd.DataFrame(rows), curves, config)


def test_best_lr_target_and_acceleration_by_hand():
    r = _fake_results([
        # depth 1: lr 0.1 is better on average (final 1.0 and 1.2 -> mean 1.1)
        ("[]", 1, 0.1, 0, [4, 3, 2, 1.5, 1.0], False),
        ("[]", 1, 0.1, 1, [4, 3, 2, 1.5, 1.2], False),
        ("[]", 1, 1.0, 0, [4, 3, 2.5, 2, 1.9], False),
        ("[]", 1, 1.0, 1, [4, 3, 2.5, 2, 1.9], False),
        # depth 2: lr 1.0 has the lowest finite seed but one seed diverged -> never chosen
        ("[5]", 2, 0.1, 0, [4, 1.5, 1.1, 1.0, 0.9], False),
        ("[5]", 2, 0.1, 1, [4, 1.1, 1.1, 1.0, 0.9], False),
        ("[5]", 2, 1.0, 0, [4, 0.1, 0.1, 0.1, 0.1], False),
        ("[5]", 2, 1.0, 1, [4, 9e9], True),
    ])
    s = r.summary().set_index("arch")
    assert s.loc["[]", "best_lr"] == 0.1 and s.loc["[5]", "best_lr"] == 0.1
    assert s.loc["[]", "final_mean"] == pytest.approx(1.1)
    assert s.loc["[]", "final_std"] == pytest.approx(0.1)
    assert s.loc["[5]", "diverged"] == 1
    # target 1.1 * 1.1 = 1.21; mean depth-1 curve [4, 3, 2, 1.5, 1.1] reaches it at step 4,
    # mean depth-2 curve [4, 1.3, 1.1, 1.0, 0.9] at step 2.
    assert s.loc["[]", "target"] == pytest.approx(1.21)
    assert s.loc["[]", "steps_to_target"] == 4 and s.loc["[5]", "steps_to_target"] == 2
    (line,) = r.acceleration()
    assert "depth accelerated" in line and "ratio 2.00x" in line and "[5]" in line
    table = r.format_table()
    assert "1/4" in table and "0.1" in table


def test_all_diverged_is_said_and_never_best():
    r = _fake_results([
        ("[]", 1, 0.1, 0, [4, 1e12], True),
        ("[5]", 2, 0.1, 0, [4, np.nan], True),
    ])
    s = r.summary()
    assert s["best_lr"].isna().all() and np.isinf(s["final_mean"]).all()
    assert r.all_diverged
    assert "Every run diverged" in r.acceleration()[-1]
    assert r.format_table().count("all lrs diverged") == 2


def test_divergence_on_abalone_and_best_finite_run(shared_data):
    data = load_abalone()
    r = grid_search(data, hidden=["[10]"], init="default", steps=50, lrs=[1e-3, 10.0], seeds=[0])
    runs = r.runs.set_index("lr")
    assert bool(runs.loc[10.0, "diverged"]) and runs.loc[10.0, "final_loss"] == math.inf
    assert runs.loc[10.0, "steps_run"] < 50  # stopped early
    assert not runs.loc[1e-3, "diverged"] and np.isfinite(runs.loc[1e-3, "final_loss"])
    best = r.summary().iloc[0]
    assert best["best_lr"] == 1e-3 and best["final_mean"] == runs.loc[1e-3, "final_loss"]


def test_process_pool_gives_the_same_results(small):
    kw = dict(hidden=["[]", "[3]", "[3,3]"], loss=["l2", "l4"], steps=20,
              lrs=[1e-2, 5e-2], seeds=[0, 1])
    serial = grid_search(small, **kw)
    with ProcessPoolExecutor(max_workers=2) as pool:
        # serial_below=0: use the pool even though this grid is too small to pay for it
        parallel = grid_search(small, executor=pool, serial_below=0, **kw)
    cols = [c for c in serial.runs.columns if c != "seconds"]
    pd.testing.assert_frame_equal(serial.runs[cols], parallel.runs[cols])
    for (s1, l1), (s2, l2) in zip(serial.curves, parallel.curves):
        assert_array_equal(s1, s2)
        assert_array_equal(l1, l2)  # bit for bit: the same operations in the same order
    assert serial.format_table() == parallel.format_table()


def _assert_same_results(a, b):
    cols = [c for c in a.runs.columns if c != "seconds"]
    pd.testing.assert_frame_equal(a.runs[cols], b.runs[cols])
    assert len(a.curves) == len(b.curves)
    for (s1, l1), (s2, l2) in zip(a.curves, b.curves):
        assert_array_equal(s1, s2)
        assert_array_equal(l1, l2)


def test_run_grids_is_the_grids_one_after_the_other(small):
    grids = [dict(hidden=["[]", "[2]"], loss="l4", steps=15, lrs=[1e-2, 3e-2, 1e3], seeds=[0, 1]),
             dict(hidden=["[]"], optimizer="adadelta", loss="l4", steps=15, lrs=[0.5, 1.0],
                  seeds=[1], optimizer_options=dict(rho=0.95, eps=1e-8))]
    one_by_one = Results.concat([grid_search(small, **g) for g in grids])
    together = run_grids(small, grids)
    _assert_same_results(one_by_one, together)
    assert together.runs["diverged"].sum() == 4  # lr 1e3: one per arch and seed
    with ProcessPoolExecutor(max_workers=2) as pool:  # all the tasks at once, longest first
        pooled = run_grids(small, grids, executor=pool, serial_below=0)
    _assert_same_results(one_by_one, pooled)
    # the options reach the optimizer: the torch defaults give other numbers
    torch_defaults = grid_search(small, **{**grids[1], "optimizer_options": None})
    assert not np.array_equal(torch_defaults.curves[0][1], together.curves[-2][1])


def test_grids_that_differ_only_in_optimizer_options_stay_apart(small):
    base = dict(hidden=["[]"], optimizer="adadelta", loss="l4", steps=15, lrs=[0.5, 1.0],
                seeds=[0, 1])
    res = run_grids(small, [{**base, "optimizer_options": dict(rho=0.95, eps=1e-8)},
                            {**base, "optimizer_options": None}])
    assert list(res.runs["options"].unique()) == ["eps=1e-08, rho=0.95", ""]
    best = res.best()
    assert len(best) == 2 and list(best["options"]) == ["eps=1e-08, rho=0.95", ""]
    for options, row in zip(["eps=1e-08, rho=0.95", ""], best.itertuples()):
        mine = res.runs[(res.runs["options"] == options) & (res.runs["lr"] == row.best_lr)]
        assert sorted(row.run_ids) == sorted(mine["run"])  # never the other grid's runs
    table = res.format_table()
    assert "options" in table.splitlines()[1] and "eps=1e-08, rho=0.95" in table
    one = grid_search(small, **base)  # one setting: no options column in the table
    assert "options" not in one.format_table().splitlines()[1]


@pytest.mark.parametrize("grid, message", [
    (dict(lrs=[1e-3], colour="red"), "grid: unknown keys \\['colour'\\]"),
    (dict(lrs=[1e-3], record_every=0), "record_every: expected an integer >= 1"),
    (dict(lrs=[1e-3], optimizer_options=[("rho", 0.9)]), "optimizer_options: expected a mapping"),
    (dict(lrs=[-1.0]), "lrs: expected a value > 0"),
    (dict(lrs=[1e-3], divergence_factor=0.0), "divergence_factor: expected a value > 0"),
    (dict(lrs=[1e-3], weight_decay=math.inf), "weight_decay: expected a finite number"),
    (dict(lrs=[1e-3], weight_decay=math.nan), "weight_decay: expected a finite number"),
    (dict(lrs=[1e-3], weight_decay=-0.1), "weight_decay: expected a value >= 0"),
    (dict(lrs=[1e-3], loss="l1"), "loss: expected 'l2', 'l4', 'l<p>' with p > 1"),
    (dict(lrs=[1e-3], optimizer="adadelta", optimizer_options={"rho": 2.0}), "rho"),
    (dict(lrs=[1e-3], optimizer=["sgd", "e2e"], optimizer_options={"momentum": 0.9}),
     "optimizer_options: 'momentum' not accepted by optimizer 'e2e'"),
    (dict(lrs=[1e-3], hidden=[10]), "hidden: expected architectures.*'\\[10\\]'"),
])
def test_a_bad_grid_fails_before_any_run(small, grid, message, monkeypatch):
    from deeplinear.experiments import execution

    trained = []
    monkeypatch.setattr(execution, "run_training", lambda *a: trained.append(a))
    good = dict(lrs=[1e-3], steps=2)
    with pytest.raises(ValueError, match=message):
        run_grids(small, [good, grid])
    assert not trained, "a run started before the bad grid was refused"


class _CountingExecutor:
    """A serial ``concurrent.futures`` executor that counts its tasks."""

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor
        self.pool, self.submitted = ThreadPoolExecutor(1), 0

    def submit(self, fn, *args):
        self.submitted += 1
        return self.pool.submit(fn, *args)


def test_small_grids_skip_the_executor_and_large_ones_use_it(small):
    from deeplinear.experiments.plan import SERIAL_BELOW_SECONDS, step_cost

    kw = dict(hidden=["[]", "[3]"], steps=10, lrs=[1e-2, 5e-2], seeds=[0])
    ex = _CountingExecutor()
    small_run = grid_search(small, executor=ex, **kw)  # estimated far below 1 s: serial
    assert ex.submitted == 0
    forced = grid_search(small, executor=ex, serial_below=0, **kw)
    assert ex.submitted > 0
    assert_array_equal(small_run.curves[3][1], forced.curves[3][1])
    # The estimate grows with the steps: a grid estimated above the threshold uses it.
    ex2 = _CountingExecutor()
    grid_search(small, executor=ex2, serial_below=1e-3, **kw)
    assert ex2.submitted > 0
    # The cost model: deeper nets cost more.
    assert step_cost([6, 64, 64, 1], 100, "l2", "sgd") > step_cost([6, 1], 100, "l2", "sgd")
    assert SERIAL_BELOW_SECONDS == 1.0


def test_the_cost_model_charges_l4_what_the_engine_computes(monkeypatch):
    from deeplinear import _kernel_data
    from deeplinear.experiments import plan

    # The model's sums in another order: equal to rounding (rel 1e-12), while
    # a wrong term is off by far more (the smallest, the step's fixed cost, is
    # 1e-6 s of 3e-6).
    def approx(x):
        return pytest.approx(x, rel=1e-12)

    rate, step = plan.KERNEL_MADDS_PER_SECOND, plan.COMPILED_STEP_SECONDS
    chain = (3 * 1 * 10 + 10) / rate  # 3 k P + P, P = 10 (dims [10, 1], SGD)
    # Abalone's shape (n 4177, d 10, one output): the engine computes l4 from the
    # fourth moments, T m + m^3 multiply-adds with m = 11, T = 286, not the pass.
    assert _kernel_data.uses_fourth_moments(4177, 10, 1, 4.0)
    moments = (286 * 11 + 11 ** 3) / plan.MOMENTS_MADDS_PER_SECOND
    assert plan.step_cost([10, 1], 4177, "l4", "sgd") == approx(chain + moments + step)
    # 3 lrs in lockstep: three runs' worth, nothing shared.
    one = chain + moments + step
    assert plan.step_cost([10, 1], 4177, "l4", "sgd", runs=3) == approx(3 * one)
    # The Python loop passes over the data, 3 n d_0 d_N, per run.
    python = (3 * 1 * 10 + 10 + 3 * 4177 * 10) / rate + plan.PYTHON_STEP_SECONDS
    assert plan.step_cost([10, 1], 4177, "l4", "sgd", compiled=False) == approx(python)
    assert plan.step_cost([10, 1], 4177, "l4", "sgd", compiled=False, runs=2) == approx(2 * python)
    # Two outputs: the compiled loop passes over the data, each run loading X itself.
    assert not _kernel_data.uses_fourth_moments(4177, 10, 2, 4.0)
    two = ((3 * 2 * 20 + 20) / rate + 2 * 4177 * 10 * 2 / plan.PASS_MADDS_PER_SECOND
           + 4177 * 10 / plan.PASS_ENTRIES_PER_SECOND + step)
    assert plan.step_cost([10, 2], 4177, "l4", "sgd", runs=2) == approx(2 * two)
    # Where the compiled loop passes over the data (the engine says so): the
    # products 2 n d_0 d_N per run, and the loads of X once per step for all
    # the runs in lockstep (one output).
    monkeypatch.setattr(_kernel_data, "uses_fourth_moments", lambda n, d, k, p: False)
    run = chain + 2 * 4177 * 10 / plan.PASS_MADDS_PER_SECOND + step
    load = 4177 * 10 / plan.PASS_ENTRIES_PER_SECOND
    assert plan.step_cost([10, 1], 4177, "l4", "sgd") == approx(run + load)
    assert plan.step_cost([10, 1], 4177, "l4", "sgd", runs=4) == approx(load + 4 * run)


def test_one_worker_gets_one_task_per_configuration_and_seed():
    from deeplinear.experiments import plan

    spec = check_grid(dict(hidden=["[]", "[4]"], lrs=[1e-3, 1e-2, 1e-1], seeds=[0], steps=5))
    # 2 combinations, below MIN_TASKS: split per lr for several (or unknown) workers only.
    assert [len(t) for t in plan.plan_grids([spec], 1)] == [2]
    assert [len(t) for t in plan.plan_grids([spec], 2)] == [6]
    assert [len(t) for t in plan.plan_grids([spec], None)] == [6]
    runs = [(t.config, t.seed, lr) for part in plan.plan_grids([spec], 1) for t in part
            for lr in t.lrs]
    split = [(t.config, t.seed, lr) for part in plan.plan_grids([spec], 2) for t in part
             for lr in t.lrs]
    assert runs == split  # the same runs, in the same order


def test_the_fastest_lr_is_the_papers_criterion_and_the_target_is_gd_depth_1s():
    r = _fake_results([
        # GD depth 1: lr 0.1 ends lower (mean 1.1), lr 1.0 gets to the target sooner
        ("[]", 1, 0.1, 0, [4, 3, 2, 1.5, 1.0], False),
        ("[]", 1, 0.1, 1, [4, 3, 2, 1.5, 1.2], False),
        ("[]", 1, 1.0, 0, [4, 1.2, 1.2, 1.2, 1.2], False),
        ("[]", 1, 1.0, 1, [4, 3, 1.2, 1.2, 1.2], False),
        # Adam depth 1 ends far lower: the target stays 1.1x GD depth 1's best
        ("[]", 1, 0.1, 0, [4, 2, 0.5, 0.3, 0.2], False),
        ("[]", 1, 0.1, 1, [4, 2, 0.5, 0.3, 0.2], False),
    ], optimizers=["sgd"] * 4 + ["adam"] * 2)
    assert r.targets() == {"l2": pytest.approx(1.21)}
    s = r.summary().set_index("optimizer")
    assert s.loc["sgd", "best_lr"] == 0.1 and s.loc["sgd", "steps_to_target"] == 4
    # per seed at lr 1.0: steps 1 and 2 (mean 1.5) against 4 and 4 at lr 0.1
    assert s.loc["sgd", "fastest_lr"] == 1.0
    assert (s.loc["sgd", "fastest_steps"], s.loc["sgd", "fastest_min"],
            s.loc["sgd", "fastest_max"]) == (1.5, 1, 2)
    assert s.loc["sgd", "fastest_final"] == pytest.approx(1.2)
    assert s.loc["adam", "fastest_lr"] == 0.1 and s.loc["adam", "fastest_steps"] == 2
    table = r.format_table()
    # "lr: mean steps [min, max]" (1.5 shown as 2)
    assert "steps to 1.1x depth-1 GD best" in table and "  1: 2 [1, 2]  " in table
    # An lr that brings only some seeds to the target is never the fastest.
    # (lr 1.0: seed 0 at step 1, seed 1 never; lr 0.1: both at step 2.)
    r = _fake_results([("[]", 1, 0.1, 0, [4, 2, 1.0], False),
                       ("[]", 1, 0.1, 1, [4, 2, 1.2], False),
                       ("[]", 1, 1.0, 0, [4, 0.5, 0.5], False),
                       ("[]", 1, 1.0, 1, [4, 3.0, 3.0], False)])
    assert r.targets()["l2"] == pytest.approx(1.21)
    fastest = r.fastest()
    assert fastest["fastest_lr"].tolist() == [0.1] and fastest["fastest_max"][0] == 2


def test_every_preset_is_valid_and_runs(small):
    for name, preset in PRESETS.items():
        for grid in preset.grids:
            check_grid(grid)
        r = run_preset(name, small, steps=3, seeds=[0], lrs=[1e-3])
        assert r.config["preset"] == name
        assert not r.runs["diverged"].any(), name
        assert r.format_table()


def test_preset_overrides_replace_values_in_every_grid():
    grids = PRESETS["paper-vs-adagrad-adadelta"].with_overrides(steps=7, lrs=None)
    assert len(grids) == 3 and all(g["steps"] == 7 for g in grids)
    assert grids[1]["lrs"] != grids[0]["lrs"]  # None keeps each grid's own value


def _run_cli(args, tmp_path, name):
    out = tmp_path / name
    code = main([*args, "--out", str(out), "--quiet"])
    return code, out


def test_cli_synthetic_writes_files_and_prints_table(tmp_path, capsys):
    code = main(["synthetic", "--steps", "20", "--seeds", "0", "--jobs", "1",
                 "--out", str(tmp_path / "a")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "best lr" in printed and "[64,64]" in printed and "l2: depth" in printed
    for name in ("curves.csv", "summary.json", "curves.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["runs"] == 7 * 7 and len(summary["summary"]) == 7
    curves = pd.read_csv(tmp_path / "a" / "curves.csv")
    assert len(curves) == 49 * 21 and set(curves["step"]) == set(range(21))
    with open(tmp_path / "a" / "curves.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_abalone_is_the_same_with_one_or_two_jobs(tmp_path, capsys, shared_data):
    args = ["abalone", "--steps", "10", "--hidden", "[]", "[10]", "[10,10]"]
    code1, out1 = _run_cli([*args, "--jobs", "1"], tmp_path, "j1")
    code2, out2 = _run_cli([*args, "--jobs", "2"], tmp_path, "j2")
    assert code1 == code2 == 0
    assert capsys.readouterr().out == ""  # --quiet
    a = (out1 / "curves.csv").read_bytes()
    b = (out2 / "curves.csv").read_bytes()
    assert a == b and len(a) > 1000
    assert (out1 / "curves.png").is_file() and (out1 / "summary.json").is_file()


@pytest.mark.parametrize("args, message", [
    (["--preset", "fig9"], "preset: unknown 'fig9'"),
    (["--hidden", "[10,x]"], "hidden: expected a list of positive integer widths"),
    (["--lrs", "0.1", "0"], "--lrs: expected learning rates > 0"),
    (["--steps", "0"], "--steps: expected an integer >= 1"),
    (["--init", "orthogonal"], "init: unknown 'orthogonal'"),
    (["--optimizer", "rmsprop"], "optimizer: unknown 'rmsprop'"),
    (["--loss", "huber"], "loss: expected 'l2', 'l4'"),
    (["--loss", "l1"], "loss: expected 'l2', 'l4', 'l<p>' with p > 1"),
    (["csv"], "csv: expected a PATH"),
    (["nosuchdata"], "invalid choice: 'nosuchdata'"),
])
def test_cli_bad_options_exit_with_one_line(args, message, capsys, tmp_path):
    try:
        code = main([*args, "--out", str(tmp_path / "never")])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "never").exists()


def test_cli_unwritable_out_fails_before_any_run(tmp_path, capsys, monkeypatch):
    import deeplinear.experiments.__main__ as cli

    ran = []
    monkeypatch.setattr(cli, "run_preset", lambda *a, **k: ran.append(1))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    monkeypatch.setattr(cli.os, "access", lambda path, mode: path != str(readonly))
    for out in (str(blocker), str(blocker / "results"), str(readonly / "results")):
        assert main(["--steps", "5", "--out", out]) == 2
        err = capsys.readouterr().err
        assert f"--out: cannot write to {out}:" in err and len(err.strip().splitlines()) == 1
    assert not ran, "runs started although their results could not be written"
    assert not (readonly / "results").exists()


def test_cli_refuses_to_overwrite_results_without_force(tmp_path, capsys):
    args = ["--steps", "3", "--hidden", "[]", "--lrs", "0.01", "--seeds", "0", "--jobs", "1",
            "--quiet", "--out", str(tmp_path / "r")]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}
    assert main([*args, "--steps", "4"]) == 2
    err = capsys.readouterr().err
    assert "already holds results" in err and "--force" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == before
    assert main([*args, "--steps", "4", "--force"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["config"]["steps"] == 4


def test_cli_a_command_that_fails_leaves_no_folder(tmp_path, monkeypatch, capsys):
    import deeplinear.experiments.__main__ as cli

    def unreachable(args):
        raise ConnectionError("--scheduler: no Dask scheduler answered")

    monkeypatch.setattr(cli, "_executor", unreachable)
    out = tmp_path / "deep" / "never"
    assert main(["--steps", "3", "--out", str(out)]) == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err
    assert not (tmp_path / "deep").exists()


def test_cli_notes_dropped_repeats_of_seeds_and_lrs(tmp_path, capsys):
    assert main(["--steps", "3", "--hidden", "[]", "--lrs", "0.01", "0.01", "--seeds", "1", "0",
                 "1", "--jobs", "1", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "--lrs: each value runs once; dropped the repeats of 0.01" in err
    assert "--seeds: each value runs once; dropped the repeats of 1" in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["runs"] == 2


def test_long_runs_record_every_kth_step_and_say_so(tmp_path, capsys):
    assert main(["--steps", "3000", "--hidden", "[]", "--lrs", "0.01", "--seeds", "0",
                 "--jobs", "1", "--out", str(tmp_path / "r")]) == 0
    assert "3000 steps (loss recorded every 3)" in capsys.readouterr().out
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["config"]["record_every"] == 3
    curves = pd.read_csv(tmp_path / "r" / "curves.csv")
    assert curves["step"].max() == 3000 and len(curves) == 3000 // 3 + 1


def test_cli_bad_option_has_no_traceback_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "deeplinear.experiments", "--steps", "-3"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "python -m deeplinear.experiments: error: --steps: expected an integer >= 1, got -3 "
        "(see --help)"]


def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ["--preset", "--hidden", "--init", "--optimizer", "--loss", "--steps",
                   "--lrs", "--seeds", "--weight-decay", "--out", "--jobs", "--quiet"]:
        assert option in text
    for name in PRESETS:
        assert name in text


# ------------------------------------------------------------ issue 20: the library layer
def test_a_string_is_one_architecture(small):
    r = grid_search(small, hidden="[10]", steps=2, lrs=[1e-3], seeds=[0])
    assert list(r.runs["arch"]) == ["[10]"] and r.runs["hidden"].iloc[0] == (10,)
    assert check_grid({"hidden": "[]"}).hidden == ((),)
    assert check_grid({"hidden": "10,10"}).hidden == ((10, 10),)
    assert check_grid({"hidden": [[], "[4]", (4, 4), "[4]"]}).hidden == ((), (4,), (4, 4))


def test_grid_search_defaults_are_the_grids_defaults():
    import inspect

    from deeplinear.experiments import GRID_KEYS
    from deeplinear.experiments.spec import GRID_DEFAULTS

    params = inspect.signature(grid_search).parameters
    assert {k: params[k].default for k in GRID_KEYS} == GRID_DEFAULTS


def test_estimate_grids_seconds_is_the_tasks_cost(small):
    from deeplinear.experiments import estimate_grids_seconds
    from deeplinear.experiments.plan import compiled_available, estimate_seconds, plan_tasks

    grids = [dict(hidden=["[]", "[8,8]"], loss=["l2", "l4"], steps=1000, lrs=[1e-3, 1e-2]),
             dict(optimizer="adam", steps=50, lrs=[1e-3])]
    tasks = [t for g in grids for t in plan_tasks(check_grid(g))]
    costs = [estimate_seconds([t], 120, 6, 1, compiled_available()) for t in tasks]
    # exact: the same costs summed in the same order
    assert estimate_grids_seconds(small, grids) == sum(costs)
    # 2 workers share the work; never below the longest task
    assert estimate_grids_seconds(small, grids, workers=2) == sum(costs) / 2
    assert estimate_grids_seconds(small, grids, workers=1000) == max(costs)
    longer = [{**grids[0], "steps": 100_000}, grids[1]]
    assert estimate_grids_seconds(small, longer) > 50 * estimate_grids_seconds(small, grids[:1])
    with pytest.raises(ValueError, match="weight_decay"):
        estimate_grids_seconds(small, [dict(weight_decay=math.inf)])


def test_weight_decay_and_options_identify_a_configuration(small, tmp_path):
    base = dict(hidden=["[]"], optimizer="adadelta", loss="l4", steps=15, lrs=[0.5, 1.0],
                seeds=[0, 1])
    grids = [{**base, "optimizer_options": dict(rho=0.95, eps=1e-8)}, base,
             {**base, "weight_decay": 0.01}]
    res = run_grids(small, grids)
    best = res.best()
    assert len(best) == 3
    assert list(zip(best["options"], best["weight_decay"])) == [
        ("eps=1e-08, rho=0.95", 0.0), ("", 0.0), ("", 0.01)]
    # curves.csv tells the two AdaDelta settings (and the weight decays) apart
    curves = pd.read_csv(res.write(str(tmp_path / "r"))["curves.csv"], keep_default_na=False)
    assert {"options", "weight_decay"} <= set(curves.columns)
    for (options, decay), part in curves.groupby(["options", "weight_decay"]):
        runs = res.runs[(res.runs["options"] == options) & (res.runs["weight_decay"] == decay)]
        assert sorted(part["run"].unique()) == sorted(runs["run"]), (options, decay)
    assert curves.groupby(["options", "weight_decay"]).ngroups == 3
    table = res.format_table()
    header = table.splitlines()[1]
    assert "options" in header and "weight decay" in header
    assert "weight decay 0.01" in res.plot().axes[0].get_legend_handles_labels()[1][-1]


def test_edge_notes_follow_best_per_configuration():
    # Two AdaDelta settings with their own lr grids: the first's best lr (1.0) is
    # the largest of its grid, though the other grid goes up to 2.0.
    rows, curves = [], []
    for options, lr, final in [("rho=0.95", 0.5, 2.0), ("rho=0.95", 1.0, 1.0),
                               ("", 1.0, 1.0), ("", 2.0, 3.0)]:
        rows.append(dict(run=len(rows), arch="[]", hidden=(), depth=1, init="default",
                         optimizer="adadelta", options=options, weight_decay=0.0, loss="l4",
                         lr=lr, seed=0, final_loss=final, diverged=False, failed=False,
                         error="", steps_run=1, seconds=0.0))
        curves.append((np.arange(2), np.array([4.0, final])))
    r = Results(pd.DataFrame(rows), curves, dict(dataset="fake", n=1, d_in=1, d_out=1, steps=1,
                                                 lrs=[0.5, 1.0, 2.0], seeds=[0]))
    assert list(r.best()["largest_lr"]) == [1.0, 2.0]
    assert r.edge_notes() == ["note: for 1 of 2 configurations the best lr is the largest in "
                              "the grid; a larger lr might do better."]


def test_results_read_gives_back_what_write_wrote(small, tmp_path, monkeypatch):
    from deeplinear.experiments import execution

    real = execution.run_training

    def fail_depth_3(objective, factors, lrs, settings):
        if len(factors) == 3:
            raise FloatingPointError("a run that raises on purpose")
        return real(objective, factors, lrs, settings)

    monkeypatch.setattr(execution, "run_training", fail_depth_3)
    grids = [dict(hidden=["[]", "[3]", "[3,3]"], loss=["l2", "l4"], steps=30,
                  lrs=[1e-2, 1e3], seeds=[0, 1]),
             dict(hidden=["[]"], optimizer="adadelta", steps=20, lrs=[0.5],
                  optimizer_options=dict(rho=0.95, eps=1e-8), weight_decay=1e-3)]
    res = run_grids(small, grids)
    assert res.runs["diverged"].any() and res.runs["failed"].any()  # inf and empty curves
    res.write(str(tmp_path / "r"))
    back = Results.read(str(tmp_path / "r"))
    pd.testing.assert_frame_equal(back.runs, res.runs)  # exactly: dtypes and values
    assert len(back.curves) == len(res.curves)
    for (s1, v1), (s2, v2) in zip(back.curves, res.curves):
        assert s1.dtype == s2.dtype and v1.dtype == v2.dtype
        assert_array_equal(s1, s2)
        assert_array_equal(v1, v2)
    assert back.config == res.config
    assert back.format_table() == res.format_table()
    with pytest.raises(ValueError, match="holds no results written by Results.write"):
        Results.read(str(tmp_path))


def test_plot_returns_a_figure_or_saves_it(small, tmp_path):
    from matplotlib.figure import Figure

    r = grid_search(small, hidden=["[]", "[3]"], loss=["l2", "l4"], steps=10, lrs=[1e-2],
                    seeds=[0, 1])
    fig = r.plot()
    assert isinstance(fig, Figure) and len([ax for ax in fig.axes if ax.lines]) == 2
    path = str(tmp_path / "c.png")
    assert r.plot(path) == path
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_no_verdict_when_the_target_is_met_at_the_start():
    # Depth 1 barely moves: its best final 0.95, the target 1.045, above its start 1.0.
    r = _fake_results([
        ("[]", 1, 0.1, 0, [1.0, 0.98, 0.95], False),
        ("[5]", 2, 0.1, 0, [1.2, 1.0, 0.9], False),
    ])
    (line,) = r.acceleration()
    assert "no verdict" in line and "too short" in line and "step 0" in line
    assert "ratio" not in line and "in 0 steps" not in line
    # A deeper net that starts below the target: no verdict either, never "ratio inf".
    r = _fake_results([
        ("[]", 1, 0.1, 0, [4.0, 2.0, 1.0], False),
        ("[5]", 2, 0.1, 0, [1.05, 1.0, 0.9], False),
    ])
    (line,) = r.acceleration()
    assert "no verdict" in line and "[5]" in line and "inf" not in line


def test_a_ten_step_report_grid_has_no_meaningless_verdict(small):
    r = run_preset("report-fig2", small, steps=10, seeds=[0])
    (line,) = r.acceleration()
    assert "infx" not in line and "in 0 steps" not in line, line


def _interrupt_after(count):
    """A progress callback that raises KeyboardInterrupt once ``count`` runs are done."""
    def progress(done, total):
        if done >= count:
            raise KeyboardInterrupt
    return progress


def test_ctrl_c_keeps_the_finished_tasks(small, monkeypatch):
    from deeplinear.experiments import Interrupted, execution

    grids = [dict(hidden=["[]", "[3]"], steps=20, lrs=[1e-2, 5e-2], seeds=[0, 1]),
             dict(hidden=["[]"], loss="l4", steps=20, lrs=[1e-2], seeds=[0])]
    whole = run_grids(small, grids)
    # Ctrl-C from the progress callback after 3 tasks (6 runs) of the first grid
    with pytest.raises(Interrupted) as caught:
        run_grids(small, grids, progress=_interrupt_after(6))
    part = caught.value.results
    assert part.incomplete and part.config["incomplete"] is True
    assert len(part.runs) == 6 and list(part.runs["run"]) == list(range(6))
    cols = [c for c in whole.runs.columns if c != "seconds"]
    pd.testing.assert_frame_equal(part.runs[cols], whole.runs[cols].iloc[:6])
    for run in range(6):
        assert_array_equal(part.curves[run][1], whole.curves[run][1])
    assert part.format_table().startswith("incomplete (interrupted): ")
    # ... or from inside a task (the 2nd): only the first is kept
    real, calls = execution.run_training, []

    def interrupt_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(execution, "run_training", interrupt_second)
    with pytest.raises(Interrupted) as caught:
        run_grids(small, grids)
    assert len(caught.value.results.runs) == 2
    # ... before any task finished: empty results, still marked incomplete
    monkeypatch.setattr(execution, "run_training", lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt))
    with pytest.raises(Interrupted) as caught:
        run_grids(small, grids)
    assert caught.value.results.incomplete and len(caught.value.results.runs) == 0


def test_interrupted_results_write_as_incomplete(small, tmp_path):
    r = grid_search(small, hidden=["[]", "[3]"], steps=5, lrs=[1e-2], seeds=[0])
    doc = json.loads(Path(r.write(str(tmp_path / "a"))["summary.json"]).read_text())
    assert doc["incomplete"] is False and "incomplete" not in doc["config"]
    doc = json.loads(Path(r.write(str(tmp_path / "b"), incomplete=True)["summary.json"])
                     .read_text())
    assert doc["incomplete"] is True and doc["config"]["incomplete"] is True
    assert not r.incomplete  # write marks what it writes, not the results
    assert Results.read(str(tmp_path / "b")).incomplete


def test_ctrl_c_stops_a_process_pool_at_once(small):
    import multiprocessing
    import time

    from deeplinear.experiments import Interrupted, process_pool

    # 8 tasks of about 2 s each on 2 workers; Ctrl-C when the first finishes.
    grid = dict(hidden=["[]", "[4]", "[4,4]", "[8]"], loss="l4", steps=600_000, lrs=[1e-3],
                seeds=[0, 1])
    stamps = {}

    def progress(done, total):
        stamps["at"] = time.monotonic()
        stamps["workers"] = multiprocessing.active_children()
        raise KeyboardInterrupt

    with process_pool(2) as pool:
        start = time.monotonic()
        with pytest.raises(Interrupted) as caught:
            grid_search(small, executor=pool, serial_below=0, progress=progress, **grid)
        stopped = time.monotonic()
    workers = stamps["workers"]
    assert stopped - stamps["at"] < 2.0, "the pool was waited for"
    assert stopped - start < 60
    assert len(workers) == 2
    # Ended, not left to finish their 2 s tasks. Another thread (the pool's
    # own) may reap a worker a moment after this one looks: allow 0.5 s.
    deadline = time.monotonic() + 0.5
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(w.is_alive() for w in workers), "a worker process was left running"
    assert not multiprocessing.active_children(), "a child process was left running"
    results = caught.value.results
    assert results.incomplete and len(results.runs) == 1 and not results.runs["failed"].any()


def _broken_worker():
    raise RuntimeError("this worker cannot start")


def test_a_broken_pool_raises_instead_of_failing_every_run(small):
    with ProcessPoolExecutor(max_workers=2, initializer=_broken_worker) as pool:
        with pytest.raises(RuntimeError, match="workers of ProcessPoolExecutor died"
                                               ".*if __name__ == \"__main__\":"):
            grid_search(small, hidden=["[]", "[3]"], steps=5, lrs=[1e-2], seeds=[0],
                        executor=pool, serial_below=0)


def test_a_pool_that_breaks_before_every_task_is_submitted_raises_the_same(small):
    from concurrent.futures import BrokenExecutor, Executor

    class Refusing(Executor):   # a pool whose workers died before the second submit
        def __init__(self):
            self.calls = 0

        def submit(self, fn, *args, **kwargs):
            self.calls += 1
            raise BrokenExecutor("A child process terminated abruptly")

    with pytest.raises(RuntimeError, match="workers of Refusing died.*A child process"):
        grid_search(small, hidden=["[]", "[3]"], steps=5, lrs=[1e-2], seeds=[0],
                    executor=Refusing(), serial_below=0)


def test_the_kernels_are_ready_before_the_progress_bar(small, monkeypatch, capsys):
    import sys

    from deeplinear.experiments import grid

    real = grid.warm_up

    def noisy(*args, **kwargs):
        print("NOTICE", file=sys.stderr)
        return real(*args, **kwargs)

    monkeypatch.setattr(grid, "warm_up", noisy)
    grid_search(small, hidden=["[]"], steps=5, lrs=[1e-2], seeds=[0], progress=True)
    err = capsys.readouterr().err
    assert err.startswith("NOTICE\n") and "run" in err[len("NOTICE\n"):], err


def test_a_checked_grid_is_passed_on_without_a_second_check(small, monkeypatch):
    from deeplinear.experiments import run_preset, spec

    checked = check_grid(dict(hidden=["[]"], steps=3, lrs=[1e-3], seeds=[0]))
    assert check_grid(checked) is checked
    calls = []
    real = spec.check_positive
    monkeypatch.setattr(spec, "check_positive", lambda *a: calls.append(a) or real(*a))
    r = run_preset("report-fig2", small, grids=[checked])
    assert len(r.runs) == 1 and calls == []  # nothing re-validated on the way down
    with pytest.raises(ValueError, match=r"grids: given, so the overrides \['steps'\]"):
        run_preset("report-fig2", small, grids=[checked], steps=5)
