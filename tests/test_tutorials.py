"""The tutorials: each runs in quick mode and writes a real figure and its data;
the committed figures exist and the README shows them; and where the theory is
exact, the quick-mode numbers must show it.

All tutorials run once per session (two at a time, each in its own process),
in quick mode with no DEEPLINEAR_FIGURES_DIR: they must write into quick
mode's own folder in the temporary directory, and never touch the committed
figures; a test checks that too.
"""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
FIGURES = ROOT / "figures"
EXPECTED = [
    "01_deep_linear_networks", "02_end_to_end_dynamics", "03_report_figure2",
    "04_report_figure3_initialization", "05_report_figure4_optimizers", "06_paper_l2_vs_l4",
    "07_paper_vs_adagrad_adadelta", "08_width_does_not_matter", "09_learning_rate_landscape",
    "10_the_long_horizon", "11_what_the_data_could_change", "12_depth_prefers_low_rank",
    "13_learning_in_stages",
]


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory, shared_data_dir):
    """Run every tutorial in quick mode, two processes at a time."""
    # No DEEPLINEAR_FIGURES_DIR: quick mode's own default, a folder in the
    # temporary directory (here a fresh one, through TMPDIR), never figures/.
    tmp = tmp_path_factory.mktemp("tmpdir")
    out = tmp / "deeplinear-quick-figures"
    env = {**os.environ, "DEEPLINEAR_QUICK": "1", "TMPDIR": str(tmp),
           "MPLBACKEND": "Agg", "DEEPLINEAR_DATA_DIR": str(shared_data_dir)}
    env.pop("DEEPLINEAR_FIGURES_DIR", None)
    before = _digest(FIGURES) if FIGURES.is_dir() else {}
    pending = [TUTORIALS / f"{name}.py" for name in EXPECTED]
    running, results = [], {}
    while pending or running:
        while pending and len(running) < 2:
            script = pending.pop(0)
            proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            running.append((script.stem, proc, time.perf_counter()))
        name, proc, t0 = running.pop(0)
        stdout, stderr = proc.communicate(timeout=300)
        results[name] = dict(code=proc.returncode, stdout=stdout, stderr=stderr,
                             seconds=time.perf_counter() - t0)
    after = _digest(FIGURES) if FIGURES.is_dir() else {}
    return dict(out=out, results=results, untouched=before == after)


@pytest.fixture(scope="session")
def shared_data_dir():
    from helpers import REAL_DATA

    if not (REAL_DATA / "abalone" / "abalone.data").is_file():
        pytest.fail(f"real data not found at {REAL_DATA}: set DEEPLINEAR_DATA_DIR")
    return REAL_DATA


def test_the_tutorials_exist():
    found = sorted(p.stem for p in TUTORIALS.glob("[0-9][0-9]_*.py"))
    assert found == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_tutorial_runs_in_quick_mode_and_writes_figure_and_data(quick_runs, name):
    run = quick_runs["results"][name]
    assert run["code"] == 0, f"{name} failed:\n{run['stdout'][-1500:]}\n{run['stderr'][-3000:]}"
    png, csv = quick_runs["out"] / f"{name}.png", quick_runs["out"] / f"{name}.csv"
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(png)[..., :3]
    assert image.shape[0] >= 400 and image.shape[1] >= 600  # 150 dpi, a real figure
    # Not blank: pixel values vary and a fair share of the canvas is not background.
    assert image.std() > 0.05
    assert np.mean(np.any(np.abs(image - image[0, 0]) > 0.1, axis=-1)) > 0.02
    frame = pd.read_csv(csv)
    assert len(frame) > 0 and frame.notna().any().all()
    assert run["stdout"].strip(), "a tutorial prints its comparison table"


def test_quick_mode_leaves_committed_figures_alone(quick_runs):
    # (How long the quick runs take is not asserted: speed is the benchmarks' job.)
    assert quick_runs["untouched"], "a quick run changed files in figures/"
    assert sorted(p.name for p in quick_runs["out"].glob("*.png")) == sorted(
        f"{name}.png" for name in EXPECTED), "quick mode wrote elsewhere than its own folder"


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_figure_exists_and_readme_shows_it(name):
    assert (FIGURES / f"{name}.png").is_file(), f"figures/{name}.png is not committed"
    assert (FIGURES / f"{name}.csv").is_file(), f"figures/{name}.csv is not committed"
    assert f"figures/{name}.png" in (ROOT / "README.md").read_text()


def test_tutorial_2_deep_and_closed_form_agree_to_order_lr(quick_runs):
    """Theorem 1 is exact for gradient flow; gradient descent with step lr
    leaves the closed form by O(lr) over a fixed training time lr*steps."""
    frame = pd.read_csv(quick_runs["out"] / "02_end_to_end_dynamics.csv")
    gap = frame[frame["panel"] == "gap"].sort_values("lr")
    assert len(gap) >= 3 and (gap["value"] > 0).all()
    slope = np.polyfit(np.log(gap["lr"]), np.log(gap["value"]), 1)[0]
    assert 0.8 <= slope <= 1.2, f"gap ~ lr^{slope:.2f}, expected lr^1"
    assert (gap["value"] < 0.1).all(), gap


def test_tutorial_8_width_is_invisible_under_balanced_init_only(quick_runs):
    """Under a balanced start with the same W_e, hidden width changes nothing
    (orthogonal equivariance): curves agree to rounding, far below 1e-6. The
    default init gives width-dependent curves (differences above 1e-2)."""
    frame = pd.read_csv(quick_runs["out"] / "08_width_does_not_matter.csv")

    def spread(init):
        table = frame[frame["init"] == init].pivot(index="step", columns="width", values="loss")
        assert table.shape[1] >= 3 and not table.isna().any().any()
        ref = table.iloc[:, 0].to_numpy()[:, None]
        return float(np.max(np.abs(table.to_numpy() - ref) / np.abs(ref)))

    assert spread("balanced") <= 1e-6
    assert spread("default") > 1e-2


def test_tutorial_10_tracked_segments_are_the_grids_run_and_gd_is_stable_below_2(quick_runs):
    """Plain GD has no state: the tracked run, in segments, is the grid's run
    bit for bit (the tutorial prints the check); every tracked run that
    finished kept lr * sharpness below 2, the stability bound of GD; and each
    run that blew up was sampled densely before it, past 2."""
    result = quick_runs["results"]["10_the_long_horizon"]
    assert result["code"] == 0, result["stderr"][-2000:]
    assert "segments reproduce the grid's run bit for bit: True" in result["stdout"]
    frame = pd.read_csv(quick_runs["out"] / "10_the_long_horizon.csv")
    tracked = frame[frame["panel"] == "tracked depth-2 GD"]
    dense = frame[frame["panel"] == "dense before blow-up"]
    assert len(tracked) >= 10 and (tracked["sharpness"] > 0).all()
    finished = tracked[~tracked["run"].isin(set(dense["run"]))]
    assert len(finished) and (finished["lr"] * finished["sharpness"] < 2).all()
    for run, samples in dense.groupby("run"):
        assert len(samples) >= 10 and (samples["lr"] * samples["sharpness"] >= 2).any(), run


@pytest.mark.parametrize("name", EXPECTED)
def test_tutorial_is_short_and_uses_only_public_names(name):
    """A tutorial is read top to bottom: at most 300 lines, and it reaches the
    library only through public names (no ``_private`` imports or attributes)."""
    import ast

    source = (TUTORIALS / f"{name}.py").read_text()
    assert len(source.splitlines()) <= 300, f"{name}: {len(source.splitlines())} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            assert not any(part.startswith("_") for part in (node.module or "").split(".")), \
                f"{name} imports from {node.module}"
            assert not any(a.name.startswith("_") for a in node.names), f"{name}: {node.module}"
        elif isinstance(node, ast.Attribute):
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            assert not private, f"{name} uses .{node.attr} (line {node.lineno})"


def test_tutorial_1_quotes_the_committed_finite_difference_minimum():
    """Tutorial 1's closing text quotes the smallest error of the committed
    full run and its step h, each to the two digits of ``%.1e``."""
    import re

    frame = pd.read_csv(FIGURES / "01_deep_linear_networks.csv")
    best = frame.loc[frame["relative_error"].idxmin()]

    def latex(x):
        mantissa, exponent = f"{x:.1e}".split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"

    text = re.sub(r"\s*\n#\s*", " ", (TUTORIALS / "01_deep_linear_networks.py").read_text())
    quote = (f"the error is smallest, :math:`{latex(best['relative_error'])}`, "
             f"at :math:`h = {latex(best['h'])}`")
    assert quote in text, quote


@pytest.mark.parametrize("name", EXPECTED)
def test_tutorial_text_is_clean_rest_without_links(name):
    """The text cells parse as reST (default role: code, as in docs/conf.py)
    without a warning, and make no ``mailto:`` link: docutils turns text like
    div@step outside code into one."""
    import io

    from docutils import nodes
    from docutils.core import publish_doctree

    parser = pytest.importorskip("sphinx_gallery.py_source_parser")
    blocks = parser.split_code_and_text_blocks(str(TUTORIALS / f"{name}.py"))[1]
    text = "\n\n".join(block.content for block in blocks if block.type == "text")
    warnings = io.StringIO()
    tree = publish_doctree(".. default-role:: code\n\n" + text, settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": warnings})
    assert not warnings.getvalue(), warnings.getvalue()
    mail = [node.get("refuri") for node in tree.findall(nodes.reference)
            if str(node.get("refuri", "")).startswith("mailto:")]
    assert not mail, mail


def test_figures_dir_sends_quick_runs_away_from_the_committed_figures(monkeypatch, tmp_path):
    import tempfile

    from deeplinear import tutorial

    monkeypatch.delenv("DEEPLINEAR_FIGURES_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEEPLINEAR_QUICK", "1")
    assert tutorial.figures_dir() == tmp_path / "deeplinear-quick-figures"
    monkeypatch.setenv("DEEPLINEAR_QUICK", "0")  # a full run: the checkout's figures/
    assert tutorial.repository_figures() == FIGURES
    assert tutorial.figures_dir() == FIGURES
    monkeypatch.setattr(tutorial, "repository_figures", lambda: None)  # not a checkout
    assert tutorial.figures_dir() == tmp_path / "figures"
    monkeypatch.setenv("DEEPLINEAR_FIGURES_DIR", str(tmp_path / "chosen"))  # overrides both
    assert tutorial.figures_dir() == tmp_path / "chosen"
    monkeypatch.setenv("DEEPLINEAR_QUICK", "1")
    assert tutorial.figures_dir() == tmp_path / "chosen"
