"""What grading costs: one call of student code in each isolation mode, and a whole grade.

A call goes to a fresh worker process (deeplinear/assignment/judge/sandbox.py).
This times the same small call (``init.near_zero([3, 4])`` of the solution) in
each mode the machine gives, best of ``--repeat``, and reports each against the
unconfined mode ("none") in the same run; and what building a worker's jail
(the allowlisted file tree, once per judge process) costs. Then it times a
release and a full grade (with the hidden tests) of the untouched release and
of the solution, in each confined mode.

    python benchmarks/bench_grade.py            # about a minute on 2 cores
    python benchmarks/bench_grade.py --quick    # the calls only
    python benchmarks/bench_grade.py --json out.json

Target (exit status 1 if missed): a full grade with the hidden tests within
19.4 s, twice the 9.7 s of the grader before the allowlist (issue 19).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from deeplinear.assignment.judge.sandbox import MODES, Runner, probe  # noqa: E402

TARGET_SECONDS = 19.4


def time_calls(repeat):
    stage = Path(tempfile.mkdtemp(prefix="dl-bench-"))
    shutil.copytree(ROOT / "deeplinear", stage / "deeplinear",
                    ignore=shutil.ignore_patterns("__pycache__", "_kernels", "assignment"))
    for path in [stage, *stage.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    request = {"recipe": "call", "target": "deeplinear.init:near_zero", "args": [[3, 4]],
               "kwargs": {"rng": 0}}
    out, jail = {}, {}
    try:
        for mode in MODES:
            if probe(mode):
                continue
            start = time.perf_counter()
            runner = Runner(stage, mode=mode)
            jail[mode] = time.perf_counter() - start
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                response = runner.run(request, {})
                best = min(best, time.perf_counter() - start)
                assert response.ok, (mode, response.failure, response.output)
            runner.close()
            out[mode] = best
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out, jail


def time_grades(modes):
    from deeplinear.assignment import release
    from deeplinear.assignment.judge.grade import grade

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        release(Path(tmp) / "student")
        out["release"] = time.perf_counter() - start
        for mode in modes:
            start = time.perf_counter()
            result = grade(Path(tmp) / "student", hidden=True, isolation=mode)
            out[f"grade untouched release ({mode})"] = time.perf_counter() - start
            out[f"untouched score ({mode})"] = f"{result.score:g} / {result.max_score:g}"
            out[f"judge peak RSS (MB, {mode})"] = round(result.judge_peak_rss_mb, 1)
            start = time.perf_counter()
            result = grade(ROOT, hidden=True, isolation=mode)
            out[f"grade solution ({mode})"] = time.perf_counter() - start
            out[f"solution score ({mode})"] = f"{result.score:g} / {result.max_score:g}"
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the calls only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    calls, jail = time_calls(args.repeat)
    print(f"one call of student code, best of {args.repeat}")
    print(f"{'mode':<12} {'seconds':>8} {'vs none':>8} {'jail build s':>13}")
    for mode, seconds in calls.items():
        built = f"{jail[mode]:13.3f}" if mode != "none" else f"{'-':>13}"
        print(f"{mode:<12} {seconds:8.3f} {seconds / calls['none']:7.2f}x {built}")
    doc = {"calls": calls, "jail": jail}
    ok = True
    if not args.quick:
        modes = [m for m in calls if m != "none"]
        grades = time_grades(modes)
        print(f"\nrelease {grades['release']:.2f} s")
        for mode in modes:
            worst = max(grades[f"grade untouched release ({mode})"],
                        grades[f"grade solution ({mode})"])
            ok &= worst <= TARGET_SECONDS
            print(f"{mode}: full grade of the untouched release "
                  f"{grades[f'grade untouched release ({mode})']:.1f} s "
                  f"({grades[f'untouched score ({mode})']}), of the solution "
                  f"{grades[f'grade solution ({mode})']:.1f} s "
                  f"({grades[f'solution score ({mode})']}); target <= {TARGET_SECONDS:g} s: "
                  f"{'ok' if worst <= TARGET_SECONDS else 'MISSED'}; judge peak RSS "
                  f"{grades[f'judge peak RSS (MB, {mode})']} MB")
        doc["grades"] = grades
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
