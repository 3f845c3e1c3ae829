"""Benchmark one full training step of deeplinear against hand-written backprop.

What is measured
----------------
One *full step* of full-batch gradient descent on a deep linear network:
the loss value, the gradients of all factors W_1..W_N, and one SGD update
of every factor in place. Two implementations are timed on the same data:

* ours: one evaluation of the compiled objective by the kernels one step of
  the compiled training loop runs (``compiled_value_and_grads`` below:
  ``end_to_end_into``, ``losses_into``, ``gradients_from_grad_e`` of
  ``deeplinear._kernels.train`` on the loop's ``Data``), followed by
  ``deeplinear.optim.SGD(factors, lr).step(grads)`` (or ``W -= lr * g`` if
  ``deeplinear.optim`` is not importable). For l2 the kernels work from the
  moments X^T X / n (computed on first use), so a step costs nothing
  proportional to n; for l4 they make one fused numba pass over the data,
  or, on narrow single-output data such as abalone-like, work from the
  fourth moments of [x, y] (``deeplinear._kernel_data.uses_fourth_moments``).
* numpy: the same step on the library's NumPy path,
  ``Objective.value_and_grads`` (through the predictions) and ``SGD.step``;
  reported for information, without a target.
* layer-by-layer: backprop the way one writes it by hand in NumPy,
  H_0 = X, H_j = H_{j-1} W_j^T, residual, dL/dpred, then
  dW_j = dH_j^T H_{j-1}, dH_{j-1} = dH_j W_j, then ``W -= lr * dW``.

Before timing, both paths are checked to give the same loss and gradients
(rtol 1e-9) at the starting factors, so the two compute the same thing.

Shapes (synthetic Gaussian data, fixed seed, Y = X w + noise, k = 1):
"abalone-like" n=4177, d=10, hidden [100, 100], and "ethanol-like"
n=2565, d=128, hidden [512, 512].

Why ratios within one run
-------------------------
Absolute steps/s depend on the machine, the BLAS and its thread count, and
on whatever else runs at the same time. Both paths are timed in the same
process, on the same data, one right after the other, so the *ratio* is
what can be compared across machines and is what the targets refer to
(>= 10x for l2, >= 5x for l4). Each figure is the best of 3 repeats of a
measurement lasting >= ~1 s (adaptive step count), which filters out
interruptions by other processes.

The first call of ours in the process is timed separately: it includes
numba compilation, or loading the compiled kernels from the on-disk cache.

l4 steps against two BLAS passes over X
---------------------------------------
A second table puts one l4 step of the compiled training loop (objective,
all factor gradients and the SGD update; ``deeplinear.train(...,
compiled=True, steps=S, record_every=S)``, time / S) against what two
passes of single-threaded BLAS over the same X cost: ``X @ w`` then
``X.T @ r3`` (dgemv, w of shape (d,), r3 of shape (n,) given), the least
any pass-per-product implementation of the l4 gradient reads (on the
Abalone shapes the loop reads no X at all: it works from the fourth
moments, which is cheaper there). The BLAS
reference runs in a subprocess started with OPENBLAS_NUM_THREADS=1
(and OMP_NUM_THREADS, MKL_NUM_THREADS=1) set before numpy is imported
there, in the same run, on synthetic data of the same shapes. Shapes:
Abalone (n=4177, d=10) hidden [] and [100, 100]; Ethanol as loaded
offline (n=1316, 8 batches, d=128) hidden [], [1], [10]; full Ethanol
(n=2565, d=128) hidden []. Target: ours / BLAS <= 1.0x on every shape
(for depth > 1 ours is the whole step, against the same two passes).
A last column times 6 learning rates in lockstep (``deeplinear.train_lrs``,
what a grid's task runs), per run and step, against the same two passes:
for one output the runs share one pass over X per step.

Usage: python benchmarks/bench_core.py [--quick] [--json PATH]
"""

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time

import numba
import numpy as np

from deeplinear import _kernel_data
from deeplinear._kernels import train as kernel_train
from deeplinear._kernels.interface import Workspace
from deeplinear.objective import Objective
from deeplinear.train import train

try:
    from deeplinear.optim import SGD
except ImportError:  # written by someone else; fall back to a plain update
    SGD = None

SHAPES = {
    "abalone-like": dict(n=4177, d=10, k=1, hidden=[100, 100]),
    "ethanol-like": dict(n=2565, d=128, k=1, hidden=[512, 512]),
}
TARGETS = {"l2": 10.0, "l4": 5.0}
LR = 1e-4
INIT_SCALE = 0.5
RTOL = 1e-9

# l4 steps of the compiled loop against two single-threaded BLAS passes over X
PASS_SHAPES = [
    ("abalone-like", dict(n=4177, d=10, k=1, hidden=[])),
    ("abalone-like", dict(n=4177, d=10, k=1, hidden=[100, 100])),
    ("ethanol-1316", dict(n=1316, d=128, k=1, hidden=[])),
    ("ethanol-1316", dict(n=1316, d=128, k=1, hidden=[1])),
    ("ethanol-1316", dict(n=1316, d=128, k=1, hidden=[10])),
    ("ethanol-like", dict(n=2565, d=128, k=1, hidden=[])),
]
PASS_TARGET = 1.0  # ours / (X @ w + X.T @ r3), at most
SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# Run as ``python -c BLAS_WORKER '<json [[n, d], ...]>' min_time`` with SINGLE_THREAD in
# the environment, so that numpy starts with one BLAS thread. Prints a JSON list: for each
# shape the best time in seconds of ``X @ w`` followed by ``X.T @ r3``.
BLAS_WORKER = """
import json, sys, time
import numpy as np
shapes, min_time = json.loads(sys.argv[1]), float(sys.argv[2])
out = []
for n, d in shapes:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) / np.sqrt(d)
    r3 = rng.standard_normal(n) ** 3
    def two_passes():
        X @ w
        X.T @ r3
    two_passes()
    reps, best = 1, float("inf")
    while True:  # calibrate, then best of 3
        t0 = time.perf_counter()
        for _ in range(reps):
            two_passes()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            break
        reps = max(2 * reps, int(reps * 1.2 * min_time / max(elapsed, 1e-9)))
    best = elapsed / reps
    for _ in range(2):
        t0 = time.perf_counter()
        for _ in range(reps):
            two_passes()
        best = min(best, (time.perf_counter() - t0) / reps)
    out.append(best)
print(json.dumps(out))
"""


def make_problem(n, d, k, hidden, seed=0):
    """Standardized-like Gaussian X, Y = X w + noise, factors ~ INIT_SCALE/sqrt(fan_in)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal((d, k)) / np.sqrt(d)
    Y = X @ w + 0.1 * rng.standard_normal((n, k))
    dims = [d] + list(hidden) + [k]
    factors = [INIT_SCALE * rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j])
               for j in range(len(dims) - 1)]
    return X, Y, factors


def layer_by_layer(factors, X, Y, p):
    """Hand-written backprop: loss mean(|pred - Y|^p) and [dL/dW_1, ..., dL/dW_N]."""
    H = [X]
    for W in factors:
        H.append(H[-1] @ W.T)
    r = H[-1] - Y
    if p == 2:
        value = np.mean(r * r)
        dH = 2.0 * r / r.size
    else:
        value = np.mean(r ** 4)
        dH = 4.0 * r ** 3 / r.size
    grads = [None] * len(factors)
    for j in range(len(factors) - 1, -1, -1):
        grads[j] = dH.T @ H[j]
        if j > 0:
            dH = dH @ factors[j]
    return float(value), grads


def compiled_value_and_grads(objective, factors):
    """The objective and its factor gradients by the kernels of one step of the
    compiled loop, on the loop's ``Data`` and a workspace of one run."""
    ch = _kernel_data.chain(objective, factors)
    data = _kernel_data.kernel_data(objective, ch.transposed)
    batch = ch.batch_workspace(1)
    work = Workspace(*(a if name == "kd" else a[0] for name, a in zip(Workspace._fields, batch)))
    params = ch.pack(factors)
    kernel_train.end_to_end_into(params, work, data)
    values = np.empty(1)
    kernel_train.losses_into(batch.W_e, batch.grad_e, values, np.ones(1, dtype=np.bool_), data,
                             data.X, data.C, data.M4, data.omega_rows)
    value = kernel_train.gradients_from_grad_e(params, work, data, values[0])
    return float(value), ch.unkernel(ch.views(work.dW))


def make_ours(X, Y, loss, factors, compiled=True):
    """Return step() for the package path; it updates ``factors`` in place."""
    obj = Objective(X, Y, loss=loss)
    opt = SGD(factors, LR) if SGD is not None else None

    def step():
        if compiled:
            value, grads = compiled_value_and_grads(obj, factors)
        else:
            value, grads = obj.value_and_grads(factors)
        if opt is not None:
            opt.step(grads)
        else:
            for W, g in zip(factors, grads):
                W -= LR * g
        return value

    return obj, step


def make_reference(X, Y, p, factors):
    def step():
        value, grads = layer_by_layer(factors, X, Y, p)
        for W, g in zip(factors, grads):
            W -= LR * g
        return value

    return step


def best_rate(step, factors, start, min_time, repeats=3):
    """Best steps/s over ``repeats`` measurements of >= min_time s each.

    Factors are reset to ``start`` before each measurement (not timed) so that
    long runs cannot drift towards overflow.
    """
    def reset():
        for W, W0 in zip(factors, start):
            np.copyto(W, W0)

    reset()
    steps, elapsed = 1, 0.0
    while True:  # calibrate the number of steps per measurement
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            break
        steps = max(2 * steps, int(steps * 1.2 * min_time / max(elapsed, 1e-9)))
    rates = [steps / elapsed]
    for _ in range(repeats - 1):
        reset()
        t0 = time.perf_counter()
        for _ in range(steps):
            value = step()
        rates.append(steps / (time.perf_counter() - t0))
        if not (np.isfinite(value) and all(np.all(np.isfinite(W)) for W in factors)):
            raise RuntimeError("non-finite loss or factors during timing; lower LR")
    return max(rates), steps


def check_agreement(obj, X, Y, p, start, label):
    value, grads = compiled_value_and_grads(obj, start)
    numpy_value, numpy_grads = obj.value_and_grads(start)
    ref_value, ref_grads = layer_by_layer(start, X, Y, p)
    np.testing.assert_allclose(numpy_value, ref_value, rtol=RTOL, err_msg=f"{label}: numpy loss")
    for j, (g, r) in enumerate(zip(numpy_grads, ref_grads)):
        np.testing.assert_allclose(g, r, rtol=RTOL, atol=RTOL * np.abs(r).max(),
                                   err_msg=f"{label}: numpy dL/dW_{j + 1}")
    np.testing.assert_allclose(value, ref_value, rtol=RTOL, err_msg=f"{label}: loss")
    for j, (g, r) in enumerate(zip(grads, ref_grads)):
        # rtol relative to each entry, plus atol relative to the array's scale
        # so that entries that happen to be near zero do not fail spuriously
        np.testing.assert_allclose(g, r, rtol=RTOL, atol=RTOL * np.abs(r).max(),
                                   err_msg=f"{label}: dL/dW_{j + 1}")


def blas_two_passes(shapes, min_time):
    """Seconds per ``X @ w`` + ``X.T @ r3`` for each (n, d), in a single-threaded subprocess."""
    env = dict(os.environ, **SINGLE_THREAD)
    proc = subprocess.run([sys.executable, "-c", BLAS_WORKER, json.dumps(shapes), str(min_time)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def l4_step_seconds(X, Y, start, min_time, repeats=3):
    """Best seconds per l4 step of the compiled loop (train, one record at the end)."""
    def run(steps):
        t0 = time.perf_counter()
        h = train(start, X, Y, loss="l4", lr=LR, steps=steps, record_every=steps, compiled=True)
        elapsed = time.perf_counter() - t0
        if h.diverged or not h.info.get("compiled"):
            raise RuntimeError("l4 timing run diverged or did not run compiled; lower LR")
        return elapsed

    return best_seconds_per_step(run, min_time, repeats)


def best_seconds_per_step(run, min_time, repeats=3):
    """``(best seconds per step, steps)`` of ``run(steps)`` (which returns its wall
    time): one warm-up call, steps calibrated to take ``min_time``, best of ``repeats``."""
    run(2)  # compile or load the kernels
    steps, elapsed = 16, run(16)
    while elapsed < min_time:
        steps = max(2 * steps, int(steps * 1.2 * min_time / max(elapsed, 1e-9)))
        elapsed = run(steps)
    best = elapsed
    for _ in range(repeats - 1):
        best = min(best, run(steps))
    return best / steps, steps


LOCKSTEP_RUNS = 6  # a preset's lrs per task


def l4_lockstep_seconds(X, Y, start, min_time, repeats=3):
    """Best seconds per run-step of ``LOCKSTEP_RUNS`` lrs in lockstep (``train_lrs``)."""
    from deeplinear import Objective, train_lrs

    objective = Objective(X, Y, "l4")
    lrs = [LR * (1.0 - 0.1 * b) for b in range(LOCKSTEP_RUNS)]

    def run(steps):
        t0 = time.perf_counter()
        hs = train_lrs(start, objective, lrs=lrs, steps=steps, record_every=steps, compiled=True)
        elapsed = time.perf_counter() - t0
        if any(h.diverged for h in hs):
            raise RuntimeError("l4 lockstep timing run diverged; lower LR")
        return elapsed

    per_step, _ = best_seconds_per_step(run, min_time, repeats)
    return per_step / len(lrs)


def pass_comparison(min_time):
    """The l4-step table: ours per step against two single-threaded BLAS passes over X."""
    rows = []
    for shape, cfg in PASS_SHAPES:
        X, Y, start = make_problem(**cfg)
        ours, steps = l4_step_seconds(X, Y, start, min_time)
        lockstep = l4_lockstep_seconds(X, Y, start, min_time)
        rows.append(dict(shape=shape, **cfg, ours_s_per_step=ours, steps_timed=steps,
                         lockstep_s_per_run_step=lockstep))
    blas = blas_two_passes([[r["n"], r["d"]] for r in rows], min_time)
    for r, b in zip(rows, blas):
        r["blas_two_passes_s"] = b
        r["ratio"] = r["ours_s_per_step"] / b
        r["target"] = PASS_TARGET
        r["passed"] = r["ratio"] <= PASS_TARGET
        r["lockstep_ratio"] = r["lockstep_s_per_run_step"] / b
    return rows


def print_pass_comparison(rows):
    print("\nl4 step of the compiled loop against two single-threaded BLAS passes over X "
          "(X @ w, X.T @ r3; subprocess with OPENBLAS_NUM_THREADS=1)")
    head = (f"{'shape':<14}{'n':>6}{'d':>5}  {'hidden':<11}{'ours us/step':>13}"
            f"{'2 BLAS passes us':>18}{'ratio':>8}{'target':>8}  result"
            f"{f'{LOCKSTEP_RUNS} lrs lockstep us/run':>26}{'ratio':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        hidden = "[" + ",".join(map(str, r["hidden"])) + "]"
        print(f"{r['shape']:<14}{r['n']:>6}{r['d']:>5}  {hidden:<11}{r['ours_s_per_step'] * 1e6:>13.1f}"
              f"{r['blas_two_passes_s'] * 1e6:>18.1f}{r['ratio']:>7.2f}x{'<= ' + format(r['target'], '.1f'):>7}x"
              f"  {'PASS' if r['passed'] else 'MISS':<6}"
              f"{r['lockstep_s_per_run_step'] * 1e6:>26.1f}{r['lockstep_ratio']:>7.2f}x")


def kernel_cache_stats():
    """(cache hits, cache misses) summed over the package's numba kernels so far."""
    hits = misses = 0
    for name in ("chain", "loss", "optim", "train"):
        try:
            module = importlib.import_module(f"deeplinear._kernels.{name}")
        except ImportError:
            continue
        for f in vars(module).values():
            stats = getattr(f, "stats", None)
            if stats is not None and hasattr(stats, "cache_hits"):
                hits += sum(stats.cache_hits.values())
                misses += sum(stats.cache_misses.values())
    return hits, misses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run (~0.05 s per measurement)")
    parser.add_argument("--json", metavar="PATH", help="write the results to PATH as JSON")
    args = parser.parse_args(argv)
    min_time = 0.05 if args.quick else 1.0

    env = dict(python=platform.python_version(), numpy=np.__version__, numba=numba.__version__,
               cpu_count=os.cpu_count(), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS"),
               OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS"),
               optimizer="deeplinear.optim.SGD" if SGD is not None else "in-place W -= lr * g")
    print("  ".join(f"{k}={v}" for k, v in env.items()))
    print(f"lr={LR}, best of 3 measurements of >= {min_time:g} s each\n")

    results = []
    for shape, cfg in SHAPES.items():
        X, Y, start = make_problem(**cfg)
        for loss in ("l2", "l4"):
            p = int(loss[1:])
            label = f"{shape}/{loss}"
            ours_factors = [W.copy() for W in start]
            ref_factors = [W.copy() for W in start]
            before = kernel_cache_stats()
            t0 = time.perf_counter()
            obj, ours_step = make_ours(X, Y, loss, ours_factors)
            ours_step()  # first full step: compile or cache load of every kernel it uses
            first_call = time.perf_counter() - t0
            hits, misses = (a - b for a, b in zip(kernel_cache_stats(), before))
            how = f"compiled {misses} kernel(s)" if misses else (
                f"loaded {hits} kernel(s) from cache" if hits else "already loaded")
            check_agreement(obj, X, Y, p, start, label)
            ref_step = make_reference(X, Y, p, ref_factors)
            numpy_factors = [W.copy() for W in start]
            _, numpy_step = make_ours(X, Y, loss, numpy_factors, compiled=False)
            ours_rate, ours_n = best_rate(ours_step, ours_factors, start, min_time)
            ref_rate, ref_n = best_rate(ref_step, ref_factors, start, min_time)
            numpy_rate, _ = best_rate(numpy_step, numpy_factors, start, min_time)
            ratio = ours_rate / ref_rate
            results.append(dict(shape=shape, loss=loss, **{k: v for k, v in cfg.items()},
                                ours_steps_per_s=ours_rate, layer_by_layer_steps_per_s=ref_rate,
                                numpy_steps_per_s=numpy_rate,
                                ratio=ratio, target=TARGETS[loss], passed=ratio >= TARGETS[loss],
                                first_call_s=first_call, first_call_kind=how,
                                steps_timed=dict(ours=ours_n, ref=ref_n)))

    head = (f"{'shape':<14}{'loss':<6}{'ours steps/s':>14}{'layer-by-layer':>16}{'ratio':>9}"
            f"{'target':>8}  result{'numpy path':>12}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['shape']:<14}{r['loss']:<6}{r['ours_steps_per_s']:>14,.0f}"
              f"{r['layer_by_layer_steps_per_s']:>16,.1f}{r['ratio']:>8.1f}x{r['target']:>7.0f}x  "
              f"{'PASS' if r['passed'] else 'MISS'}{r['numpy_steps_per_s']:>12,.1f}")
    print("\nfirst call (compile or cache load): Objective setup + first full step of ours")
    for r in results:
        print(f"  {r['shape'] + '/' + r['loss']:<18}{r['first_call_s'] * 1e3:8.1f} ms  ({r['first_call_kind']})")

    passes = pass_comparison(min_time)
    print_pass_comparison(passes)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(environment=env, quick=args.quick, results=results,
                           l4_vs_two_blas_passes=passes), f, indent=2)
        print(f"\nwrote {args.json}")
    return 0 if all(r["passed"] for r in results + passes) else 1


if __name__ == "__main__":
    sys.exit(main())
