"""The compiled loop gives the same bits with and without the JIT.

``NUMBA_DISABLE_JIT=1`` runs the kernels' Python source. Two places made the
two disagree in the last bits (about 1e-16 relative) before:

- ``_kernels.chain.matmul_bt`` let LLVM reassociate its dot products
  (``fastmath``), in an order Python could not follow; it now sums in the
  order ``chain.row_dot_bt`` defines, which numba compiles to the same
  vector code;
- ``_kernels.optim.adam_update`` computed ``beta ** t`` with an integer ``t``,
  which numba does by repeated multiplication and Python by libm's ``pow``.

Equality here is exact (``array_equal``): any difference in the order of a
sum changes some last bit on random data.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deeplinear._kernels import chain

# Rows of length p cover every branch of row_dot_bt's order: no block of 16,
# blocks of 16 with and without blocks of 4 after them, and a tail of 0-3.
P_VALUES = [0, 1, 3, 4, 7, 15, 16, 17, 20, 31, 32, 35, 48, 53]


@pytest.mark.parametrize("p", P_VALUES)
def test_matmul_bt_sums_in_the_order_row_dot_bt_defines(rng, p):
    """The compiled ``matmul_bt`` (its LLVM intrinsic) against the plain
    Python ``row_dot_bt``, bit for bit; and against ``A @ B.T`` in value."""
    A, B = rng.standard_normal((3, p)), rng.standard_normal((5, p))
    out = np.full((3, 5), np.nan)
    chain.matmul_bt(A, B, out)
    plain = np.array([[chain.row_dot_bt(A, i, B, c) for c in range(5)] for i in range(3)])
    assert np.array_equal(out, plain), f"p={p}: the compiled order is not row_dot_bt's"
    # Value: a few ulps times p terms of O(1) products; 1e-13 absolute is wide for p <= 53.
    np.testing.assert_allclose(out, A @ B.T, rtol=0, atol=1e-13, err_msg=f"p={p}")


def test_matmul_bt_on_strided_views_takes_the_same_order(rng):
    """Non-contiguous rows compile the plain order: same bits as contiguous copies."""
    A, B = rng.standard_normal((3, 70))[:, ::2], rng.standard_normal((4, 70))[:, 1::2]
    out, ref = np.empty((3, 4)), np.empty((3, 4))
    chain.matmul_bt(A, B, out)
    chain.matmul_bt(np.ascontiguousarray(A), np.ascontiguousarray(B), ref)
    assert np.array_equal(out, ref)


_SCRIPT = """
import json, sys
import numpy as np
import deeplinear as dl
out = {}
for case in json.loads(sys.argv[1]):
    rng = np.random.default_rng(case["seed"])
    d0, h, dN = case["dims"]
    X, Y = rng.standard_normal((40, d0)), rng.standard_normal((40, dN))
    factors = [rng.standard_normal((h, d0)) * 0.3, rng.standard_normal((h, h)) * 0.3,
               rng.standard_normal((dN, h)) * 0.3]
    hist = dl.train(factors, X, Y, lr=1e-2, steps=12, record_every=4, loss=case["loss"],
                    weight_decay=case["weight_decay"], optimizer=case["optimizer"],
                    compiled=True)
    assert hist.info["compiled"], case["name"]
    W = np.concatenate([W.ravel() for W in hist.final_factors])
    out[case["name"]] = [v.hex() for v in np.concatenate([hist.loss, W]).tolist()]
# Matrix completion (its own kind of data), wide and tall (the transposed chain).
for k, (shape, opt) in enumerate([((5, 19), "sgd"), ((18, 4), "adam")]):
    rng = np.random.default_rng(100 + k)
    target = dl.completion.low_rank_matrix(shape, 2, rng=rng)
    objective = dl.completion.CompletionObjective(
        target, dl.completion.sample_entries(shape, shape[0] * shape[1] // 2, rng), 1e-3)
    start = dl.init.balanced([shape[1], 17, shape[0]], scale=0.5, rng=rng)
    hist = dl.train_objective(start, objective, lr=0.05, steps=12, record_every=4,
                              optimizer=opt, compiled=True)
    W = np.concatenate([W.ravel() for W in hist.final_factors])
    out[f"completion-{opt}"] = [v.hex() for v in np.concatenate([hist.loss, W]).tolist()]
print(json.dumps(out))
"""

# Widths above 16 (matmul_bt's vector order), one and several outputs, the
# transposed chain (d_0 < d_N), every optimizer and the three kinds of data;
# and the compiled end-to-end update (one output, no weight decay: the loop
# on [W_e] with the kernel optim.e2e_update), at depth 3 and at depth 1.
CASES = [dict(name=f"{opt}-{loss}-{'x'.join(map(str, dims))}", optimizer=opt, loss=loss,
              dims=dims, seed=k, weight_decay=0.0 if opt == "e2e" else 1e-3)
         for k, (opt, loss, dims) in enumerate([
             ("sgd", "l2", [7, 21, 3]), ("adam", "l2", [5, 18, 1]), ("adagrad", "l4", [6, 19, 1]),
             ("adadelta", "l4", [3, 17, 8]), ("adam", "l3", [9, 20, 2]),
             ("sgd", "l3", [2, 33, 5]), ("e2e", "l2", [21, 17, 1]), ("e2e", "l4", [20, 3, 1]),
             ("e2e", "l3", [35, 1, 1])])]


def _run(disable_jit):
    env = {**os.environ, "DEEPLINEAR_QUIET_COMPILE": "1"}
    env.pop("NUMBA_DISABLE_JIT", None)
    if disable_jit:
        env["NUMBA_DISABLE_JIT"] = "1"
    done = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(CASES)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_compiled_loop_gives_the_same_bits_without_the_jit():
    jit, plain = _run(False), _run(True)
    differ = [name for name in jit if jit[name] != plain[name]]
    assert not differ, f"NUMBA_DISABLE_JIT=1 changes the bits of: {differ}"
    assert len(jit) == len(CASES) + 2
