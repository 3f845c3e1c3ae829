"""What a grade is: the points and tests of each part, and how they are shown.

:func:`collect` turns the judges' results documents (``plugin.py``) into a
:class:`GradeResult`: per part, the tests the judge itself collected, with
their outcomes, and no part above its maximum. A :class:`GradeResult` prints
as a table, keeps to its public tests for a student (:meth:`GradeResult.public`,
:meth:`GradeResult.summary`) and writes a Gradescope ``results.json``
(:meth:`GradeResult.gradescope`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .parts import PARTS

__all__ = ["PartResult", "GradeResult", "collect"]


@dataclass
class PartResult:
    """One part's grade: points earned of possible, its tests, whether any was cut short."""

    name: str
    title: str
    earned: float = 0.0
    possible: float = 0.0
    tests: list = field(default_factory=list)  # dicts: name, nodeid, points, passed, output
    cut_short: bool = False

    @property
    def first_failure(self) -> str:
        for test in self.tests:
            if not test["passed"]:
                return test["output"] or "failed"
        return ""


@dataclass
class GradeResult:
    """A whole grade: the parts, and how it was graded (isolation, limits, seed, time)."""

    student_dir: str
    parts: list
    hidden: bool
    seconds: float = 0.0
    isolation: str = ""
    limits: str = ""
    seed: int | None = None
    judge_peak_rss_mb: float = 0.0

    @property
    def score(self) -> float:
        return sum(p.earned for p in self.parts)

    @property
    def max_score(self) -> float:
        return sum(p.possible for p in self.parts)

    def table(self, width=64) -> str:
        """Per part: points earned / possible, cut short, the first failure."""
        rows = [("part", "points", "cut short", "first failure")]
        for p in self.parts:
            failure = " ".join(p.first_failure.split())
            if len(failure) > width:
                failure = failure[:width - 3] + "..."
            rows.append((p.name, f"{p.earned:g} / {p.possible:g}", "yes" if p.cut_short else "",
                         failure))
        rows.append(("total", f"{self.score:g} / {self.max_score:g}", "", ""))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = []
        for k, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
            if k == 0 or k == len(rows) - 2:
                lines.append("-" * (sum(widths) + 6 + width))
        lines.append(f"isolation of student code: {self.isolation} (see README, For instructors)")
        if self.isolation == "none":
            lines.append("WARNING: student code ran with the grader's own rights and files "
                         "(--isolation none)")
        lines.append(f"limits: {self.limits}")
        if self.seed is not None:
            lines.append(f"grading seed: {self.seed} (--seed {self.seed} draws the same inputs)")
        return "\n".join(line.rstrip() for line in lines)

    def public(self) -> GradeResult:
        """This result with its public tests alone, points recounted."""
        parts = []
        for part in self.parts:
            tests = [t for t in part.tests if not t["hidden"]]
            possible = sum(t["points"] for t in tests)
            earned = min(possible, sum(t["points"] for t in tests if t["passed"]))
            parts.append(dataclasses.replace(part, tests=tests, earned=earned,
                                             possible=possible,
                                             cut_short=any(t["cut_short"] for t in tests)))
        return dataclasses.replace(self, parts=parts)

    def summary(self, note) -> str:
        """What a student may see at once: the table of the public tests, a line on the
        hidden ones (their number and points) and ``note``."""
        hidden = [t for part in self.parts for t in part.tests if t["hidden"]]
        text = "public tests:\n" + self.public().table()
        if hidden:
            text += (f"\n\nhidden tests: {len(hidden)}, worth "
                     f"{sum(t['points'] for t in hidden):g} points; {note}")
        return text

    def gradescope(self) -> dict:
        """A Gradescope ``results.json``: score, max_score and one entry per test."""
        tests = []
        for p in self.parts:
            for t in p.tests:
                tests.append({
                    "name": f"{p.name}: {t['name']}",
                    "score": float(t["points"] if t["passed"] else 0),
                    "max_score": float(t["points"]),
                    "output": t["output"] or "passed",
                    "visibility": "after_published" if t["hidden"] else "visible",
                })
        return {"score": float(self.score), "max_score": float(self.max_score),
                "execution_time": round(self.seconds, 2),
                "output": self.summary("they are shown when the grades are published."),
                "visibility": "visible", "tests": tests}


def collect(student, names, docs, hidden, seconds, mode, limits, seed) -> GradeResult:
    """Per part: the tests the judge collected, and their outcomes; capped at the maximum.

    Parameters
    ----------
    student : str
        The graded folder.
    names : list of str
        The parts graded, in order; a test of another part is left out.
    docs : list of dict
        The judges' results documents (``plugin.py``): ``collected``,
        ``results`` and ``peak_rss_kb``.
    hidden : bool
        Whether the hidden tests ran.
    seconds : float
        Wall time of the grade.
    mode, limits : str
        The isolation used and the limits in force, for the table.
    seed : int
        The grading seed.

    Returns
    -------
    GradeResult
        A test the judge collected but never reported fails as not run.
    """
    collected = [c for d in docs for c in d["collected"]]
    outcomes = {r["nodeid"]: r for d in docs for r in d["results"]}
    results = {n: PartResult(n, PARTS[n].title) for n in names}
    for item in collected:
        part = results.get(item["part"])
        if part is None:  # a test of a part outside the chosen ones
            continue
        outcome = outcomes.get(item["nodeid"])
        passed = bool(outcome and outcome["passed"])
        output = outcome["output"] if outcome else "not run: the judge stopped before this test"
        cut = bool(outcome and outcome.get("cut_short"))
        points = float(item["points"])
        part.tests.append({"name": item["name"], "nodeid": item["nodeid"], "points": points,
                           "passed": passed, "output": "" if passed else output,
                           "cut_short": cut, "hidden": bool(item["hidden"])})
        part.possible += points
        part.earned += points if passed else 0.0
        part.cut_short |= cut
    for part in results.values():
        part.earned = min(part.earned, part.possible)
    return GradeResult(student, list(results.values()), hidden, seconds=seconds,
                       isolation=mode, limits=limits, seed=seed,
                       judge_peak_rss_mb=max(d.get("peak_rss_kb", 0) for d in docs) / 1024)
