"""The presets on built-in problems, ``dmf-completion`` and ``saxe-modes``, from the
main command: no data set, the usual options and files, and the numbers each
run reports checked against the library's functions called directly."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import deeplinear as dl
import deeplinear.experiments.__main__ as cli
from deeplinear import modes, nuclear, spectral
from deeplinear.experiments import problems
from deeplinear.experiments.__main__ import main
from deeplinear.experiments.results import FILES, RUN_COLUMNS, Results

SMALL_DMF = ["--preset", "dmf-completion", "--steps", "300", "--seeds", "0", "--lrs", "50",
             "--hidden", "[]", "[30,30]", "--quiet"]
SMALL_SAXE = ["--preset", "saxe-modes", "--steps", "600", "--seeds", "0", "1", "--lrs", "0.04",
              "0.02", "--hidden", "[5]", "[5,5,5]", "--quiet"]


def _run(args, out, jobs=1):
    assert main([*args, "--out", str(out), "--jobs", str(jobs)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    return pd.read_csv(out / "runs.csv")


@pytest.mark.filterwarnings("ignore:soft_impute")  # the path's loose settings, as the preset's
def test_dmf_completion_runs_without_a_data_set_and_writes_the_usual_files(tmp_path):
    runs = _run(SMALL_DMF, tmp_path / "dmf")
    # 3 sample counts x 2 architectures x 2 scales x 1 lr x 1 seed
    assert len(runs) == 12 and set(runs["m"]) == {200, 300, 450}
    back = Results.read(tmp_path / "dmf")  # the preset's own columns come back too
    assert_allclose(back.runs["unobserved_error"], runs["unobserved_error"], rtol=0)
    assert "nuclear norm" in problems.problem_table(back)
    assert set(RUN_COLUMNS) - {"hidden"} <= set(runs.columns)
    assert set(runs["loss"]) == {"completion m=200", "completion m=300", "completion m=450"}
    assert runs["nuclear_baseline_error"].notna().all()
    # One run recomputed by hand: the problem, the start, the training, the measures.
    row = runs[(runs["m"] == 300) & (runs["depth"] == 3) & (runs["scale"] == 1e-6)].iloc[0]
    target, mask, objective = problems.completion_problem(0, 300)
    start = dl.init.balanced([30] * 4, scale=1e-6, rng=np.random.default_rng([0, 3]))
    h = dl.train_objective(start, objective, lr=50.0, steps=300, record_every=300)
    W_e = dl.end_to_end(h.final_factors)
    # runs.csv holds 17 significant digits (pandas' float repr): equal to rounding.
    assert_allclose(row["final_loss"], h.final_loss, rtol=1e-14)
    assert_allclose(row["unobserved_error"], spectral.unobserved_error(W_e, target, mask),
                    rtol=1e-14)
    assert_allclose(row["effective_rank"], spectral.effective_rank(W_e), rtol=1e-14)
    Z = nuclear.soft_impute_path(target, mask, **problems.SOFT_IMPUTE)[-1].matrix
    assert_allclose(row["nuclear_baseline_error"], spectral.unobserved_error(Z, target, mask),
                    rtol=1e-14)


def test_saxe_modes_reports_each_mode_against_the_flow(tmp_path, capsys):
    runs = _run(SMALL_SAXE, tmp_path / "saxe")
    assert len(runs) == 2 * 2 * 2 and set(runs["depth"]) == {2, 4}
    row = runs[(runs["depth"] == 4) & (runs["lr"] == 0.02) & (runs["seed"] == 1)].iloc[0]
    problem = modes.whitened_problem(problems.MODES_S, problems.MODES_D_IN,
                                     problems.MODES_D_OUT, rng=1)
    start = modes.aligned_start(problem, [5, 5, 5], 1e-2, rng=1)
    run = spectral.spectrum_trajectory(start, dl.Objective(problem.X, problem.Y, "l2"),
                                       lr=0.02, steps=600, every=5)
    times = 0.02 * run.steps
    sigma, _ = modes.mode_strengths(run.W_e, problem)
    flow = modes.mode_curve(times, problem.s, 1e-2, 4, problem.c)
    assert_allclose(row["mode1_gap"], np.abs(sigma[:, 0] - flow[:, 0]).max(), rtol=1e-14)
    assert_allclose(row["mode2_t_half_flow"], modes.plateau_time(problem.s, 1e-2, 4,
                                                                 problem.c)[1], rtol=1e-14)
    # Gradient descent is the flow's Euler method: halving the lr halves the gap
    # (O(lr); measured 0.47-0.50 here). A gap that did not shrink would be 1.
    gaps = runs.groupby(["depth", "lr"])[["mode1_gap", "mode2_gap"]].mean()
    for depth in (2, 4):
        ratio = gaps.loc[(depth, 0.02)] / gaps.loc[(depth, 0.04)]
        assert ratio.between(0.4, 0.6).all(), (depth, ratio)


def test_the_runs_do_not_depend_on_the_workers(tmp_path):
    """Serial and on a pool of two processes: the same numbers, bit for bit."""
    one = _run(SMALL_SAXE[:-1] + ["--quiet"], tmp_path / "one", jobs=1)
    two = _run(SMALL_SAXE, tmp_path / "two", jobs=2)
    columns = [c for c in one.columns if c != "seconds"]
    pd.testing.assert_frame_equal(one[columns], two[columns], check_exact=True)


def test_the_table_is_printed_with_the_problem_table(tmp_path, capsys):
    args = [a for a in SMALL_SAXE if a != "--quiet"]
    assert main([*args, "--out", str(tmp_path / "t"), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "per mode and lr" in out and "depth 4 slopes:" in out
    assert "accelerate" not in out  # no speed verdict on these problems


def _no_runs(*args, **kwargs):
    raise AssertionError("runs started although the command should have stopped before")


@pytest.mark.parametrize("args, message", [
    (["abalone", "--preset", "dmf-completion"], "abalone: the dmf-completion preset runs on "
                                                "its own built-in problem; name no data set"),
    (["--preset", "dmf-completon"], "preset: unknown 'dmf-completon'; expected one of ['dmf-"
                                    "completion', 'e2e-vs-deep', 'paper-headline',"),
    (["--preset", "saxe-modes", "--loss", "l4"], "--loss: does not apply to the saxe-modes"),
    (["--preset", "dmf-completion", "--init", "default"], "--init: does not apply to the "
                                                          "dmf-completion"),
    (["--preset", "saxe-modes", "--optimizer", "adam"], "optimizer: the saxe-modes preset "
                                                        "compares gradient descent"),
    (["--preset", "saxe-modes", "--hidden", "[2]"], "hidden: [2]: the saxe-modes preset needs"),
    (["--preset", "dmf-completion", "--optimizer", "e2e"], "optimizer: expected one of sgd"),
    (["--preset", "dmf-completion", "--optimizer", "sgd", "adam"], "optimizer: the "
                                                                   "dmf-completion preset runs one"),
])
def test_bad_options_are_one_line_errors_before_any_run(args, message, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.setattr(cli, "run_problem_preset", _no_runs)
    try:
        status = main([*args, "--out", str(tmp_path / "never")])
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "never").exists()


def test_help_lists_the_problem_presets(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "dmf-completion: Deep matrix factorization" in out and "saxe-modes:" in out


def test_ctrl_c_writes_the_finished_runs_marked_incomplete(tmp_path, monkeypatch, capsys):
    """Ctrl-C after the first task: the command writes that task's runs, marked
    incomplete, and exits 130, as for a grid (tests/test_main_command.py sends a
    real SIGINT to the grid's command)."""
    real = problems.execute

    def first_then_ctrl_c(tasks, X, Y, executor=None, *, done, run, **kwargs):
        real(tasks[:1], X, Y, None, done=done, run=run)
        raise KeyboardInterrupt

    monkeypatch.setattr(problems, "execute", first_then_ctrl_c)
    out = tmp_path / "cut"
    assert main([*SMALL_SAXE, "--out", str(out), "--jobs", "1"]) == 130
    back = Results.read(out)
    assert back.incomplete and len(back.runs) == 2  # the first task: one seed, two lrs
    assert "interrupted after 2 of 8 runs" in capsys.readouterr().err
