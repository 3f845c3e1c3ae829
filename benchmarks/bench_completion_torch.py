"""Depth-3 matrix completion: deeplinear's compiled loop against the same loop in PyTorch.

What is measured
----------------
Gradient descent on a depth-3 factorization ``W_e = W_3 W_2 W_1`` (each
100 x 100) of a 100 x 100 rank-5 ground truth (``completion.low_rank_matrix``,
largest singular value 1) seen on m = 2,000 of its entries (20%), loss
``(1/m) sum_Omega (W_e - W*)^2``, from the balanced start of seed 0 with
entries of ``W_e`` of std 1e-3 (``init.balanced``), lr ``m / (2 N)`` (as in
tutorial 12), 10,000 steps, float64, one thread each:

* ours: ``train_objective(..., compiled=True)`` on a ``CompletionObjective``,
  the loss recorded once at the end (``History.seconds``: the loop alone);
* ours, NumPy: the same on the Python loop (``compiled=False``), which calls
  NumPy's matmul (BLAS), over ``--numpy-steps`` steps, scaled;
* PyTorch (CPU, float64, ``torch.set_num_threads(1)``): the loop written as
  one writes it with autograd, ``W_e = W3 @ W2 @ W1``, the masked residual,
  ``loss.backward()``, ``W -= lr * W.grad`` under ``no_grad``; in a
  subprocess of ``--torch-python`` when this interpreter has no torch.

The three must end at the same W_e (relative Frobenius difference below
1e-8: the same float64 steps in different summation orders; measured, 1.0e-15
against PyTorch after 1e4 steps), else the benchmark stops: a ratio between different
computations means nothing. (The loss itself ends near 1e-21, where its
relative difference is only rounding of rounding, so W_e is compared.)

Where the time goes: a step of ours is N - 1 = 2 suffix products, N - 1
= 2 products pushing the gradient through the prefixes and N = 3 factor
gradients, 7 products of 100 x 100 matrices in all (the last factor's
gradient multiplies by the identity block ``suffix[N]``), plus O(m) for the
loss; PyTorch's autograd does 6 (2 forward, 4 backward), each by BLAS. The
benchmark also times one 100 x 100 product by our kernel
(``_kernels.chain.matmul``, plain loops in a fixed summation order so that
the bits do not depend on alignment or the JIT) and by NumPy's ``@`` (BLAS):
their ratio, times 7/6, accounts for most of the gap. The table gives each
method's µs/step and its ratio to PyTorch, measured in the same run: ratios
carry over between machines; microseconds do not.

Usage: python benchmarks/bench_completion_torch.py [--steps S] [--numpy-steps S]
       [--torch-python PATH] [--json PATH]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import deeplinear as dl  # noqa: E402
from deeplinear.completion import CompletionObjective, low_rank_matrix, sample_entries  # noqa

D, RANK, M, DEPTH, SCALE = 100, 5, 2000, 3, 1e-3
LR = M / (2 * DEPTH)
RTOL = 1e-8

TORCH_LOOP = r"""
import json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
data = np.load(sys.argv[1])
steps, lr, out = int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
Ws = [torch.tensor(data[f"W{j}"], requires_grad=True) for j in range(int(data["N"]))]
mask = torch.tensor(data["mask"])
target = torch.tensor(data["observed"])
m = float(mask.sum())
def run(steps):
    for _ in range(steps):
        W_e = Ws[0]
        for W in Ws[1:]:
            W_e = W @ W_e
        r = (W_e - target) * mask
        loss = (r * r).sum() / m
        loss.backward()
        with torch.no_grad():
            for W in Ws:
                W -= lr * W.grad
                W.grad = None
    return float(loss)
start = time.perf_counter()
run(steps)
seconds = time.perf_counter() - start
with torch.no_grad():  # the loss at the end, as ours records it
    W_e = Ws[0]
    for W in Ws[1:]:
        W_e = W @ W_e
    r = (W_e - target) * mask
    final = float((r * r).sum() / m)
    np.save(out, W_e.numpy())
print(json.dumps({"seconds": seconds, "final_loss": final, "torch": torch.__version__,
                  "threads": torch.get_num_threads()}))
"""


def problem():
    rng = np.random.default_rng(0)
    target = low_rank_matrix((D, D), RANK, rng=rng)
    mask = sample_entries((D, D), M, rng)
    start = dl.init.balanced([D] * (DEPTH + 1), scale=SCALE, rng=np.random.default_rng(1))
    return CompletionObjective(target, mask), start


def ours(objective, start, steps, compiled):
    """(seconds, final loss, final W_e) of our loop."""
    history = dl.train_objective(start, objective, lr=LR, steps=steps, record_every=steps,
                                 compiled=compiled)
    assert history.info["compiled"] == compiled and not history.diverged
    return history.seconds, float(history.loss[-1]), dl.end_to_end(history.final_factors)


def torch_run(objective, start, steps, python):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "problem.npz")
        np.savez(path, N=len(start), mask=objective.mask.astype(float),
                 observed=objective.observed, **{f"W{j}": W for j, W in enumerate(start)})
        out = os.path.join(tmp, "W_e.npy")
        done = subprocess.run([python, "-c", TORCH_LOOP, path, str(steps), repr(LR), out],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"the PyTorch loop failed ({python}):\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["W_e"] = np.load(out)
    return result


def differ(A, B) -> float:
    return float(np.linalg.norm(A - B) / np.linalg.norm(B))


def product_seconds(reps=2000):
    """Seconds of one 100 x 100 product: our kernel, and NumPy's ``@`` (BLAS)."""
    from deeplinear._kernels import chain

    rng = np.random.default_rng(2)
    A, B, out = rng.standard_normal((D, D)), rng.standard_normal((D, D)), np.empty((D, D))
    chain.matmul(A, B, out)  # compile or load
    times = {}
    for name, product in (("kernel", lambda: chain.matmul(A, B, out)),
                          ("numpy", lambda: np.matmul(A, B, out=out))):
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(reps):
                product()
            best = min(best, (time.perf_counter() - start) / reps)
        times[name] = best
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--numpy-steps", type=int, default=1_000)
    parser.add_argument("--torch-python", default=sys.executable,
                        help="an interpreter with torch (default: this one)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    objective, start = problem()
    ours(objective, start, 2, True)  # compile or load the kernels
    fast = min((ours(objective, start, args.steps, True) for _ in range(2)),
               key=lambda r: r[0])
    slow = ours(objective, start, args.numpy_steps, False)
    check = ours(objective, start, args.numpy_steps, True)
    torch_runs = [torch_run(objective, start, args.steps, args.torch_python) for _ in range(2)]
    torch_best = min(torch_runs, key=lambda r: r["seconds"])
    gaps = (differ(fast[2], torch_best["W_e"]), differ(slow[2], check[2]))
    if max(gaps) > RTOL:
        sys.exit(f"the loops disagree: W_e of ours and PyTorch differ by {gaps[0]:.1e}, of the "
                 f"NumPy and compiled loops by {gaps[1]:.1e} at {args.numpy_steps} steps")
    per_step = {"ours (compiled)": fast[0] / args.steps,
                "ours (NumPy loop)": slow[0] / args.numpy_steps,
                "PyTorch (autograd)": torch_best["seconds"] / args.steps}
    ref = per_step["PyTorch (autograd)"]
    print(f"depth-{DEPTH} completion, {D}x{D} rank {RANK}, m = {M}, lr {LR:g}, "
          f"{args.steps} steps; final loss ours {fast[1]:.6e}, PyTorch "
          f"{torch_best['final_loss']:.6e}; W_e differ by {gaps[0]:.1e} (relative), the "
          f"NumPy and compiled loops by {gaps[1]:.1e}")
    print(f"{'method':<22}{'µs/step':>10}{'ratio to PyTorch':>18}")
    for name, seconds in per_step.items():
        print(f"{name:<22}{1e6 * seconds:>10.1f}{seconds / ref:>18.2f}")
    products = product_seconds()
    print(f"one {D}x{D} product: our kernel {1e6 * products['kernel']:.1f} µs, NumPy (BLAS) "
          f"{1e6 * products['numpy']:.1f} µs, ratio {products['kernel'] / products['numpy']:.2f}"
          f"; 7 of ours take {7e6 * products['kernel']:.0f} µs, 6 by BLAS "
          f"{6e6 * products['numpy']:.0f} µs")
    print(f"torch {torch_best['torch']}, {torch_best['threads']} thread; numpy {np.__version__}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"per_step_seconds": per_step, "product_seconds": products, "final_loss": {
                "ours": fast[1], "torch": torch_best["final_loss"]}, "W_e_gaps": gaps,
                "time": time.strftime("%Y-%m-%d %H:%M")}, fh, indent=2)


if __name__ == "__main__":
    main()
