"""Theorem 1 at the paper's scale: deep GD against its closed form on Ethanol, l4, 1e5 steps.

Theorem 1 of Arora, Cohen & Hazan (2018): from balanced factors, gradient
descent on ``W_2 W_1`` and the end-to-end update of ``W_e`` (``optimizer="e2e"``,
depth 2) are two discretizations of the same gradient flow, so their
trajectories differ by O(lr). This script runs both, from the same balanced
start (seed 0 of ``deeplinear.experiments``, hidden [1], the start of the
``paper-headline`` depth-2 runs), on l4 Ethanol (the 1316 rows available;
``DEEPLINEAR_DATA_DIR``), for 1e5 steps at each lr (2.5e-4, the headline's
final-loss choice, and 3.5e-4, its fastest-convergence choice), and prints
how far they drift apart:

* ``max loss gap``: the largest ``|L_deep - L_e2e| / L_e2e`` over the steps
  recorded (every 100) up to the checkpoint;
* ``loss gap``: the same at the checkpoint;
* ``W_e gap``: ``||W_e(deep) - W_e(e2e)||_F / ||W_e(e2e)||_F`` at the
  checkpoint, ``W_e(deep) = W_2 W_1``;
* ``balancedness``: ``||W_2^T W_2 - W_1 W_1^T||_F`` of the deep factors
  (``deeplinear.balancedness``; 0 at the start up to rounding), over
  ``||W_e||_F``, the scale of both terms for a width-1 hidden layer.

The runs are cut into pieces at the checkpoints (1e2, 1e3, 1e4, 2e4, ...,
1e5) to read ``W_e`` there; both updates keep no state, so a piece
continued from the previous piece's end is the same run. Both run in the
compiled loop (e2e: its one-output kernel).

Usage: python benchmarks/theorem1_at_scale.py [--quick] [--lrs 2.5e-4 3.5e-4] [--csv PATH]
"""

import argparse
import sys
import time
import warnings

import numpy as np

from deeplinear import balancedness, datasets, end_to_end
from deeplinear.experiments.plan import starting_factors
from deeplinear.train import train

STEPS = 100_000
RECORD_EVERY = 100


def checkpoints(steps):
    marks = [100, 1_000] + list(range(10_000, steps + 1, 10_000))
    return [m for m in marks if m < steps] + [steps]


def run_pieces(factors, data, lr, optimizer, marks):
    """Loss (every RECORD_EVERY steps) and the factors at each mark."""
    losses, steps, at = [], [], {}
    current, done, seconds, compiled = [W.copy() for W in factors], 0, 0.0, set()
    options = {"depth": 2} if optimizer == "e2e" else None
    for mark in marks:
        h = train(current, data.X, data.Y, loss="l4", lr=lr, steps=mark - done,
                  record_every=RECORD_EVERY, optimizer=optimizer, optimizer_options=options)
        if h.diverged:
            raise RuntimeError(f"{optimizer} at lr {lr:g} diverged near step {done + h.steps[-1]}")
        first = 0 if done == 0 else 1  # a piece records its start, the last piece's end
        losses.extend(h.loss[first:])
        steps.extend(done + h.steps[first:])
        current, done = h.final_factors, mark
        seconds += h.seconds
        compiled.add(h.info["compiled"])
        at[mark] = [W.copy() for W in current]
    return np.array(losses), np.array(steps), at, seconds, compiled


def compare(data, lr, steps):
    factors = starting_factors((1,), "balanced", 0, data.X.shape[1], data.Y.shape[1])
    marks = checkpoints(steps)
    deep = run_pieces(factors, data, lr, "sgd", marks)
    e2e = run_pieces(factors, data, lr, "e2e", marks)
    assert np.array_equal(deep[1], e2e[1])
    gap = np.abs(deep[0] - e2e[0]) / e2e[0]
    rows = []
    for mark in marks:
        upto = deep[1] <= mark
        W_deep, W_e2e = end_to_end(deep[2][mark]), e2e[2][mark][0]
        rows.append(dict(lr=lr, step=mark, loss_deep=float(deep[0][upto][-1]),
                         loss_e2e=float(e2e[0][upto][-1]), max_loss_gap=float(gap[upto].max()),
                         loss_gap=float(gap[upto][-1]),
                         W_e_gap=float(np.linalg.norm(W_deep - W_e2e) / np.linalg.norm(W_e2e)),
                         balancedness=balancedness(deep[2][mark]) / np.linalg.norm(W_deep)))
    start = balancedness(factors) / np.linalg.norm(end_to_end(factors))
    return rows, dict(deep_s=deep[3], e2e_s=e2e[3], compiled=(deep[4], e2e[4]),
                      start_balancedness=start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1e4 steps instead of 1e5")
    parser.add_argument("--lrs", type=float, nargs="+", default=[2.5e-4, 3.5e-4])
    parser.add_argument("--csv", metavar="PATH", help="write the table to PATH as CSV")
    args = parser.parse_args(argv)
    steps = 10_000 if args.quick else STEPS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", datasets.PartialDataWarning)
            data = datasets.load_ethanol()
    except datasets.DataError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"Ethanol {data.X.shape[0]} x {data.X.shape[1]}, l4, hidden [1], balanced start of "
          f"seed 0; deep GD against e2e depth 2, {steps} steps\n")
    head = (f"{'lr':>8}{'step':>8}{'loss deep':>12}{'loss e2e':>12}{'max loss gap':>14}"
            f"{'loss gap':>11}{'W_e gap':>11}{'balancedness':>14}")
    all_rows = []
    for lr in args.lrs:
        start = time.perf_counter()
        rows, info = compare(data, lr, steps)
        all_rows += rows
        print(head + "\n" + "-" * len(head))
        for r in rows:
            print(f"{r['lr']:>8.2g}{r['step']:>8}{r['loss_deep']:>12.6f}{r['loss_e2e']:>12.6f}"
                  f"{r['max_loss_gap']:>14.2e}{r['loss_gap']:>11.2e}{r['W_e_gap']:>11.2e}"
                  f"{r['balancedness']:>14.2e}")
        print(f"  start balancedness {info['start_balancedness']:.1e}; loops compiled "
              f"(deep, e2e): {info['compiled']}; train time deep {info['deep_s']:.1f} s, "
              f"e2e {info['e2e_s']:.1f} s; wall {time.perf_counter() - start:.1f} s\n")
    if args.csv:
        import pandas as pd

        pd.DataFrame(all_rows).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
