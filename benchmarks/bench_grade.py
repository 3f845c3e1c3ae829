"""What grading costs: one call of student code in each isolation mode, and a whole grade.

A call goes to a fresh worker process (tests/gradesandbox.py). This times the
same small call (``init.near_zero([3, 4])`` of the solution) unconfined and in
the strongest mode the machine allows, best of ``--repeat``, and reports each against the
unconfined mode ("none") in the same run. Then it times a release and a full
grade (with the hidden tests) of the untouched release and of the solution.

    python benchmarks/bench_grade.py            # about 30 s on 2 cores
    python benchmarks/bench_grade.py --quick    # the calls only
    python benchmarks/bench_grade.py --json out.json

Target (exit status 1 if missed): release + full grade of a release under
60 s, the issue's budget for a teacher.
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
sys.path.insert(0, str(ROOT / "tests"))

from gradesandbox import Runner, isolation  # noqa: E402

TARGET_SECONDS = 60.0


def time_calls(repeat):
    stage = Path(tempfile.mkdtemp(prefix="dl-bench-"))
    shutil.copytree(ROOT / "deeplinear", stage / "deeplinear",
                    ignore=shutil.ignore_patterns("__pycache__", "_kernels", "assignment"))
    for path in [stage, *stage.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    request = {"recipe": "call", "target": "deeplinear.init:near_zero", "args": [[3, 4]],
               "kwargs": {"rng": 0}}
    modes = ["none"] + ([] if isolation() == "none" else [isolation()])
    out = {}
    try:
        for mode in modes:
            runner = Runner(stage, mode=mode, hide=[str(ROOT)] if mode == "namespaces" else [])
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
    return out


def time_grades():
    from deeplinear.assignment import release
    from deeplinear.assignment.grade import grade

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        release(Path(tmp) / "student")
        out["release"] = time.perf_counter() - start
        start = time.perf_counter()
        result = grade(Path(tmp) / "student", hidden=True)
        out["grade untouched release"] = time.perf_counter() - start
        out["untouched score"] = f"{result.score:g} / {result.max_score:g}"
        out["judge peak RSS (MB)"] = round(result.judge_peak_rss_mb, 1)
    start = time.perf_counter()
    result = grade(ROOT, hidden=True)
    out["grade solution"] = time.perf_counter() - start
    out["solution score"] = f"{result.score:g} / {result.max_score:g}"
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the calls only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    calls = time_calls(args.repeat)
    print(f"one call of student code, best of {args.repeat} (isolation here: {isolation()})")
    print(f"{'mode':<12} {'seconds':>8} {'vs none':>8}")
    for mode, seconds in calls.items():
        print(f"{mode:<12} {seconds:8.3f} {seconds / calls['none']:7.2f}x")
    doc = {"calls": calls, "isolation": isolation()}
    ok = True
    if not args.quick:
        grades = time_grades()
        total = grades["release"] + grades["grade untouched release"]
        ok = total < TARGET_SECONDS
        print(f"\nrelease {grades['release']:.2f} s + full grade of it "
              f"{grades['grade untouched release']:.1f} s = {total:.1f} s "
              f"(target < {TARGET_SECONDS:g} s: {'ok' if ok else 'MISSED'}); score "
              f"{grades['untouched score']}; judge peak RSS {grades['judge peak RSS (MB)']} MB")
        print(f"full grade of the solution {grades['grade solution']:.1f} s; score "
              f"{grades['solution score']}")
        doc["grades"] = grades
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
