"""Regenerate every figure: run each tutorial script in order, in its own process.

    python tutorials/run_all.py            # full mode: the committed figures
    DEEPLINEAR_QUICK=1 python tutorials/run_all.py     # seconds per script

A full run writes the figures and their CSVs into the repository's ``figures/``
(the committed ones); a quick run writes them into a temporary folder
(``deeplinear-quick-figures``) and never into ``figures/``;
``$DEEPLINEAR_FIGURES_DIR`` overrides both (``deeplinear.tutorial.figures_dir``).
Prints the wall time of each script, where the figures went, and exits non-zero
if any failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def tutorial_scripts():
    """``tutorials/NN_*.py`` in order."""
    return sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))


def main() -> int:
    from deeplinear.tutorial import figures_dir, quick_mode

    env = {**os.environ, "MPLBACKEND": "Agg"}
    mode = "quick" if quick_mode() else "full"
    rows, failed = [], []
    start = time.perf_counter()
    for script in tutorial_scripts():
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], env=env, cwd=HERE.parent,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        status = "ok" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
        rows.append((script.name, seconds, status))
        print(f"{script.name:<42} {seconds:7.1f} s  {status}", flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
            print(proc.stdout[-2000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
    total = time.perf_counter() - start
    print(f"{'all (' + mode + ' mode)':<42} {total:7.1f} s  "
          f"{'ok' if not failed else 'FAILED: ' + ', '.join(failed)}")
    print(f"figures and CSVs in {figures_dir()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
