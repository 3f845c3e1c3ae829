"""The worker sandbox of the grader (judge/sandbox.py, worker.py, wire.py) on its own.

A tiny student package is written to a temporary folder, and single calls
are made with the runner, unconfined ("none") so that the tests run as any
user; the confined modes are exercised by tests/test_attacks.py.
"""

import numpy as np
import numpy.lib.format as npformat
import pytest

from deeplinear.assignment.judge.sandbox import (MODES, OUTPUT_CAP, START_ATTEMPTS, STARTED,
                                                 IsolationError, Runner, probe)
from deeplinear.assignment.judge.wire import BadAnswer, NumpyScalar, Unsupported, decode

STUDENT = '''
import numpy as np
def twice(x):
    return 2 * x
def loud(n):
    import sys
    chunk = "y" * 65536
    for _ in range(n // 65536):
        sys.stdout.write(chunk)
    return 1.5
def forever():
    while True:
        pass
def liar(x):
    class Liar(np.ndarray):
        pass
    return x.view(Liar)
def kinds():
    return (np.float64(2.5), np.zeros(2, dtype=np.float32), object(), [1, "a", None])
def crash():
    raise ValueError("a message")
def count_and_exit(path):
    with open(path, "a") as fh:
        fh.write("x")
    import os
    os._exit(1)
def look():
    import os, sys
    found = []
    for base, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if not (base == "/" and d in ("proc", "sys"))]
        found += [os.path.join(base, d) for d in dirs if d == "deeplinear"]
        found += [os.path.join(base, f) for f in files
                  if "deeplinear" in f or f.endswith((".pth", "direct_url.json"))]
    leftover = sorted(os.listdir("/tmp") + os.listdir("/dev/shm"))
    for folder in ("/tmp", "/dev/shm"):
        with open(folder + "/left-by-a-call", "w") as fh:
            fh.write("x")
    return {"top": sorted(os.listdir("/")), "deeplinear": sorted(found),
            "leftover": leftover, "uid": os.getuid(), "path": sys.path}
'''


@pytest.fixture(params=["namespaces", "user"])
def confined(request, tmp_path):
    """A runner in each confined mode (skipped where the machine lacks it, never in CI)."""
    import os

    why = probe(request.param)
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    (tmp_path / "deeplinear").mkdir()
    (tmp_path / "deeplinear" / "probe.py").write_text(STUDENT)
    r = Runner(tmp_path, timeout=20.0, mode=request.param)
    yield r
    r.close()


def test_a_confined_worker_sees_only_the_allowlist(confined):
    first, second = call(confined, "look"), call(confined, "look")
    assert first.ok and second.ok, (first.failure, first.error, first.output)
    seen = first.answer["value"]
    # Nothing named deeplinear but the student's own package, no finder or metadata.
    assert seen["deeplinear"] == ["/student/deeplinear"], seen["deeplinear"]
    assert {"student", "site", "work", "tmp", "dev"} <= set(seen["top"])
    assert not {"home", "opt", "srv", "mnt"} & set(seen["top"]), seen["top"]
    assert "/site" in seen["path"] and not any("-packages" in p for p in seen["path"])
    # A fresh /tmp and /dev/shm, and a fresh user id, for every call.
    assert seen["leftover"] == [] and second.answer["value"]["leftover"] == []
    assert seen["uid"] != second.answer["value"]["uid"] and seen["uid"] not in (0, 65534)


@pytest.fixture
def runner(tmp_path):
    (tmp_path / "deeplinear").mkdir()
    (tmp_path / "deeplinear" / "probe.py").write_text(STUDENT)
    r = Runner(tmp_path, timeout=5.0, mode="none")
    yield r
    r.close()


def call(runner, name, *args):
    arrays, encoded = {}, []
    for a in args:
        if isinstance(a, np.ndarray):
            arrays[f"in_{len(arrays)}.npy"] = a
            encoded.append({"__array__": f"in_{len(arrays) - 1}.npy"})
        else:
            encoded.append(a)
    return runner.run({"recipe": "call", "target": f"deeplinear.probe:{name}",
                       "args": encoded}, arrays)


def test_arrays_go_and_come_back_exactly(runner):
    x = np.random.default_rng(0).standard_normal((3, 4))
    got = call(runner, "twice", x)
    assert got.ok and type(got.answer["value"]) is np.ndarray
    np.testing.assert_array_equal(got.answer["value"], 2 * x, err_msg="bit-exact round trip")
    np.testing.assert_array_equal(got.answer["args_after"][0], x)


def test_output_is_read_to_a_cap(runner):
    got = call(runner, "loud", 8 << 20)
    assert got.ok and got.answer["value"] == 1.5
    assert got.output_bytes == 8 << 20 and len(got.output) == OUTPUT_CAP


def test_a_timeout_kills_the_worker(tmp_path, runner):
    runner.timeout = 1.0
    got = call(runner, "forever")
    assert not got.ok and got.failure.startswith("cut short") and got.seconds < 4


def test_answers_that_are_not_plain_data_are_named(runner):
    got = call(runner, "liar", np.zeros(3))
    assert isinstance(got.answer["value"], Unsupported)
    assert "ndarray subclass" in got.answer["value"].what
    value = call(runner, "kinds").answer["value"]
    assert value[0] == NumpyScalar(2.5, "float64")
    assert value[1].dtype == np.float32  # the judge then refuses it as not float64
    assert isinstance(value[2], Unsupported) and value[3] == [1, "a", None]


def test_an_exception_comes_back_as_data(runner):
    got = call(runner, "crash")
    assert not got.ok and got.error["type"] == "ValueError"
    assert got.error["message"] == "a message"
    line = STUDENT.splitlines().index('    raise ValueError("a message")') + 1
    assert got.error["where"] == {"file": "deeplinear/probe.py", "line": line, "function": "crash"}


def test_lying_or_too_many_arrays_are_refused(tmp_path):
    np.save(tmp_path / "out_0.npy", np.arange(4.0))
    with open(tmp_path / "out_1.npy", "wb") as fh:  # a header that claims 8 GB
        npformat.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                             "shape": (10 ** 9,)})
    with pytest.raises(BadAnswer, match="unreadable"):
        decode({"__array__": "out_1.npy"}, tmp_path)
    with pytest.raises(BadAnswer, match="too many"):
        decode([{"__array__": "out_0.npy"}] * 300, tmp_path)
    with pytest.raises(BadAnswer, match="not the worker's own"):
        decode({"__array__": "../out_0.npy"}, tmp_path)


def test_probe_gives_a_reason_or_nothing():
    assert probe("none") == ""
    for mode in MODES:
        why = probe(mode)
        assert isinstance(why, str) and (not why or why.startswith(mode)), (mode, why)


def _fail_before_start(runner, flag, times):
    """The worker program exits with code 1, before the student's code starts, on
    its first ``times`` runs (as ``unshare`` or a mount can fail): ``flag`` counts them."""
    runner.source = (f"import os\nwith open({str(flag)!r}, 'a') as fh: fh.write('x')\n"
                     f"if os.path.getsize({str(flag)!r}) <= {times}: os._exit(1)\n"
                     + runner.source)


def test_a_worker_that_fails_to_start_is_started_again(runner, tmp_path):
    flag = tmp_path / "starts"
    _fail_before_start(runner, flag, START_ATTEMPTS - 1)
    got = call(runner, "twice", np.ones(2))
    assert got.ok and flag.read_text() == "x" * START_ATTEMPTS, got.failure
    assert STARTED not in got.output and got.output_bytes == 0


def test_a_sandbox_that_never_starts_stops_grading(runner, tmp_path):
    """Not a grade of 0 for the student: the judge raises, and grading reports it."""
    flag = tmp_path / "starts"
    _fail_before_start(runner, flag, START_ATTEMPTS)
    with pytest.raises(IsolationError, match="failed to start 3 times, before any student code"):
        call(runner, "twice", np.ones(2))
    assert flag.read_text() == "x" * START_ATTEMPTS


def test_a_student_crash_is_the_students_and_runs_once(runner, tmp_path):
    """After the student's code started, exiting without an answer is a failure
    of the call, never a reason to run the student's code again."""
    count = tmp_path / "calls"
    got = call(runner, "count_and_exit", str(count))
    assert not got.ok and got.started and "exited with code 1 without answering" in got.failure
    assert count.read_text() == "x"
