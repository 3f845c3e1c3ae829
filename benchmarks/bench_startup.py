"""Start-up of the main command, warm and on a first run (issue 12).

Measured in one run, each in fresh subprocesses, best of 3:

- warm: ``python -m deeplinear.experiments`` (synthetic data, the default
  preset, the default ``--jobs``; output to a temporary folder), with the
  numba kernels already in their cache (one untimed run first), against
  ``python -c "import numpy, numba, pandas, matplotlib.pyplot"``, the
  libraries the command itself imports. Target: ratio <= 1.5.
- cold: the same command with ``NUMBA_CACHE_DIR`` pointed at an empty
  temporary folder, so that every kernel compiles. Target: <= 12 s, and the
  command says on stderr that it compiles (and a warm run does not).
- report only: the same imports plus one call of a tiny cached kernel (the
  least any command that runs numba code costs), and the warm run against it;
- report only: ``import deeplinear`` against ``import numpy``, and whether
  ``import deeplinear`` imported numba, pandas or matplotlib (it must not).

    python benchmarks/bench_startup.py             # about 30 s
    python benchmarks/bench_startup.py --json out.json

Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

WARM_TARGET = 1.5
COLD_TARGET = 12.0
REPEATS = 3
MAIN = [sys.executable, "-m", "deeplinear.experiments"]
LIBS = [sys.executable, "-c", "import numpy, numba, pandas, matplotlib.pyplot"]
# The same imports and one call of a tiny cached kernel: numba sets up its
# compiler (its registries and LLVM) on the first call of any jitted
# function, even one loaded from the cache, which no numba program avoids.
FLOOR = [sys.executable, "-c", "import numpy, numba, pandas, matplotlib.pyplot; "
         "from deeplinear._kernels.chain import squared_norm_sum; "
         "squared_norm_sum(numpy.zeros(3))"]
MESSAGE = "deeplinear: compiling "


def timed(cmd, env=None):
    """Wall seconds of one subprocess run, and its stderr; raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return seconds, proc.stderr


def best(cmd, env=None, repeats=REPEATS):
    runs = [timed(cmd, env) for _ in range(repeats)]
    return min(s for s, _ in runs), runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        main_cmd = [*MAIN, "--out", out]
        timed(main_cmd, env)  # fills the cache if needed; untimed
        # Interleaved, so that load from other processes hits both alike.
        warm_runs, lib_runs, floor_runs = [], [], []
        for _ in range(REPEATS):
            warm_runs.append(timed(main_cmd, env))
            lib_runs.append(timed(LIBS, env))
            floor_runs.append(timed(FLOOR, env))
        warm = min(s for s, _ in warm_runs)
        libs = min(s for s, _ in lib_runs)
        floor = min(s for s, _ in floor_runs)
        warm_says = any(MESSAGE in err for _, err in warm_runs)

        cold_env = dict(env, NUMBA_CACHE_DIR=os.path.join(tmp, "numba-cache"))
        os.makedirs(cold_env["NUMBA_CACHE_DIR"])
        cold, cold_err = timed(main_cmd, cold_env)
        cold_says = MESSAGE in cold_err

        imp, _ = best([sys.executable, "-c", "import deeplinear"], env)
        imp_np, _ = best([sys.executable, "-c", "import numpy"], env)
        probe = subprocess.run(
            [sys.executable, "-c", "import deeplinear, sys; print(sorted(m for m in "
             "('numba', 'pandas', 'matplotlib') if m in sys.modules))"],
            capture_output=True, text=True, env=env).stdout.strip()

    ratio = warm / libs
    ok_warm = ratio <= WARM_TARGET and not warm_says
    ok_cold = cold <= COLD_TARGET and cold_says
    rows = [
        ("warm main command", f"{warm:.2f} s", ""),
        ("import numpy, numba, pandas, matplotlib.pyplot", f"{libs:.2f} s", ""),
        ("warm ratio", f"{ratio:.2f}x", f"<= {WARM_TARGET}x  {'ok' if ok_warm else 'MISSED'}"),
        ("imports + first call of a cached numba kernel", f"{floor:.2f} s",
         f"report only: {floor / libs:.2f}x the imports; warm is {warm / floor:.2f}x this"),
        ("cold main command (empty NUMBA_CACHE_DIR)", f"{cold:.2f} s",
         f"<= {COLD_TARGET:.0f} s  {'ok' if ok_cold else 'MISSED'}"),
        ("  says it compiles (cold / warm)", f"{'yes' if cold_says else 'NO'} / "
         f"{'YES' if warm_says else 'no'}", "yes / no"),
        ("import deeplinear", f"{imp:.2f} s", "report only"),
        ("import numpy", f"{imp_np:.2f} s", f"ratio {imp / imp_np:.2f}x"),
        ("  modules import deeplinear pulled in", probe or "?", "[]"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'time':>10}  target")
    print(f"{'-' * width}  {'-' * 10}  {'-' * 20}")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>10}  {target}")
    print(f"\nwarm runs: {', '.join(f'{s:.2f}' for s, _ in warm_runs)} s; "
          f"imports: {', '.join(f'{s:.2f}' for s, _ in lib_runs)} s; "
          f"imports + first numba call: {', '.join(f'{s:.2f}' for s, _ in floor_runs)} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(warm=warm, libs=libs, ratio=ratio, floor=floor, cold=cold, cold_says=cold_says,
                           warm_says=warm_says, import_deeplinear=imp, import_numpy=imp_np,
                           imported=probe), fh, indent=2)
    return 0 if ok_warm and ok_cold else 1


if __name__ == "__main__":
    sys.exit(main())
