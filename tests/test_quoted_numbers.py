"""The numbers that the README's findings quote, recomputed from the committed CSVs.

Each case names a phrase of README.md ("Tutorials and figures", which
docs/findings.md includes, so the site says the same) by a regular expression
with one group, the quoted number, and a function that computes that number
from ``figures/NN_*.csv``. The tolerance is the number's own precision: the
value must round to the quoted digits, i.e. lie within half a unit of its
last quoted digit (``0.273`` covers [0.2725, 0.2735]; ``19,300`` covers
±50; ``3.4×`` covers ±0.05). A case may widen this, and says why.

The test fails if the sentence is gone, if it quotes another number, or if
the CSV gives another one; ``test_a_changed_number_fails`` checks the
comparison itself on every case.

Claims whose numbers are not in the committed CSVs (the seed ranges of
tutorial 5, the stability limit 0.0145, the steps of a blow-up, ...) are
not covered here; the tutorials print them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"


@cache
def readme() -> str:
    return " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


@cache
def csv(number: str) -> pd.DataFrame:
    (path,) = FIGURES.glob(f"{number}_*.csv")
    return pd.read_csv(path)


WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


def parse(text: str) -> tuple[float, float]:
    """A quoted number and its unit in the last place: '19,300' -> (19300, 100)."""
    if text in WORDS:
        return float(WORDS[text]), 1.0
    text = text.replace("\u2212", "-").replace(",", "").rstrip("%×x")
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** -decimals
    if "." not in mantissa:                       # 19300: trailing zeros are not digits
        digits = mantissa.lstrip("+-")
        unit = 10.0 ** (len(digits) - len(digits.rstrip("0"))) if digits.strip("0") else 1.0
    scale = 10.0 ** int(exponent) if exponent else 1.0
    return float(mantissa) * scale, unit * scale


def close(number: float, unit: float, value: float, slack: float = 0.0) -> bool:
    """True if ``value`` rounds to ``number`` quoted to ``unit`` (half a unit, plus ``slack``)."""
    return abs(value - number) <= 0.5 * unit * (1 + 1e-9) + slack


# --- the computations, one small function per kind of number ----------------------

def fd_minimum(column):
    d = csv("01")
    return float(d.loc[d["relative_error"].idxmin(), column])


def gap_over_lr(pick):
    g = csv("02").query("panel == 'gap'")
    return float(pick(g["value"] / g["lr"]))


def gap_slope():
    g = csv("02").query("panel == 'gap'")
    return float(np.polyfit(np.log(g["lr"]), np.log(g["value"]), 1)[0])


def report_final(dataset, grid):
    """Tutorial 3: final losses, one row per seed, one column per architecture."""
    d = csv("03").query("dataset == @dataset and lr_grid == @grid")
    return d[d["step"] == d["step"].max()].pivot_table(index="seed", columns="arch", values="loss")


def vs_depth1_mean(dataset, grid, arch):
    f = report_final(dataset, grid).mean()
    return 100 * (f[arch] / f["[]"] - 1)


def vs_depth1_seed(dataset, grid, arch, pick):
    f = report_final(dataset, grid)
    return float(pick(100 * (f[arch] / f["[]"] - 1)))


def deeper_vs_depth1(dataset, pick):
    f = report_final(dataset, "report").mean()
    return float(pick(100 * (f.drop("[]") / f["[]"] - 1)))


def deeper_vs_depth1_any_seed(dataset, pick):
    f = report_final(dataset, "report")
    return float(pick((100 * (f.drop(columns="[]").div(f["[]"], axis=0) - 1)).to_numpy()))


def within_1pct_of_best(dataset, grid):
    f = report_final(dataset, grid).mean()
    return int((f <= f.min() * 1.01).sum())


def init_final_means():
    d = csv("04")
    last = d[d["step"] == d["step"].max()]
    return last.groupby(["dataset", "init", "depth", "arch"])["loss"].mean().reset_index()


def width_spread(inits, pick):
    m = init_final_means().query("depth > 1 and init in @inits")
    spread = m.groupby(["dataset", "init", "depth"])["loss"].agg(lambda v: v.max() / v.min() - 1)
    return float(pick(spread))


def adam_vs_sgd(count):
    d = csv("05")
    last = d[d["step"] == d["step"].max()]
    s = last.groupby(["dataset", "arch", "optimizer"])["loss"].agg(["mean", "min", "max"]).unstack()
    if count == "pairs":
        return int(len(s))
    if count == "mean below":
        return int((s[("mean", "adam")] < s[("mean", "sgd")]).sum())
    return int((s[("max", "adam")] < s[("min", "sgd")]).sum())   # seed ranges apart


def one_seed(number, seed="mean"):
    """Tutorials 6 and 7: the rows of one seed ("0", "1", "2") or of their mean ("mean")."""
    d = csv(number)
    return d[d["seed"].astype(str) == seed]


def seeds(number):
    """The single seeds of tutorial 6's or 7's CSV, as strings."""
    return sorted(set(csv(number)["seed"].astype(str)) - {"mean"})


def curves(number, key, seed="mean", value="value"):
    return {k: g.set_index("step")[value] for k, g in one_seed(number, seed).groupby(key)}


def first_hit(curve, target):
    return int(curve[curve <= target].index.min())


SCALAR_ARCHS = ("[1,1,1]", "[1,1,1,1,1]", "[1,1,1,1,1,1,1]")   # tutorial 6: depths 4, 6, 8
DEEPER_06 = ("[10]", "[10,10]", *SCALAR_ARCHS)


def l2_l4(loss, seed="mean"):
    return {k: g.set_index("step")["value"]
            for k, g in one_seed("06", seed).query("loss == @loss").groupby("arch")}


def l2_l4_target(loss):
    """1.1x depth 1's best mean final loss (the seed mean curve's last value)."""
    return 1.1 * float(l2_l4(loss)["[]"].iloc[-1])


def l2_l4_steps(loss, arch, seed="mean"):
    return first_hit(l2_l4(loss, seed)[arch], l2_l4_target(loss))


def l2_l4_speedup(loss, arch, seed="mean"):
    return l2_l4_steps(loss, "[]", seed) / l2_l4_steps(loss, arch, seed)


def l2_l4_final(loss, arch, seed="mean"):
    return float(l2_l4(loss, seed)[arch].iloc[-1])


def l2_l4_over_seeds(pick, what, loss, *archs):
    """pick (np.min, np.max) of what(loss, arch, seed) over the single seeds and archs."""
    return float(pick([what(loss, a, s) for s in seeds("06") for a in archs]))


def l2_l4_at(loss, arch, step):
    return float(l2_l4(loss)[arch].loc[step])


def l2_l4_lr(arch):
    return float(one_seed("06").query("loss == 'l4' and arch == @arch")["lr"].iloc[0])


RANGE = r"[\d.,]+ \[[\d.,]+, [\d.,]+\]"   # a quoted "mean [min, max]", not checked here


def with_range(id, before, value, after=""):
    """Three cases for a quoted "<before>mean [min, max]<after>": ``value(None)``
    (the mean, or the seed mean curve's figure) and ``value(np.min)``,
    ``value(np.max)`` (over the single seeds)."""
    num = r"[\d.,]+"
    return [Case(id, rf"{before}{N} \[{num}, {num}\]{after}", lambda: value(None)),
            Case(f"{id} min", rf"{before}{num} \[{N}, {num}\]{after}", lambda: value(np.min)),
            Case(f"{id} max", rf"{before}{num} \[{num}, {N}\]{after}", lambda: value(np.max))]


def l2_l4_with_range(id, before, what, arch, loss="l4", after=""):
    """``with_range`` of what(loss, arch) on the seed mean curve and over the seeds."""
    return with_range(id, before, lambda pick: what(loss, arch) if pick is None
                      else l2_l4_over_seeds(pick, what, loss, arch), after)


def scalar_between_seeds():
    """The seeds in which each of depths 4, 6, 8 (l4) is slower to the target
    than depth 2 and faster than depth 1, and ends above depth 2 and below depth 1."""
    def between(arch, seed):
        steps = [l2_l4_steps("l4", a, seed) for a in ("[10]", arch, "[]")]
        finals = [l2_l4_final("l4", a, seed) for a in ("[10]", arch, "[]")]
        return steps[0] < steps[1] < steps[2] and finals[0] < finals[1] < finals[2]
    return sum(all(between(a, s) for a in SCALAR_ARCHS) for s in seeds("06"))


M07 = {"gd1": "GD, depth 1 []", "gd2": "GD, depth 2 [1], one extra scalar",
       "gd2w10": "GD, depth 2 [10]", "adagrad": "AdaGrad, depth 1 []",
       "adadelta": "AdaDelta, depth 1 []"}


def m07(method, seed="mean"):
    return curves("07", "method", seed)[M07[method]]


def m07_steps(method, seed="mean"):
    """Steps to 1.1x GD depth 1's best mean final loss (the seed mean curve's last value)."""
    return first_hit(m07(method, seed), 1.1 * float(m07("gd1").iloc[-1]))


def m07_final(method, seed="mean"):
    return float(m07(method, seed).iloc[-1])


def m07_over_seeds(pick, what, method):
    return float(pick([what(method, s) for s in seeds("07")]))


def m07_with_range(id, before, what, method, after=""):
    """``with_range`` of what(method) on the seed mean curve and over the seeds."""
    return with_range(id, before, lambda pick: what(method) if pick is None
                      else m07_over_seeds(pick, what, method), after)


def m07_seeds_where(wins):
    """How many seeds satisfy wins(seed)."""
    return sum(bool(wins(s)) for s in seeds("07"))


def m07_beats(seed, *others):
    """Depth-2 GD reaches the target sooner and ends lower than each of others."""
    return all(m07_steps("gd2", seed) < m07_steps(o, seed) and
               m07_final("gd2", seed) < m07_final(o, seed) for o in others)


def width_gap_07():
    """Width 1 against width 10, largest relative difference over the single seeds."""
    return max(float(((m07("gd2", s) - m07("gd2w10", s)).abs() / m07("gd2w10", s)).max())
               for s in seeds("07"))


def width_08(init):
    d = csv("08").query("init == @init").pivot(index="step", columns="width", values="loss")
    return float(d.sub(d[1], axis=0).abs().div(d[1], axis=0).max().max())


def landscape_best(dataset, budget):
    """Tutorial 9: each architecture's best mean final loss (no seed diverged)."""
    r = csv("09").query("kind == 'run' and dataset == @dataset and steps_budget == @budget")
    g = r.groupby(["arch", "lr"])
    means = g["final_loss"].mean()[~g["diverged"].any()]
    return means.groupby(level="arch").agg(["min", "idxmin"])


def landscape_spread(budget):
    return max(100 * (b["min"].max() / b["min"].min() - 1)
               for b in (landscape_best(ds, budget) for ds in ("abalone", "ethanol")))


# 10. the long horizon: "runs" (every run's final loss, steps to the target, blow-up),
# "curves" (each seed at the lr of either criterion), the tracked depth-2 GD runs of
# seed 0 and the dense samples before their blow-ups.
GD1, GD2, ADAM2 = "GD, depth 1", "GD, depth 2 [1]", "Adam, depth 2 [1]"
TF, TORCH = "AdaDelta (TF)", "AdaDelta (torch)"
R25, R5, R3 = "lr 0.00025", "lr 0.0005", "lr 0.0003"
RDECAY = "lr 0.0005 / sqrt(1 + t/100000)"


def runs_10(method):
    return csv("10").query("panel == 'runs' and method == @method")


def target_10():
    """1.1x GD depth 1's best mean final loss over the seeds."""
    return 1.1 * float(runs_10(GD1).groupby("lr")["final_loss"].mean().min())


def lr_10(method, criterion):
    """A method's lr: the lowest mean final loss, no seed diverged ("final"), or the
    fewest mean steps to the target, every seed there ("speed")."""
    by_lr = runs_10(method).groupby("lr")
    means = (by_lr["final_loss"].mean() if criterion == "final" else
             by_lr["steps_to_target"].agg(lambda s: s.mean(skipna=False)))
    return float(means[np.isfinite(means)].idxmin())


def seeds_10(method, criterion):
    """Per seed, from its curve at the criterion's lr: steps (the first recorded step
    at or below the target; NaN if never) and final (the last loss)."""
    d, target = csv("10"), target_10()
    d = d[(d["panel"] == "curves") & (d["method"] == method) & (d["lr"] == lr_10(method, criterion))]
    rows = [{"seed": seed, "steps": c.set_index("step")["loss"].le(target).idxmax()
             if c["loss"].le(target).any() else np.nan, "final": c["loss"].iloc[-1]}
            for seed, c in d.groupby("seed")]
    return pd.DataFrame(rows).set_index("seed")


def h10(method, criterion, column, pick=np.mean):
    return float(pick(seeds_10(method, criterion)[column]))


def h10_range(id, before, method, criterion, column, after=""):
    """``with_range`` of h10: the mean over seeds, and the min and max."""
    return with_range(id, before, lambda pick: h10(method, criterion, column, pick or np.mean),
                      after)


def lower_10(a, b, criterion, column):
    """In how many seeds a's value is below b's (each at its lr of the criterion)."""
    return int((seeds_10(a, criterion)[column] < seeds_10(b, criterion)[column]).sum())


def adam_below_all_10():
    finals = pd.DataFrame({m: seeds_10(m, "final")["final"] for m in csv("10").query(
        "panel == 'runs'")["method"].unique()})
    adam = finals.filter(like="Adam")
    return int((adam.max(axis=1) < finals.drop(columns=adam.columns).min(axis=1)).sum())


def adam_depth_gap_10():
    """Adam's steps on depth 1 less depth 2, if the same in every seed (else NaN)."""
    gap = seeds_10("Adam, depth 1", "speed")["steps"] - seeds_10(ADAM2, "speed")["steps"]
    return float(gap.iloc[0]) if gap.nunique() == 1 else math.nan


def diverged_10(method, lr, pick):
    at = runs_10(method).query("lr == @lr")["diverged_at"]
    return int(at.notna().sum()) if pick == "count" else float(pick(at))


def stable_fastest_10():
    """The fewest mean steps to the target among the lrs at which no seed diverged."""
    r = runs_10(GD2)
    ok = r.groupby("lr").filter(lambda g: g["diverged_at"].isna().all())
    return float(ok.groupby("lr")["steps_to_target"].mean().min())


def curve_spacing_10():
    """The step of every curve's first record (the curves start at step 0)."""
    first = csv("10").query("panel == 'curves'").groupby(["method", "lr", "seed"])["step"].nth(1)
    return float(first.iloc[0]) if first.nunique() == 1 else math.nan


def tracked_10(run):
    return csv("10").query("panel == 'tracked depth-2 GD' and run == @run").set_index("step")


def tracked_product_10(run):
    t = tracked_10(run)
    return t["lr"] * t["sharpness"]


def dense_10(run):
    """The samples before a tracked run's blow-up (at ``diverged_at``)."""
    return csv("10").query("panel == 'dense before blow-up' and run == @run").set_index("step")


def dense_product_10(run, i):
    d = dense_10(run)
    return float((d["lr"] * d["sharpness"]).iloc[i])


def dense_first_past_2(run):
    d = dense_10(run)
    product = d["lr"] * d["sharpness"]
    return int(product[product > 2].index.min())


def dense_spacing_10():
    spacing = {s for run, d in csv("10").query("panel == 'dense before blow-up'").groupby("run")
               for s in np.diff(d["step"])}
    return float(spacing.pop()) if len(spacing) == 1 else math.nan


def dense_window_10():
    """The longest stretch from a run's first dense sample to its blow-up."""
    d = csv("10").query("panel == 'dense before blow-up'")
    return float(d.groupby("run").apply(lambda g: g["diverged_at"].iloc[0] - g["step"].min()).max())


# --- the cases ------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    pattern: str            # a regex on the README (whitespace collapsed), one group: the number
    compute: Callable[[], float]
    slack: float = 0.0      # beyond half a unit of the last digit; the case says why

    def quoted(self) -> str:
        text = finding(int(self.id[:2]))
        found = re.findall(self.pattern, text)
        assert len(found) == 1, (
            f"{self.id}: expected finding {int(self.id[:2])} of the README to say "
            f"{self.pattern!r} once, found {len(found)}")
        return found[0]


def finding(n: int) -> str:
    """The README's paragraph on tutorial n, from "**n. [" to the next one."""
    text = readme()
    start = text.index(f"**{n}. [")
    end = text.find(f"**{n + 1}. [", start)
    return text[start:end if end > 0 else text.index("## For instructors", start)]


N = r"([\u2212+-]?[\d,]*\d(?:\.\d+)?(?:e-?\d+)?)"   # a quoted number
CASES = [
    # 1. finite differences
    Case("01 smallest error", rf"it is smallest, {N}, at \$h\$ = ", lambda: fd_minimum("relative_error")),
    Case("01 at h", rf"it is smallest, [^,]+, at \$h\$ = {N};", lambda: fd_minimum("h")),
    # 2. the closed form of Theorem 1
    Case("02 gap/lr low", rf"relative gap of {N}–", lambda: gap_over_lr(np.min)),
    Case("02 gap/lr high", rf"relative gap of [\d.]+–{N} × lr", lambda: gap_over_lr(np.max)),
    Case("02 slope", rf"log-log slope {N} over", gap_slope),
    Case("02 largest lr", rf"over lr = {N} …", lambda: csv("02").query("panel == 'gap'")["lr"].max()),
    Case("02 smallest lr", rf"over lr = [\d.]+ … {N},", lambda: csv("02").query("panel == 'gap'")["lr"].min()),
    # 3. the report's Figure 2
    Case("03 ethanol depth 1", rf"best on Ethanol \({N};",
         lambda: report_final("ethanol", "report").mean()["[]"]),
    Case("03 ethanol deeper low", rf"deeper nets are {N}–", lambda: deeper_vs_depth1("ethanol", np.min)),
    Case("03 ethanol deeper high", rf"deeper nets are \d+–{N}% worse",
         lambda: deeper_vs_depth1("ethanol", np.max)),
    Case("03 ethanol any seed low", rf"every seed from {N}% to",
         lambda: deeper_vs_depth1_any_seed("ethanol", np.min)),
    Case("03 ethanol any seed high", rf"every seed from [+\d.]+% to {N}%\)",
         lambda: deeper_vs_depth1_any_seed("ethanol", np.max)),
    Case("03 [64] mean", rf"depth 1 on average \(by {N}% \[",
         lambda: -vs_depth1_mean("abalone", "report", "[64]")),
    Case("03 [64] seed low", rf"\(by [\d.]+% \[{N}%,", lambda: vs_depth1_seed("abalone", "report", "[64]", np.min)),
    Case("03 [64] seed high", rf"\(by [\d.]+% \[[^,]+, {N}%\] and",
         lambda: vs_depth1_seed("abalone", "report", "[64]", np.max)),
    Case("03 [64,64] mean", rf"\] and {N}% \[", lambda: -vs_depth1_mean("abalone", "report", "[64,64]")),
    Case("03 [64,64] seed low", rf"\] and [\d.]+% \[{N}%,",
         lambda: vs_depth1_seed("abalone", "report", "[64,64]", np.min)),
    Case("03 [64,64] seed high", rf"\] and [\d.]+% \[[^,]+, {N}%\]: not in",
         lambda: vs_depth1_seed("abalone", "report", "[64,64]", np.max)),
    Case("03 14 best lrs at the top", rf"But all {N} best lrs are the grid's top value",
         lambda: int((csv("03").query("lr_grid == 'report'").groupby(["dataset", "arch"])["lr"].first()
                      == csv("03")["lr"].loc[csv("03")["lr_grid"] == "report"].max()).sum())),
    Case("03 the top value", rf"the grid's top value, {N}\.",
         lambda: csv("03").query("lr_grid == 'report'")["lr"].max()),
    Case("03 abalone wide within 1%", r"grid widened to 0.5, (five) of the seven Abalone nets",
         lambda: within_1pct_of_best("abalone", "wide")),
    Case("03 [64,64] stable at", rf"`\[64,64\]` is stable at {N} and",
         lambda: csv("03").query("dataset == 'ethanol' and lr_grid == 'wide' and arch == '[64,64]'")["lr"].iloc[0]),
    Case("03 [64,64] wide mean", rf"and beats it by {N}% \[",
         lambda: -vs_depth1_mean("ethanol", "wide", "[64,64]")),
    Case("03 [64,64] wide seed low", rf"beats it by [\d.]+% \[{N}%,",
         lambda: vs_depth1_seed("ethanol", "wide", "[64,64]", np.min)),
    Case("03 [64,64] wide seed high", rf"beats it by [\d.]+% \[[^,]+, {N}%\]",
         lambda: vs_depth1_seed("ethanol", "wide", "[64,64]", np.max)),
    # 4. initializations
    Case("04 balanced spread", rf"\(spread ≤ {N}\)", lambda: width_spread(["balanced"], np.max)),
    Case("04 other inits low", rf"vary with width by {N}–",
         lambda: 100 * width_spread(["near_zero", "near_identity"], np.min)),
    Case("04 other inits high", rf"vary with width by \d+–{N}%",
         lambda: 100 * width_spread(["near_zero", "near_identity"], np.max)),
    # 5. SGD against Adam
    Case("05 pairs", rf"Adam ends below SGD in all {N} \(architecture", lambda: adam_vs_sgd("mean below")),
    Case("05 pairs total", rf"Adam ends below SGD in all {N} \(architecture", lambda: adam_vs_sgd("pairs")),
    Case("05 seed ranges apart", rf"below SGD's in {N} of them", lambda: adam_vs_sgd("apart")),
    # 6. l2 against l4 (the seed mean curves; [min, max] over the seeds' own curves)
    Case("06 l4 speed-up", rf"best loss {N}× sooner", lambda: l2_l4_speedup("l4", "[10]")),
    *l2_l4_with_range("06 l4 depth 2 steps", r"sooner \(", l2_l4_steps, "[10]", after=" steps"),
    *l2_l4_with_range("06 l4 depth 1 steps", "steps against ", l2_l4_steps, "[]",
                      after="; depth 3"),
    Case("06 l4 depth 3 speed-up", rf"depth 3: {N}×\)", lambda: l2_l4_speedup("l4", "[10,10]")),
    *l2_l4_with_range("06 l4 depth 2 final", "and ends at ", l2_l4_final, "[10]",
                      after=" against"),
    *l2_l4_with_range("06 l4 depth 1 final", r"\] against ", l2_l4_final, "[]",
                      after=r"\. More depth"),
    *l2_l4_with_range("06 l4 depth 4 steps", r"depths 4, 6 and 8 need ", l2_l4_steps, "[1,1,1]"),
    *l2_l4_with_range("06 l4 depth 6 steps", rf"depths 4, 6 and 8 need {RANGE}, ", l2_l4_steps,
                      "[1,1,1,1,1]"),
    *l2_l4_with_range("06 l4 depth 8 steps", rf"depths 4, 6 and 8 need {RANGE}, {RANGE} and ",
                      l2_l4_steps, "[1,1,1,1,1,1,1]"),
    Case("06 l4 depth 4 speed-up", rf"steps \({N}×, ", lambda: l2_l4_speedup("l4", "[1,1,1]")),
    Case("06 l4 depth 6 speed-up", rf"steps \([\d.]+×, {N}× and",
         lambda: l2_l4_speedup("l4", "[1,1,1,1,1]")),
    Case("06 l4 depth 8 speed-up", rf"× and {N}× as fast as depth 1\)",
         lambda: l2_l4_speedup("l4", "[1,1,1,1,1,1,1]")),
    *l2_l4_with_range("06 l4 depth 4 final", r"as fast as depth 1\) and end at ", l2_l4_final,
                      "[1,1,1]"),
    *l2_l4_with_range("06 l4 depth 6 final", rf"as fast as depth 1\) and end at {RANGE}, ",
                      l2_l4_final, "[1,1,1,1,1]"),
    *l2_l4_with_range("06 l4 depth 8 final", rf"as fast as depth 1\) and end at {RANGE}, {RANGE} and ",
                      l2_l4_final, "[1,1,1,1,1,1,1]"),
    Case("06 l4 depths 4-8 between 2 and 1", r"between depth 2 and depth 1 on both counts in all (\w+) seeds",
         scalar_between_seeds),
    Case("06 l4 depths 4-8 at 1000 low", rf"at step 1,000 their loss is {N}–",
         lambda: min(l2_l4_at("l4", a, 1000) for a in SCALAR_ARCHS)),
    Case("06 l4 depths 4-8 at 1000 high", rf"at step 1,000 their loss is [\d.]+–{N},",
         lambda: max(l2_l4_at("l4", a, 1000) for a in SCALAR_ARCHS)),
    Case("06 l4 depth 1 at 1000", rf"against {N} for depth 1, because", lambda: l2_l4_at("l4", "[]", 1000)),
    Case("06 l4 depth 4 lr", rf"best lr falls with depth \({N},", lambda: l2_l4_lr("[1,1,1]")),
    Case("06 l4 depth 6 lr", rf"best lr falls with depth \([^,]+, {N},", lambda: l2_l4_lr("[1,1,1,1,1]")),
    Case("06 l4 depth 8 lr", rf"best lr falls with depth \([^,]+, [^,]+, {N};",
         lambda: l2_l4_lr("[1,1,1,1,1,1,1]")),
    Case("06 l2 slow-down low", rf"target {N}–[\d.]+× as fast",
         lambda: min(l2_l4_speedup("l2", a) for a in DEEPER_06)),
    Case("06 l2 slow-down high", rf"target [\d.]+–{N}× as fast",
         lambda: max(l2_l4_speedup("l2", a) for a in DEEPER_06)),
    Case("06 l2 slow-down any seed low", rf"\(each seed {N}–",
         lambda: l2_l4_over_seeds(np.min, l2_l4_speedup, "l2", *DEEPER_06)),
    Case("06 l2 slow-down any seed high", rf"\(each seed [\d.]+–{N}×\)",
         lambda: l2_l4_over_seeds(np.max, l2_l4_speedup, "l2", *DEEPER_06)),
    Case("06 l2 deeper final any seed low", rf"higher, at {N}–",
         lambda: l2_l4_over_seeds(np.min, l2_l4_final, "l2", *DEEPER_06)),
    Case("06 l2 deeper final any seed high", rf"higher, at [\d.]+–{N} in every seed",
         lambda: l2_l4_over_seeds(np.max, l2_l4_final, "l2", *DEEPER_06)),
    *l2_l4_with_range("06 l2 depth 1 final", "in every seed against ", l2_l4_final, "[]",
                      loss="l2"),
    # 7. depth against AdaGrad and AdaDelta at 1e5 steps (seed mean; [min, max] over seeds)
    Case("07 width 1 = width 10", rf"the same curve as width 10 to {N} in every seed", width_gap_07),
    Case("07 speed-up", rf"\({N}× sooner to the target",
         lambda: m07_steps("gd1") / m07_steps("gd2")),
    *m07_with_range("07 depth 2 final", r"sooner to the target; ", m07_final, "gd2"),
    *m07_with_range("07 depth 1 final", r"sooner to the target; [\d.]+ \[[\d.]+, [\d.]+\] against ",
                    m07_final, "gd1"),
    *m07_with_range("07 adagrad steps", r"and AdaGrad \(", m07_steps, "adagrad"),
    *m07_with_range("07 adagrad final", r"steps to the target; ", m07_final, "adagrad"),
    Case("07 beats GD and AdaGrad in every seed", r"sooner and lower in all (\w+) seeds",
         lambda: m07_seeds_where(lambda s: m07_beats(s, "gd1", "adagrad"))),
    *m07_with_range("07 adadelta at 1000", r"a loss of ", lambda m, s="mean": float(m07(m, s).loc[1000]),
                    "adadelta"),
    Case("07 depth 2 at 1000", rf"against {N} for depth 2\)", lambda: float(m07("gd2").loc[1000])),
    *m07_with_range("07 adadelta steps", r"AdaDelta reaches the target in ", m07_steps, "adadelta"),
    *m07_with_range("07 depth 2 steps", r"AdaDelta reaches the target in [\d,]+ \[[\d,]+, [\d,]+\] "
                    r"steps against ", m07_steps, "gd2"),
    Case("07 adadelta sooner in every seed", r"sooner in all (\w+) seeds, while",
         lambda: m07_seeds_where(lambda s: m07_steps("adadelta", s) < m07_steps("gd2", s))),
    Case("07 depth 2 lower in every seed", r"depth 2 ends lower in all (\w+) seeds",
         lambda: m07_seeds_where(lambda s: m07_final("gd2", s) < m07_final("adadelta", s))),
    *m07_with_range("07 depth 2 final (4 digits)", r"seeds, at ", m07_final, "gd2"),
    *m07_with_range("07 adadelta final", r"seeds, at [\d.]+ \[[\d.]+, [\d.]+\] against ",
                    m07_final, "adadelta"),
    # 8. width does not matter
    Case("08 balanced", rf"trace the same Abalone curve to {N}\.", lambda: width_08("balanced")),
    Case("08 default", rf"the curves differ by up to {N}%:", lambda: 100 * width_08("default")),
    # 9. the learning-rate landscape
    Case("09 [64,64] best lr", rf"and `\[64,64\]` at lr {N} is best on a wider one",
         lambda: landscape_best("ethanol", 100).loc["[64,64]", "idxmin"][1]),   # (arch, lr)
    Case("09 1000 steps", rf"After 1000 steps all nets end within about {N}% of each other",
         lambda: landscape_spread(1000)),
    # 10. the long horizon: per seed, each method at the lr of each criterion
    Case("10 recorded every", rf"curves are recorded every {N} steps", lambda: curve_spacing_10()),
    Case("10 Adam 2 final", rf"It ends at {N} on depth 2 and", lambda: h10(ADAM2, "final", "final")),
    Case("10 Adam 1 final", rf"on depth 2 and {N} on depth 1, below",
         lambda: h10("Adam, depth 1", "final", "final")),
    Case("10 Adam below all", r"below every other method in all (three) seeds", adam_below_all_10),
    Case("10 Adam 2 steps", rf"reaches the target in {N} steps on depth 2",
         lambda: h10(ADAM2, "speed", "steps")),
    Case("10 Adam 1 steps", rf"steps on depth 2 and {N} on depth 1\.",
         lambda: h10("Adam, depth 1", "speed", "steps")),
    Case("10 Adam depth lower", r"depth 2 ends lower in all (three) seeds",
         lambda: lower_10(ADAM2, "Adam, depth 1", "final", "final")),
    Case("10 Adam depth sooner", rf"gets there {N} steps sooner in each", adam_depth_gap_10),
    *h10_range("10 depth 2 final", "GD on depth 2 ends at ", GD2, "final", "final"),
    *h10_range("10 GD final", "against ", GD1, "final", "final", after=" for GD and"),
    *h10_range("10 AdaGrad final", "and ", "AdaGrad", "final", "final", after=" for AdaGrad"),
    Case("10 depth 2 below GD and AdaGrad", r"for AdaGrad, lower in all (three) seeds",
         lambda: min(lower_10(GD2, m, "final", "final") for m in (GD1, "AdaGrad"))),
    Case("10 speed-up", rf"reaches the target {N}× sooner than GD",
         lambda: h10(GD1, "final", "steps") / h10(GD2, "final", "steps")),
    *h10_range("10 depth 2 steps", r"sooner than GD \(", GD2, "final", "steps"),
    *h10_range("10 GD steps", "steps against ", GD1, "final", "steps", after=r"\)\."),
    Case("10 AdaDelta below depth 2", r"AdaDelta ends lower than depth 2 in all (three) seeds",
         lambda: min(lower_10(m, GD2, "final", "final") for m in (TF, TORCH))),
    *h10_range("10 TF final", "with TensorFlow's settings at ", TF, "final", "final"),
    *h10_range("10 torch final", "with torch's at ", TORCH, "final", "final"),
    *h10_range("10 TF steps", "reaches the target sooner, in ", TF, "final", "steps"),
    *h10_range("10 torch steps", r"\] and ", TORCH, "final", "steps",
              after=r" steps\. By speed"),
    Case("10 depth 2 speed lr", rf"By speed, depth 2's lr is {N},", lambda: lr_10(GD2, "speed")),
    Case("10 depth 2 before AdaDelta", r"before both AdaDeltas in all (three) seeds",
         lambda: min(lower_10(GD2, m, "speed", "steps") for m in (TF, TORCH))),
    *h10_range("10 depth 2 speed steps", "seeds: in ", GD2, "speed", "steps"),
    *h10_range("10 torch speed steps", "against ", TORCH, "speed", "steps",
              after=" for torch's"),
    Case("10 torch speed lr", rf"for torch's AdaDelta \(lr {N}\)", lambda: lr_10(TORCH, "speed")),
    *h10_range("10 TF speed steps", "and ", TF, "speed", "steps", after=" for TensorFlow's"),
    Case("10 TF speed lr", rf"for TensorFlow's \(lr {N}\)", lambda: lr_10(TF, "speed")),
    Case("10 speed lr diverges", r"But at 5e-4 all (three) seeds diverge",
         lambda: diverged_10(GD2, 5e-4, "count")),
    Case("10 speed lr diverges first", rf"soon after, between steps {N} and",
         lambda: diverged_10(GD2, 5e-4, np.min)),
    Case("10 speed lr diverges last", rf"between steps [\d,]+ and {N};",
         lambda: diverged_10(GD2, 5e-4, np.max)),
    Case("10 depth 2 stable fastest", rf"no seed diverges need at least {N} steps", stable_fastest_10),
    Case("10 TF below torch", r"TensorFlow's ends lower in all (three) seeds",
         lambda: lower_10(TF, TORCH, "final", "final")),
    Case("10 torch before TF", r"torch's gets there sooner in all (three)\.",
         lambda: lower_10(TORCH, TF, "speed", "steps")),
    Case("10 dense every", rf"Sampled every {N} steps", lambda: dense_spacing_10()),
    Case("10 dense window", rf"over the last {N} steps before each blow-up", dense_window_10),
    Case("10 5e-4 first sample", rf" is {N} at step [\d,]+, first exceeds", lambda: dense_product_10(R5, 0)),
    Case("10 5e-4 first sample step", rf" is [\d.]+ at step {N}, first exceeds",
         lambda: dense_10(R5).index.min()),
    Case("10 5e-4 past 2", rf", first exceeds 2 at step {N}, and", lambda: dense_first_past_2(R5)),
    Case("10 5e-4 blow-up", rf"blows up at step {N}; at lr 3e-4",
         lambda: dense_10(R5)["diverged_at"].iloc[0]),
    Case("10 3e-4 past 2", rf"it first exceeds 2 at step {N},", lambda: dense_first_past_2(R3)),
    Case("10 3e-4 blow-up", rf"blows up at step {N}\. At the", lambda: dense_10(R3)["diverged_at"].iloc[0]),
    Case("10 final-loss lr", rf"At the final-loss lr, {N},", lambda: lr_10(GD2, "final")),
    Case("10 norm from", rf"grows from {N} to", lambda: tracked_10(R25)["norm_e"].iloc[0]),
    Case("10 norm to", rf"grows from [\d.]+ to {N} and", lambda: tracked_10(R25)["norm_e"].iloc[-1]),
    Case("10 best lr edge", rf"\$ to {N} at step 1e6", lambda: tracked_product_10(R25).iloc[-1]),
    Case("10 decay edge", rf"stays at most {N} and", lambda: tracked_product_10(RDECAY).max()),
    Case("10 decay final", rf"and ends at {N}, behind both AdaDeltas",
         lambda: tracked_10(RDECAY)["loss"].iloc[-1]),
]



# 11. what the data could change: per variant and method, seed means (NaN if a
# seed never reached the target) at the lr of each criterion.
D11, A11, M11, G11 = "GD, depth 2 [1]", "AdaDelta, depth 1", "Adam, depth 1", "GD, depth 1"


def csv_11(horizon=100_000):
    d = csv("11")
    return d[d["horizon"] == horizon]


def table_11(criterion, column, horizon=100_000):
    d = csv_11(horizon)
    at = d[d["criterion"] == criterion]
    return at.groupby(["variant", "method"])[column].agg(lambda v: v.mean(skipna=False)).unstack()


def seed_11(variant, method, pick):
    d = csv_11()
    return float(pick(d.query("criterion == 'fastest' and variant == @variant "
                              "and method == @method")["steps_to_target"]))


def lobo_11():
    return [v for v in table_11("fastest", "steps_to_target").index if v.startswith("without")]


def count_11(a, b, criterion="fastest", column="steps_to_target"):
    """Leave-one-out variants where ``a`` is below ``b`` (never reached: last)."""
    t = table_11(criterion, column).loc[lobo_11()].fillna(np.inf)
    return float((t[a] < t[b]).sum())


def adam_ratio_11(pick):   # "in the other seven": without batch 2 is quoted on its own
    t = table_11("fastest", "steps_to_target").loc[[v for v in lobo_11() if v != "without batch 2"]]
    return float(pick((t[D11] / t[M11]).dropna()))


def final_flips_11():
    t = table_11("final", "final_loss")
    reference = np.sign(t.loc["all 8 (reference)", D11] - t.loc["all 8 (reference)", A11])
    return float((np.sign(t.loc[lobo_11(), D11] - t.loc[lobo_11(), A11]) != reference).sum())


REF11 = "all 8 (reference)"
CASES += [
    *[Case(f"11 {who} {stat}", rf"{before}{pattern}", lambda m=method, p=pick: seed_11(REF11, m, p))
      for who, method, before in (("depth 2", D11, "depth-2 GD gets there in "),
                                  ("AdaDelta", A11, r"before AdaDelta \("),
                                  ("Adam", M11, r"and after Adam \("))
      for stat, pattern, pick in (("mean", rf"{N} \[", np.mean), ("min", rf"[\d,]+ \[{N},", np.min),
                                  ("max", rf"[\d,]+ \[[\d,]+, {N}\]", np.max))],
    Case("11 ahead of AdaDelta", rf"ahead of AdaDelta in {N} of the 8 variants",
         lambda: count_11(D11, A11)),
    Case("11 behind Adam", rf"behind Adam in all {N}\.", lambda: count_11(M11, D11)),
    Case("11 without 2 depth 2", rf"Without batch 2, depth-2 GD needs {N} steps",
         lambda: table_11("fastest", "steps_to_target").loc["without batch 2", D11]),
    Case("11 without 2 AdaDelta", rf"needs [\d,]+ steps and AdaDelta {N};",
         lambda: table_11("fastest", "steps_to_target").loc["without batch 2", A11]),
    Case("11 whitened Adam", rf"target before Adam \({N} steps\)",
         lambda: table_11("fastest", "steps_to_target").loc["whitened features", M11]),
    *[Case(f"11 1e6 {variant} {who}", pattern,
           lambda v=variant, m=method, c=criterion, col=column:
           table_11(c, col, 1_000_000).loc[v, m])
      for variant, who, method, criterion, column, pattern in (
          ("first 4 batches", "AdaDelta", A11, "fastest", "steps_to_target",
           rf"first 4 batches AdaDelta reaches the target in {N} steps"),
          ("first 4 batches", "depth 2", D11, "fastest", "steps_to_target",
           rf"against depth-2 GD's {N}, on"),
          ("first 5 batches", "AdaDelta", A11, "fastest", "steps_to_target",
           rf"on the first 5 in {N} against"),
          ("first 5 batches", "depth 2", D11, "fastest", "steps_to_target",
           rf"on the first 5 in [\d,]+ against {N}, and"),
          ("without batch 2", "AdaDelta", A11, "fastest", "steps_to_target",
           rf"and without batch 2 in {N} against"),
          ("without batch 2", "depth 2", D11, "fastest", "steps_to_target",
           rf"without batch 2 in [\d,]+ against {N}\."),
          ("first 4 batches", "depth 2 final", D11, "final", "final_loss",
           rf"first 4 and 5 batches \({N} against"),
          ("first 4 batches", "AdaDelta final", A11, "final", "final_loss",
           rf"batches \([\d.]+ against {N}, and"),
          ("first 5 batches", "depth 2 final", D11, "final", "final_loss",
           rf", and {N} against [\d.]+\) and higher"),
          ("first 5 batches", "AdaDelta final", A11, "final", "final_loss",
           rf", and [\d.]+ against {N}\) and higher"))],
    Case("11 Adam ratio low", rf"Adam is {N}–", lambda: adam_ratio_11(np.min)),
    Case("11 Adam ratio high", rf"Adam is [\d.]+–{N}× sooner", lambda: adam_ratio_11(np.max)),
    Case("11 final flips", rf"their order flips in {N} of the 8", final_flips_11),
    Case("11 whitened final", rf"to the same loss, {N}, GD",
         lambda: table_11("final", "final_loss").loc["whitened features", G11]),
    Case("11 whitened GD steps", rf"GD within the first {N} steps",
         lambda: table_11("fastest", "steps_to_target").loc["whitened features", G11]),
    Case("11 raw Adam final", rf"and it ends at {N}\. \*\*At",
         lambda: table_11("final", "final_loss").loc["raw features", M11]),
]


# 12. depth prefers low rank: medians and ranges over the seeds, from the sweep against m.
def against_m_12(method, m, pick=np.median, quantity="unobserved_error"):
    d = csv("12").query("panel == 'against m' and method == @method and m == @m "
                        "and quantity == @quantity")
    return float(pick(d["value"])) if len(d) == 3 else math.nan   # the three seeds


def recovered_12():
    """The largest unobserved error of depths 3 and 4 from m = 300 on, every seed."""
    d = csv("12").query("panel == 'against m' and depth >= 3 and m >= 300 "
                        "and quantity == 'unobserved_error'")
    return float(d["value"].max())


def scale_12(scale):
    d = csv("12").query("panel == 'init scale' and depth == 3 and quantity == 'unobserved_error'")
    values = d[np.isclose(d["scale"], scale)]["value"]
    return float(values.median()) if len(values) else math.nan


D2_12, NN_12, D3_12 = "depth 2", "min nuclear norm", "depth 3"
CASES += [
    *[Case(f"12 {who} m={m} {stat}", rf"{before}{pattern}",
           lambda w=method, m=m, p=pick: against_m_12(w, m, p))
      for who, method, m, before in (("depth 2", D2_12, 300, r"depth 2 gets "),
                                     ("nuclear", NN_12, 300, r"the nuclear norm "),
                                     ("depth 3", D3_12, 100, r"\(depth 3: "),
                                     ("depth 3", D3_12, 150, r"2\.0\] and "))
      for stat, pattern, pick in (("median", rf"{N} \[", np.median),
                                  ("min", rf"[\d.]+ \[{N},", np.min),
                                  ("max", rf"[\d.]+ \[[\d.]+, {N}\]", np.max))],
    Case("12 recovered", rf"unobserved entries at most {N},", recovered_12),
    Case("12 scale 0.1", rf"falls from {N} at scale 0.1", lambda: scale_12(0.1)),
    Case("12 scale 1e-6", rf"to {N} at 1e-6\.", lambda: scale_12(1e-6)),
]


# 13. learning in stages: the seeds agree to rounding (the problem's rotation only).
def gap_slopes_13(pick):
    d = csv("13").query("panel == 'gap'")
    slopes = [np.polyfit(np.log(g["lr"]), np.log(g["max_gap"]), 1)[0]
              for _, g in d.groupby(["depth", "mode", "seed"])]
    return float(pick(slopes))


def half_time_13(s, column, depth=4):
    d = csv("13").query("panel == 'plateau vs s' and depth == @depth and a0 == 0.01")
    return float(d[np.isclose(d["s"], s)][column].mean())


def wait_power_13(depth):
    d = csv("13").query("panel == 'plateau vs a0' and depth == @depth and seed == 0")
    t = {a0: v for a0, v in zip(d["a0"], d["t"])}
    return float(np.log10(t[1e-5] / t[1e-4]))


def random_start_13():
    d = csv("13").query("panel == 'random start t_half' and depth == 4")
    return float((d["t"] / d["predicted"]).max())


CASES += [
    Case("13 slope low", rf"log-log slopes {N}–", lambda: gap_slopes_13(np.min)),
    Case("13 slope high", rf"log-log slopes [\d.]+–{N} at every", lambda: gap_slopes_13(np.max)),
    *[Case(f"13 half {s} {column}", pattern, lambda s=s, c=column: half_time_13(s, c))
      for s, column, pattern in (
          (3.0, "t", rf"at t = {N}, "), (1.0, "t", rf"at t = [\d.]+, {N} and"),
          (0.3, "t", rf"at t = [\d.]+, [\d.]+ and {N} \("),
          (3.0, "predicted", rf"\(predicted {N}, "),
          (1.0, "predicted", rf"\(predicted [\d.]+, {N} and"),
          (0.3, "predicted", rf"\(predicted [\d.]+, [\d.]+ and {N}\)"))],
    Case("13 power depth 3", rf"\(measured {N} and", lambda: wait_power_13(3)),
    Case("13 power depth 4", rf"\(measured [\d.]+ and {N} at depths", lambda: wait_power_13(4)),
    Case("13 random start", rf"can wait up to {N} times", random_start_13),
]


def test_11_the_first_k_batches_that_put_adadelta_ahead():
    t = table_11("fastest", "steps_to_target").fillna(np.inf)
    ks = [int(v.split()[1]) for v in t.index if v.startswith("first") and t.loc[v, A11] < t.loc[v, D11]]
    assert re.search(r"first k batches in time puts AdaDelta ahead for k = 4 and 5", readme())
    assert ks == [4, 5]


def test_11_whitened_inputs_bring_every_method_to_the_same_loss():
    final = table_11("final", "final_loss").loc["whitened features"]
    assert final.max() - final.min() < 5e-5, final   # "the same loss, 0.1367": to its last digit

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_quoted_number_matches_its_csv(case):
    quoted, value = case.quoted(), case.compute()
    assert math.isfinite(value), f"{case.id}: the CSV gives {value}"
    number, unit = parse(quoted)
    assert close(number, unit, value, case.slack), (
        f"{case.id}: the README says {quoted}, the committed CSV gives {value:.6g} "
        f"(tolerance {0.5 * unit:g}{f' + {case.slack:g}' if case.slack else ''})")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_changed_number_fails(case):
    """The same comparison rejects the README's number, or the CSV's value,
    moved by the smallest whole number of last-digit units that exceeds the
    tolerance on both sides (two units when there is no slack)."""
    quoted, value = case.quoted(), case.compute()
    number, unit = parse(quoted)
    units = 2 + math.ceil(2 * case.slack / unit)
    for sign in (-1, 1):
        assert not close(number + sign * units * unit, unit, value, case.slack), "README moved"
        assert not close(number, unit, value + sign * units * unit, case.slack), "CSV moved"


@pytest.mark.parametrize("number", ["06", "07"])
def test_seed_mean_rows_are_the_mean_of_the_seed_rows(number):
    """Tutorials 6 and 7 write each seed's curve and their mean ("mean"); the cases
    read both, so the two must agree. rtol 1e-14: the tutorial averages the three
    seeds in another order than pandas, a few ulp apart; a wrong or missing seed
    curve moves the mean by far more."""
    d = csv(number).astype({"seed": str})
    keys = [c for c in d.columns if c not in ("seed", "value")]
    mean = d[d["seed"] == "mean"].set_index(keys)["value"].sort_index()
    single = d[d["seed"] != "mean"]
    assert len(single) == len(seeds(number)) * len(mean) and len(seeds(number)) == 3
    np.testing.assert_allclose(single.groupby(keys)["value"].mean().sort_index().to_numpy(),
                               mean.to_numpy(), rtol=1e-14)


def test_docs_findings_quote_the_readme():
    """docs/findings.md has no sentences of its own: it includes the README's."""
    page = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert "{include} ../README.md" in page
    assert not re.search(r"\d\.\d", page), "docs/findings.md quotes numbers of its own: test them"


@pytest.mark.parametrize("text, number, unit", [
    ("19,300", 19300, 100), ("0.273", 0.273, 0.001), ("3.8e-9", 3.8e-9, 1e-10),
    ("\u221216.5%", -16.5, 0.1), ("+3.8%", 3.8, 0.1), ("570,000", 570000, 10000), ("14", 14, 1),
    ("3.4×", 3.4, 0.1), ("1.1e-15", 1.1e-15, 1e-16),
])
def test_parse(text, number, unit):
    assert parse(text) == pytest.approx((number, unit))
