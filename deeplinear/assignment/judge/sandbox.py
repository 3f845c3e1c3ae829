"""Run one call of student code in a confined worker process, and read its answer as data.

The judge (pytest with the grading tests) never imports student code. Each
call goes to a fresh worker: ``worker.py``, sent as text on stdin to
``python -I -S -B``, with a scrubbed environment. The request and the answer
are JSON and ``.npy`` files in the worker's scratch folder (``wire.py``); the
judge loads arrays with ``allow_pickle=False`` and unpickles nothing.

What the worker sees is an **allowlist**, a *jail*: a folder tree built once
per judge process (:class:`Jail`) that holds only

* the interpreter, its shared libraries and the standard library (without
  ``site-packages``);
* NumPy (and its bundled libraries) in ``/site``;
* the student's staged package in ``/student``;
* its scratch folder ``/work`` and its own ``/tmp`` and ``/dev/shm``.

Nothing named deeplinear but the student's package, no finder, no metadata,
no other package of the judge's environment. The modes (:data:`MODES`):

``namespaces`` (root, and ``unshare`` works)
    New mount, PID, network and IPC namespaces; the jail is mounted read-only
    and becomes the root; ``/tmp`` and ``/dev/shm`` are fresh size-capped
    tmpfs that vanish with the call; ``/proc`` shows only the worker's
    processes; there is no network.
``user`` (root without namespaces, as in a Docker autograder)
    The worker is ``chroot``-ed into the jail (``CAP_SYS_CHROOT``, which
    Docker grants by default). Its ``/tmp`` and ``/dev/shm`` are folders of
    the jail, emptied after every call, without a size cap; the network and
    the host's process list stay visible.
``none``
    The worker runs with the grader's own rights and the host interpreter:
    for a student checking their own code, or when named explicitly.

In the two confined modes the worker runs as a user id of its own, fresh for
every call, so that nothing it leaves is readable by the next call, and its
processes can be found and killed. Limits on the whole call: a cgroup
(``memory.max``/``memory.limit_in_bytes`` and ``pids.max``, v2 or v1) where the
host has one, else a small ``RLIMIT_NPROC`` for the call's user; in every mode
``RLIMIT_AS``, CPU seconds, file size and open files per process; at most
``OUTPUT_CAP`` bytes of output kept; a timeout that the judge enforces by
killing everything the call started.

A call may be given an *oracle*: a function that the judge evaluates on
arrays the worker sends over a pipe (``numerical_gradient``'s ``f``). The
judge records every query; nothing the worker says about them is believed.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .jail import DEVICES, LAUNCH, Jail, runtime_files
from .limits import (PROCESSES, CallGroup, become_subreaper, fresh_uid, kill_group, kill_user,
                     sweep_orphans)
from .oracle import Oracle
from .wire import Response, read_answer

__all__ = ["MODES", "Runner", "IsolationError", "probe", "OUTPUT_CAP", "OracleRaise"]

MODES = ("namespaces", "user", "none")
WORKER = Path(__file__).with_name("worker.py")
OUTPUT_CAP = 4096           # bytes of a worker's stdout + stderr that are kept
FILE_CAP = 64 << 20         # RLIMIT_FSIZE: no file the worker writes exceeds 64 MB
TMP_MB = 64                 # size of /tmp and of /dev/shm in namespaces mode
#: What the worker prints just before the student's code runs (``worker.main``,
#: told it in its environment). A worker that ends without an answer and without
#: this never ran the student's code: the sandbox failed to start (``unshare``,
#: a mount, the interpreter), not the student; the call is started again, up to
#: ``START_ATTEMPTS`` times, and then grading stops with :class:`IsolationError`
#: rather than charge the student for it.
STARTED = "\x1edeeplinear worker started\x1e\n"
START_ATTEMPTS = 3
UNSHARE = ["unshare", "--mount", "--pid", "--net", "--ipc", "--fork", "--kill-child"]


class IsolationError(RuntimeError):
    """The isolation mode asked for cannot be given on this machine."""


def _boot(paths):
    return (f"import sys; sys.path[:] = {paths!r}; "
            "exec(compile(sys.stdin.read(), '<worker>', 'exec'))")


# --- one call ------------------------------------------------------------------------------

@dataclass
class Runner:
    """Starts workers for the student package in ``package_dir`` (which holds ``deeplinear/``).

    Parameters
    ----------
    package_dir : path
        Folder holding the student's staged ``deeplinear/`` package.
    timeout : float
        Seconds of wall time per call.
    memory_mb : int
        Memory of the whole call (cgroup) and address space of each process.
    mode : str
        ``"namespaces"``, ``"user"`` or ``"none"`` (see the module's docstring).
    """

    package_dir: str
    timeout: float = 10.0
    memory_mb: int = 1024
    mode: str = "none"
    jail: Jail | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {self.mode!r}")
        self.package_dir = str(Path(self.package_dir).resolve())
        self.source = WORKER.read_text()
        self.base = tempfile.mkdtemp(prefix="deeplinear-calls-")
        os.chmod(self.base, 0o711)
        if self.mode != "none":
            self.jail = Jail(os.path.join(self.base, "jail"), self.package_dir)
        become_subreaper()

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def run(self, request: dict, arrays: dict, oracle=None) -> Response:
        """Send ``request`` (JSON, with ``{"__array__": name}`` for each of ``arrays``).

        With ``oracle`` (a function of a float64 vector, which may raise
        :class:`OracleRaise`), the request carries ``"oracle": [read_fd,
        write_fd]`` for the worker; the response has ``queries`` and ``values``:
        what the worker asked and what it was told, as the judge saw them.

        A worker that dies before the student's code starts (see
        :data:`STARTED`) is started again, from scratch; after
        ``START_ATTEMPTS`` such starts this raises :class:`IsolationError`.
        """
        failures = []
        for attempt in range(START_ATTEMPTS):
            response = self._call(request, arrays, oracle)
            if response.started:
                return response
            failures.append(f"{response.failure}: " + " ".join(response.output.split())[-300:])
            time.sleep(0.2 * (attempt + 1))  # e.g. namespaces not yet released by the kernel
        raise IsolationError(f"{self.mode}: the worker failed to start {START_ATTEMPTS} times, "
                             "before any student code ran: " + " | ".join(failures))

    def _call(self, request, arrays, oracle) -> Response:
        uid = None
        if self.mode == "none":
            scratch = Path(tempfile.mkdtemp(prefix="c-", dir=self.base))
            package = self.package_dir
        else:
            uid = fresh_uid()
            self.jail.reset(uid)
            scratch = Path(self.jail.host(Jail.WORK))
            package = Jail.STUDENT
        pipes = None
        try:
            for name, value in arrays.items():
                np.save(scratch / name, np.ascontiguousarray(value), allow_pickle=False)
            doc = dict(request, package=package)
            if oracle is not None:
                to_worker, from_judge = os.pipe()
                from_worker, to_judge = os.pipe()
                pipes = (to_worker, from_judge, from_worker, to_judge)
                doc["oracle"] = [to_worker, to_judge]
            (scratch / "request.json").write_text(json.dumps(doc))
            if uid is not None:
                for path in [scratch, *scratch.iterdir()]:
                    os.chown(path, uid, uid)
            served = None
            if oracle is not None:
                served = Oracle(oracle, from_worker, from_judge)
            response = self._start(scratch, uid, pass_fds=pipes[::3] if pipes else ())
            if served is not None:
                for fd in (pipes[0], pipes[3]):
                    _close(fd)
                served.join(timeout=5)
                response.queries, response.values = served.queries, served.values
                if served.error and response.failure is None:
                    response.ok, response.failure = False, f"the function f was sent {served.error}"
            return response
        finally:
            if self.mode == "none":
                shutil.rmtree(scratch, ignore_errors=True)
            else:
                self.jail.reset(None)

    def _limits(self) -> dict:
        limits = {"RLIMIT_AS": int(self.memory_mb) << 20,
                  "RLIMIT_CPU": int(self.timeout) + 2,
                  "RLIMIT_FSIZE": FILE_CAP,
                  "RLIMIT_CORE": 0,
                  "RLIMIT_NOFILE": 256}
        if self.mode != "none":  # counted per user: the call's own user
            limits["RLIMIT_NPROC"] = PROCESSES
        return limits

    def _env(self, scratch) -> dict:
        home = str(scratch) if self.mode == "none" else Jail.WORK
        tmp = str(scratch) if self.mode == "none" else "/tmp"
        return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": tmp,
                "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
                "DEEPLINEAR_WORKER_STARTED": STARTED}

    def _command(self, scratch, uid, group):
        limits = self._limits()
        if self.mode == "none":
            rt = runtime_files()
            paths = [*rt.stdlib, os.path.dirname(rt.numpy[0])]

            def confine():
                for name, value in limits.items():
                    resource.setrlimit(getattr(resource, name), (value, value))

            return [rt.python, "-I", "-S", "-B", "-c", _boot(paths)], confine, scratch
        boot = _boot(self.jail.paths)
        if self.mode == "namespaces":
            cfg = {"jail": self.jail.root, "uid": uid, "limits": limits, "tmp_mb": TMP_MB,
                   "devices": sorted(DEVICES), "python": self.jail.python, "boot": boot,
                   "env": self._env(scratch)}

            def enter():
                group.join()

            return UNSHARE + [runtime_files().python, "-I", "-S", "-B", "-c", LAUNCH,
                              json.dumps(cfg)], enter, None
        jail = self.jail.root

        def confine_user():  # in the child, between fork and exec
            group.join()
            os.chroot(jail)
            os.chdir(Jail.WORK)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for name, value in limits.items():
                resource.setrlimit(getattr(resource, name), (value, value))

        return [self.jail.python, "-I", "-S", "-B", "-c", boot], confine_user, None

    def _start(self, scratch, uid, pass_fds=()) -> Response:
        group = CallGroup(self.memory_mb) if self.mode != "none" else None
        cmd, confine, cwd = self._command(scratch, uid, group)
        start = time.perf_counter()
        failure = None
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, cwd=cwd, env=self._env(scratch),
                                    preexec_fn=confine, start_new_session=True,
                                    pass_fds=pass_fds)
        except subprocess.SubprocessError as exc:  # the confinement failed in the child
            if group is not None:
                group.close()
            raise IsolationError(f"{self.mode}: the worker could not be confined ({exc})") \
                from None
        output = _Capped(proc.stdout)
        try:
            try:
                proc.stdin.write(self.source.encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            failure = f"cut short: the call ran longer than {self.timeout:g} s"
        finally:
            # Kill everything the call started, then reap: the worker, and the
            # orphans re-parented to us; only then can the call's cgroup go.
            kill_group(proc)
            if group is not None:
                group.kill()
            if uid is not None:
                kill_user(uid)
            proc.wait()
            sweep_orphans()
            if group is not None:
                group.close()
            output.join()
        seconds = time.perf_counter() - start
        if failure is None and proc.returncode == 97 and self.mode == "namespaces":
            raise IsolationError("namespaces: the worker's root could not be mounted: "
                                 + output.text()[-300:])
        token = STARTED.encode()
        started = token in output.kept
        text = output.kept.replace(token, b"", 1)[:OUTPUT_CAP].decode("utf-8", errors="replace")
        response = read_answer(scratch) if failure is None else None
        if response is None and failure is None and not started:
            failure = (f"the worker {_ended(proc.returncode)} before the student's code started "
                       "(the sandbox failed to start it)")
        if response is None:
            if failure is None:
                failure = (f"the worker {_ended(proc.returncode)} without answering (os._exit, "
                           "a crash, or a resource limit: memory, CPU time, processes or file "
                           "size)")
            response = Response(ok=False, failure=failure)
        response.seconds = seconds
        # A timeout is the student's, started or not (the judge waited long enough).
        response.started = (started or failure.startswith("cut short")) if failure else True
        response.output = text
        response.output_bytes = output.total - (len(token) if started else 0)
        return response


def _ended(code) -> str:
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


class _Capped(threading.Thread):
    """Reads a pipe to its end, keeping only the first OUTPUT_CAP bytes (and STARTED)."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe, self.kept, self.total = pipe, b"", 0
        self.cap = OUTPUT_CAP + len(STARTED.encode())
        self.start()

    def run(self):
        while True:
            chunk = self.pipe.read1(65536)
            if not chunk:
                break
            self.total += len(chunk)
            if len(self.kept) < self.cap:
                self.kept += chunk[:self.cap - len(self.kept)]

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


# --- which mode ---------------------------------------------------------------------------

def probe(mode, memory_mb=1024) -> str:
    """Why ``mode`` cannot be used here, or "" if a real worker answered in it."""
    if mode == "none":
        return ""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return f"{mode} needs the grader to run as root (it runs as uid {os.geteuid()})"
    if mode == "namespaces" and not shutil.which("unshare"):
        return "namespaces needs the unshare command (util-linux)"
    empty = tempfile.mkdtemp(prefix="deeplinear-probe-")
    os.mkdir(os.path.join(empty, "deeplinear"))
    os.chmod(empty, 0o755)
    runner = None
    try:
        runner = Runner(empty, timeout=30, memory_mb=memory_mb, mode=mode)
        response = runner.run({"recipe": "ping"}, {})
        if response.ok:
            return ""
        return f"{mode}: a test worker failed ({response.failure or response.error}): " + \
            " ".join(response.output.split())[-300:]
    except (OSError, IsolationError) as exc:
        return f"{mode}: {exc}"
    finally:
        if runner is not None:
            runner.close()
        shutil.rmtree(empty, ignore_errors=True)
