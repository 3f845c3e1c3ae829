"""Benchmark ``deeplinear.train`` (the compiled training loop) on the real data sets.

What is measured
----------------
1. Steps/s of full-batch gradient descent on Abalone (n=4177, d=10, hidden
   [100, 100]) and Ethanol (1316 x 128, hidden [512, 512]), l2 and l4 loss,
   SGD from a balanced start (lr 1e-3 for l2, 1e-4 for l4, at which Ethanol
   with [512, 512] does not diverge within the timed runs), two ways:

   * ours: ``train(factors, X, Y, steps=S, record_every=S, compiled=True)``,
     every step inside one numba function (a call's fixed cost included);
   * layer-by-layer: the training loop one writes by hand in NumPy, a Python
     loop over steps of: H_0 = X, H_j = H_{j-1} W_j^T, residual,
     dL/dpred, then dW_j = dH_j^T H_{j-1}, dH_{j-1} = dH_j W_j, W_j -= lr dW_j.

   Both use the loss of ``deeplinear.losses``: mean(|pred - Y|^p) over all
   n*k entries. Before timing, both are checked to give the same loss
   trajectory over 20 steps and the same final factors (rtol 1e-9). S is
   chosen so that a measurement lasts >= ~1 s; each rate is the best of 3.
   The first ``train`` call of each case is timed apart: it includes numba
   compilation or loading the compiled kernels from the on-disk cache.
2. The report's protocol (Levy & Wang): 2 data sets x 7 architectures x 7
   lrs x 3 seeds x 100 steps, SGD, l2, default init: 294 runs, run by
   ``deeplinear.experiments.grid_search`` serially and on a process pool of
   2 workers, each after a warm-up grid (compile, worker start-up).
3. ``--paper``: a paper-scale run, l4 on Ethanol, hidden [], [10], [10, 10],
   the 7 report lrs, 1 seed, 1e5 steps each, balanced init, on a pool of 2.

The data sets are used whole (the report trains on an 80% split).

Why ratios within one run
-------------------------
Absolute steps/s depend on the machine, the BLAS and its threads, and on
other load. Both paths are timed in the same process one after the other, so
the *ratio* is what compares across machines. The layer-by-layer path uses
multithreaded BLAS (``OPENBLAS_NUM_THREADS=1`` makes it slower and steadier);
the compiled loop uses no BLAS and one core. Targets: ratio >= 50x on
Abalone and >= 20x on Ethanol; protocol < 10 s (serial and pool); paper run
< 180 s. The exit status is 1 if any target is missed, 2 if the data are missing.

Data: ``DEEPLINEAR_DATA_DIR`` or the cache must hold the UCI files (README).

Usage: python benchmarks/bench_train.py [--quick] [--paper] [--json PATH]
"""

import argparse
import importlib
import json
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numba
import numpy as np

from deeplinear import datasets, init
from deeplinear.train import train

SPEED_CASES = [("abalone", [100, 100], 50.0), ("ethanol", [512, 512], 20.0)]
LR = {"l2": 1e-3, "l4": 1e-4}
INIT_SCALE, RTOL, CHECK_STEPS = 1e-2, 1e-9, 20
REPORT_LRS = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2)
REPORT_HIDDEN = ([], [1], [10], [64], [1, 1], [10, 10], [64, 64])
PROTOCOL = dict(steps=100, seeds=(0, 1, 2), target_s=10.0)
PAPER = dict(hidden=([], [10], [10, 10]), steps=100_000, seeds=(0,), target_s=180.0)


def load(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", datasets.PartialDataWarning)
        return datasets.load_abalone() if name == "abalone" else datasets.load_ethanol()


def layer_by_layer_train(factors, X, Y, p, lr, steps, record_every=1):
    """Plain NumPy full-batch GD; returns (recorded losses, final factors).

    Records the loss at step 0, every ``record_every`` steps and the last,
    like ``deeplinear.train``.
    """
    Ws = [W.copy() for W in factors]
    losses = []
    for t in range(steps + 1):
        H = [X]
        for W in Ws:
            H.append(H[-1] @ W.T)
        r = H[-1] - Y
        if p == 2:
            value, dH = np.mean(r * r), (2.0 / r.size) * r
        else:
            r2 = r * r
            value, dH = np.mean(r2 * r2), (4.0 / r.size) * (r2 * r)
        if t % record_every == 0 or t == steps:
            losses.append(float(value))
        if t == steps:
            break
        for j in range(len(Ws) - 1, -1, -1):
            dW = dH.T @ H[j]
            if j > 0:
                dH = dH @ Ws[j]  # with W_j before its update
            Ws[j] -= lr * dW
    return np.array(losses), Ws


def best_rate(run, min_time, first_steps, repeats=3):
    """Best steps/s of ``run(S)`` over ``repeats`` measurements of >= min_time s."""
    steps = first_steps
    while True:  # calibrate S; this measurement counts as the first repeat
        t0 = time.perf_counter()
        run(steps)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            break
        steps = max(2 * steps, int(steps * 1.2 * min_time / max(elapsed, 1e-9)))
    rates = [steps / elapsed]
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        run(steps)
        rates.append(steps / (time.perf_counter() - t0))
    return max(rates), steps


def kernel_cache_stats():
    """(cache hits, cache misses) summed over the package's numba kernels so far."""
    hits = misses = 0
    for name in ("chain", "loss", "optim", "train"):
        module = importlib.import_module(f"deeplinear._kernels.{name}")
        for f in vars(module).values():
            stats = getattr(f, "stats", None)
            if stats is not None and hasattr(stats, "cache_hits"):
                hits += sum(stats.cache_hits.values())
                misses += sum(stats.cache_misses.values())
    return hits, misses


def speed_case(name, ds, hidden, loss, target, min_time, check_steps):
    X, Y, p, lr = ds.X, ds.Y, int(loss[1:]), LR[loss]
    start = init.balanced([ds.d, *hidden, Y.shape[1]], scale=INIT_SCALE, rng=0)
    before = kernel_cache_stats()
    t0 = time.perf_counter()
    train(start, X, Y, compiled=True, loss=loss, lr=lr, steps=1)
    first_call = time.perf_counter() - t0
    hits, misses = (a - b for a, b in zip(kernel_cache_stats(), before))
    how = (f"compiled {misses} kernel(s)" if misses else
           f"loaded {hits} kernel(s) from cache" if hits else "already loaded")

    h = train(start, X, Y, compiled=True, loss=loss, lr=lr, steps=check_steps, record_every=1)
    ref_loss, ref_factors = layer_by_layer_train(start, X, Y, p, lr, check_steps)
    assert not h.diverged, f"{name}/{loss}: diverged during the check"
    np.testing.assert_allclose(h.loss, ref_loss, rtol=RTOL, err_msg=f"{name}/{loss}: losses")
    for j, (W, R) in enumerate(zip(h.final_factors, ref_factors)):
        np.testing.assert_allclose(W, R, rtol=RTOL, atol=RTOL * np.abs(R).max(),
                                   err_msg=f"{name}/{loss}: W_{j + 1} after {check_steps} steps")

    def ours(S):
        h = train(start, X, Y, compiled=True, loss=loss, lr=lr, steps=S, record_every=S)
        if h.diverged or h.steps[-1] != S:
            raise RuntimeError(f"{name}/{loss}: diverged at step {h.steps[-1]}; lower LR")

    def reference(S):
        losses, _ = layer_by_layer_train(start, X, Y, p, lr, S, record_every=S)
        if not np.all(np.isfinite(losses)):
            raise RuntimeError(f"{name}/{loss}: layer-by-layer loss not finite; lower LR")

    ours_rate, ours_n = best_rate(ours, min_time, 100)
    ref_rate, ref_n = best_rate(reference, min_time, 1)
    ratio = ours_rate / ref_rate
    return dict(data=name, n=ds.n, d=ds.d, hidden=hidden, loss=loss, lr=lr,
                ours_steps_per_s=ours_rate, layer_by_layer_steps_per_s=ref_rate,
                ratio=ratio, target=target,
                passed=ratio >= target, first_call_s=first_call, first_call_kind=how,
                steps_timed=dict(ours=ours_n, ref=ref_n))


def _warm_worker(_):
    """Start a pool worker and load the kernels in it (sleep so both workers get one)."""
    X = np.ones((4, 2))
    train([np.ones((1, 2))], X, X[:, :1], lr=1e-3, steps=2)
    train([np.ones((1, 2))], X, X[:, :1], loss="l4", lr=1e-3, steps=2)
    time.sleep(0.2)


def timed_grids(grid_search, datas, executor, target, label, **grid):
    """Warm up on a tiny grid, then time one grid_search per data set."""
    t0 = time.perf_counter()
    if executor is not None:
        list(executor.map(_warm_worker, range(2)))
    for ds in datas:
        grid_search(ds, hidden=([], [1, 1]), loss=grid["loss"], init=grid["init"], steps=2,
                    lrs=(1e-3,), seeds=(0, 1), executor=executor)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    runs = [grid_search(ds, executor=executor, **grid).runs for ds in datas]
    wall = time.perf_counter() - t0
    return dict(label=label, wall_s=wall, warmup_s=warm, target_s=target, passed=wall < target,
                runs=sum(len(r) for r in runs),
                diverged=int(sum(r["diverged"].sum() for r in runs)),
                run_seconds=float(sum(r["seconds"].sum() for r in runs))), runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (short measurements, "
                        "1 seed in the protocol, 1000 steps in --paper; targets scaled)")
    parser.add_argument("--paper", action="store_true",
                        help="also the paper-scale l4 run on Ethanol (~1-3 min)")
    parser.add_argument("--json", metavar="PATH", help="write the results to PATH as JSON")
    args = parser.parse_args(argv)
    min_time = 0.05 if args.quick else 1.0
    check_steps = 5 if args.quick else CHECK_STEPS

    env = dict(python=platform.python_version(), numpy=np.__version__, numba=numba.__version__,
               cpu_count=os.cpu_count(), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS"),
               OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS"))
    print("  ".join(f"{k}={v}" for k, v in env.items()))
    print(f"SGD, lr {LR['l2']:g} (l2) / {LR['l4']:g} (l4), balanced init (scale {INIT_SCALE}), "
          f"best of 3 measurements of >= {min_time:g} s each\n")
    try:
        data = {name: load(name) for name in ("abalone", "ethanol")}
    except datasets.DataError as exc:  # no local copy and no network: say where to put it
        print(exc, file=sys.stderr)
        return 2

    speed = [speed_case(name, data[name], hidden, loss, target, min_time, check_steps)
             for name, hidden, target in SPEED_CASES for loss in ("l2", "l4")]
    head = (f"{'data':<9}{'hidden':<12}{'loss':<6}{'ours steps/s':>14}{'layer-by-layer':>16}"
            f"{'ratio':>9}{'target':>8}  result")
    print(head + "\n" + "-" * len(head))
    for r in speed:
        print(f"{r['data']:<9}{str(r['hidden']):<12}{r['loss']:<6}{r['ours_steps_per_s']:>14,.0f}"
              f"{r['layer_by_layer_steps_per_s']:>16,.1f}{r['ratio']:>8.0f}x{r['target']:>7.0f}x  "
              f"{'PASS' if r['passed'] else 'FAIL'}")
    print("\nfirst train() call of each case (compile or cache load), steps=1:")
    for r in speed:
        print(f"  {r['data'] + '/' + r['loss']:<12}{r['first_call_s'] * 1e3:9.1f} ms  "
              f"({r['first_call_kind']})")

    from deeplinear.experiments import grid_search
    seeds = (0,) if args.quick else PROTOCOL["seeds"]
    target = PROTOCOL["target_s"] * len(seeds) / len(PROTOCOL["seeds"])
    grid = dict(hidden=REPORT_HIDDEN, init="default", optimizer="sgd", loss="l2",
                steps=PROTOCOL["steps"], lrs=REPORT_LRS, seeds=seeds)
    datas = list(data.values())
    protocol = [timed_grids(grid_search, datas, None, target, "serial (executor=None)", **grid)[0]]
    with ProcessPoolExecutor(2) as pool:
        protocol.append(timed_grids(grid_search, datas, pool, target, "ProcessPoolExecutor(2)",
                                    **grid)[0])
    print(f"\nreport protocol: 2 data sets x {len(REPORT_HIDDEN)} archs x {len(REPORT_LRS)} lrs "
          f"x {len(seeds)} seed(s) x {PROTOCOL['steps']} steps, SGD, l2, default init")
    for r in protocol:
        print(f"  {r['label']:<24}{r['wall_s']:7.2f} s wall  (target < {r['target_s']:.0f} s: "
              f"{'PASS' if r['passed'] else 'FAIL'}); {r['runs']} runs, {r['diverged']} diverged, "
              f"{r['run_seconds']:.2f} s inside train loops; warm-up {r['warmup_s']:.2f} s")

    paper = None
    if args.paper:
        steps = 1000 if args.quick else PAPER["steps"]
        grid = dict(hidden=PAPER["hidden"], init="balanced", optimizer="sgd", loss="l4",
                    steps=steps, lrs=REPORT_LRS, seeds=PAPER["seeds"], record_every=100)
        with ProcessPoolExecutor(2) as pool:
            paper, (runs,) = timed_grids(grid_search, [data["ethanol"]], pool,
                                         PAPER["target_s"] * steps / PAPER["steps"],
                                         "ProcessPoolExecutor(2)", **grid)
        print(f"\npaper scale: Ethanol, l4, hidden {list(PAPER['hidden'])}, "
              f"{len(REPORT_LRS)} lrs, 1 seed, {steps:,} steps, balanced init")
        print(f"  {paper['label']:<24}{paper['wall_s']:7.1f} s wall  (target < "
              f"{paper['target_s']:.0f} s: {'PASS' if paper['passed'] else 'FAIL'}); "
              f"{paper['runs']} runs, {paper['diverged']} diverged, "
              f"{paper['run_seconds']:.1f} s inside train loops")
        table = runs.pivot(index="lr", columns="arch", values="final_loss")
        table = table[list(dict.fromkeys(runs["arch"]))]  # in grid order, not sorted
        print("  final loss (inf = diverged):\n" + table.to_string(float_format="{:.4g}".format))
        paper["final_loss"] = {a: {str(lr): v if np.isfinite(v) else None  # null = diverged
                                   for lr, v in col.items()}
                               for a, col in table.to_dict().items()}

    results = dict(speed=speed, protocol=protocol, paper=paper)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(environment=env, quick=args.quick, **results), f, indent=2,
                      default=float)
        print(f"\nwrote {args.json}")
    checks = speed + protocol + ([paper] if paper else [])
    return 0 if all(r["passed"] for r in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
