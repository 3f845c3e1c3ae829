"""Run one call of student code in a confined worker process, and read its answer as data.

The judge (pytest with the grading tests) never imports student code. Each
call goes to a fresh worker: ``tests/gradeworker.py``, sent as text on stdin to
``python -I -B``, in an empty scratch folder, with a scrubbed environment.
The request and the answer are JSON and ``.npy`` files in that folder; the
judge loads arrays with ``allow_pickle=False`` and unpickles nothing.

How far the worker is confined depends on what the machine allows (see
:func:`isolation`):

``namespaces`` (root, and ``unshare`` works)
    New mount, PID, network and IPC namespaces. The instructor's tree and the
    judge's private folder are covered by empty read-only mounts, so they
    cannot be read or written; ``/proc`` shows only the worker's processes;
    there is no network. The worker then drops to the unprivileged user
    ``nobody``, which can write only its scratch folder and the world-writable
    temporary folders. When the worker's first process ends, the kernel kills
    every process left in its PID namespace.
``user`` (root without namespaces)
    The worker runs as ``nobody`` in its own session; it cannot write the
    instructor's files, but it can read world-readable ones.
``none`` (not root)
    The worker runs as you, in its own session. It can read and write what
    you can: it is not a sandbox against a determined student.

In every mode: resource limits on CPU seconds, address space (memory),
processes and file size; at most ``OUTPUT_CAP`` bytes of the worker's
output are kept; a timeout that the judge enforces by killing the worker's
whole process group; and, after every call, a sweep that kills any process
that escaped that group (the judge is a child subreaper on Linux, so
orphans are re-parented to it).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Runner", "Response", "isolation", "OUTPUT_CAP"]

WORKER = Path(__file__).with_name("gradeworker.py")
BOOT = "import sys; exec(compile(sys.stdin.read(), '<gradeworker>', 'exec'))"
OUTPUT_CAP = 4096           # bytes of a worker's stdout + stderr that are kept
ANSWER_CAP = 1 << 20        # response.json larger than 1 MB is refused
FILE_CAP = 64 << 20         # RLIMIT_FSIZE: no file the worker writes exceeds 64 MB
NOBODY = 65534
UNSHARE = ["unshare", "--mount", "--pid", "--net", "--ipc", "--fork", "--kill-child",
           "--mount-proc"]

# Runs in the new namespaces, still as root. The Python runtime (the
# interpreter's prefix and the folders of the judge's import path) is
# bind-mounted read-only under ``runtime``, so that it stays reachable for the
# unprivileged user when its real location is not (a venv in a private
# folder, or an interpreter under /root). Then the hidden folders are covered
# by empty read-only mounts, the worker's user and limits are set, and the
# process becomes the worker (exec wipes this program and its argv).
LAUNCH = r"""
import ctypes, json, os, resource, sys
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC = 1, 2, 4, 8, 32, 4096, 16384
def mount(src, dst, fstype, flags, data):
    enc = lambda s: None if s is None else s.encode()
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
        sys.stderr.write("gradesandbox: mount failed, errno %d\n" % ctypes.get_errno())
        os._exit(97)
rt = cfg["runtime"]
mount("tmpfs", rt, "tmpfs", NOSUID | NODEV, "size=64k,mode=755")
for i, path in enumerate(cfg["expose"]):
    target = os.path.join(rt, str(i))
    os.mkdir(target, 0o755)
    mount(path, target, None, BIND | REC, None)
    mount(None, target, None, REMOUNT | BIND | RDONLY | NOSUID | NODEV, None)
mount(None, rt, None, REMOUNT | RDONLY | NOSUID | NODEV, None)
for path in cfg["hide"]:
    if os.path.isdir(path):
        mount("tmpfs", path, "tmpfs", RDONLY | NOSUID | NODEV | NOEXEC, "size=4k,mode=555")
os.setgroups([])
os.setgid(cfg["gid"])
os.setuid(cfg["uid"])
for name, value in cfg["limits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.chdir(cfg["cwd"])
os.execve(cfg["python"], [cfg["python"], "-I", "-S", "-B", "-c", cfg["boot"]], cfg["env"])
"""


def _runtime(hidden):
    """The interpreter and the import path a worker needs, minus anything hidden.

    Returns ``(python, paths)``: the real path of the interpreter and the
    folders of the judge's ``sys.path`` (the standard library, site-packages),
    without the current folder, the tests and anything under a hidden folder.
    """
    hidden = [Path(h).resolve() for h in hidden]

    def visible(p):
        # A site-packages folder may lie in a hidden one (a venv inside the
        # instructor's tree): it is bound in before the covers, so it stays.
        if {"site-packages", "dist-packages"} & set(p.parts):
            return not any(h == p or p in h.parents or h.name in ("site-packages",
                                                                  "dist-packages")
                           for h in hidden)
        return not any(p == h or h in p.parents for h in hidden)

    tests = Path(__file__).resolve().parent
    paths = []
    for entry in sys.path:
        if not entry:
            continue
        p = Path(entry).resolve()
        if p.exists() and p != tests and visible(p) and str(p) not in paths:
            paths.append(str(p))
    return str(Path(sys.executable).resolve()), paths


def _boot(paths):
    return (f"import sys; sys.path[:] = {paths!r}; "
            "exec(compile(sys.stdin.read(), '<gradeworker>', 'exec'))")


@dataclass
class Response:
    """What came back from one call."""

    ok: bool                      # the student's code returned (False: it raised)
    answer: object = None         # the decoded answer (arrays are plain float ndarrays)
    error: dict | None = None     # type, message, where, traceback (text from the worker)
    failure: str | None = None    # why there is no answer at all (timeout, crash, limits)
    seconds: float = 0.0
    output: str = ""              # the first OUTPUT_CAP bytes the worker printed
    output_bytes: int = 0         # how much it printed in all


@dataclass
class Runner:
    """Starts workers for the student package in ``package_dir`` (which holds ``deeplinear/``).

    Parameters
    ----------
    package_dir : path
        Folder holding the student's ``deeplinear/`` package.
    timeout : float
        Seconds of wall time per call.
    memory_mb : int
        Address-space limit of the worker.
    hide : list of path
        Folders the worker must not see (namespaces mode only).
    mode : str, optional
        ``"namespaces"``, ``"user"`` or ``"none"``; default :func:`isolation`.
    """

    package_dir: str
    timeout: float = 10.0
    memory_mb: int = 1024
    hide: list = field(default_factory=list)
    mode: str | None = None
    scratch_root: str | None = None

    def __post_init__(self):
        self.package_dir = str(Path(self.package_dir).resolve())
        self.mode = self.mode or isolation()
        self.source = WORKER.read_text()
        self._own_root = self.scratch_root is None
        if self._own_root:
            self.scratch_root = tempfile.mkdtemp(prefix="dl-calls-")
            os.chmod(self.scratch_root, 0o711)  # others may enter their own folder, not list
            os.mkdir(os.path.join(self.scratch_root, "runtime"), 0o755)  # a mount point
        _become_subreaper()

    def close(self):
        if self._own_root:
            shutil.rmtree(self.scratch_root, ignore_errors=True)

    # -- one call -------------------------------------------------------------

    def run(self, request: dict, arrays: dict) -> Response:
        """Send ``request`` (JSON, with ``{"__array__": name}`` for each of ``arrays``)."""
        scratch = Path(tempfile.mkdtemp(prefix="c-", dir=self.scratch_root))
        try:
            for name, value in arrays.items():
                np.save(scratch / name, np.ascontiguousarray(value), allow_pickle=False)
            (scratch / "request.json").write_text(
                json.dumps(dict(request, package=self.package_dir)))
            if self.mode != "none":
                for path in [scratch, *scratch.iterdir()]:
                    os.chown(path, NOBODY, NOBODY)
            return self._start(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _limits(self) -> dict:
        limits = {"RLIMIT_AS": int(self.memory_mb) << 20,
                  "RLIMIT_CPU": int(self.timeout) + 2,
                  "RLIMIT_FSIZE": FILE_CAP,
                  "RLIMIT_CORE": 0,
                  "RLIMIT_NOFILE": 256}
        if self.mode != "none":  # counted per user: only meaningful for a user of our own
            limits["RLIMIT_NPROC"] = 256
        return limits

    def _env(self, scratch) -> dict:
        return {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
                "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}

    def _command(self, scratch):
        python, paths = _runtime(self.hide)
        if self.mode == "namespaces":
            # Each exposed folder is mounted at runtime/<i>; map the paths onto them.
            prefix = str(Path(sys.base_prefix).resolve())
            expose = [prefix] + [p for p in paths if not p.startswith(prefix + os.sep)]
            runtime = os.path.join(self.scratch_root, "runtime")

            def mapped(p):
                for i, root in enumerate(expose):
                    if p == root or p.startswith(root + os.sep):
                        return os.path.join(runtime, str(i)) + p[len(root):]
                raise AssertionError(p)

            cfg = {"runtime": runtime, "expose": expose, "python": mapped(python),
                   "hide": [str(p) for p in self.hide] + ["/root"], "uid": NOBODY,
                   "gid": NOBODY, "limits": self._limits(), "cwd": str(scratch),
                   "boot": _boot([mapped(p) for p in paths]), "env": self._env(scratch)}
            return UNSHARE + [sys.executable, "-I", "-S", "-B", "-c", LAUNCH,
                              json.dumps(cfg)], None
        limits, drop = self._limits(), self.mode == "user"

        def confine():  # in the child, between fork and exec
            if drop:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            for name, value in limits.items():
                resource.setrlimit(getattr(resource, name), (value, value))

        return [python, "-I", "-S", "-B", "-c", _boot(paths)], confine

    def _start(self, scratch) -> Response:
        cmd, confine = self._command(scratch)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=scratch, env=self._env(scratch),
                                preexec_fn=confine, start_new_session=True)
        output = _Capped(proc.stdout)
        failure = None
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
            _kill_group(proc)
            proc.wait()
            _sweep_orphans()
            output.join()
        seconds = time.perf_counter() - start
        if failure is None and proc.returncode == 97 and self.mode == "namespaces":
            raise RuntimeError("gradesandbox: the worker's namespace could not hide the "
                               "instructor's folders")
        response = _read_answer(scratch) if failure is None else None
        if response is None:
            if failure is None:
                code = proc.returncode
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                failure = (f"the worker {how} without answering (os._exit, a crash, "
                           "or a resource limit: memory, CPU time, processes or file size)")
            response = Response(ok=False, failure=failure)
        response.seconds = seconds
        response.output, response.output_bytes = output.text(), output.total
        return response


class _Capped(threading.Thread):
    """Reads a pipe to its end, keeping only the first OUTPUT_CAP bytes."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe, self.kept, self.total = pipe, b"", 0
        self.start()

    def run(self):
        while True:
            chunk = self.pipe.read1(65536)
            if not chunk:
                break
            self.total += len(chunk)
            if len(self.kept) < OUTPUT_CAP:
                self.kept += chunk[:OUTPUT_CAP - len(self.kept)]

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


def _read_answer(scratch) -> Response | None:
    path = scratch / "response.json"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > ANSWER_CAP:
            return None
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("ok"), bool):
        return None
    if doc["ok"]:
        try:
            return Response(ok=True, answer=_decode(doc.get("answer"), scratch))
        except BadAnswer as exc:
            return Response(ok=True, answer=Unsupported(str(exc)))
    error = doc.get("error") if isinstance(doc.get("error"), dict) else {}
    clean = {k: str(error.get(k, ""))[:4000] for k in ("type", "message", "traceback")}
    where = error.get("where")
    if isinstance(where, dict):
        clean["where"] = {"file": str(where.get("file", ""))[:200],
                          "line": int(where["line"]) if isinstance(where.get("line"), int) else 0,
                          "function": str(where.get("function", ""))[:100]}
    return Response(ok=False, error=clean)


class BadAnswer(ValueError):
    pass


@dataclass(frozen=True)
class Unsupported:
    """A returned value that did not arrive as plain data; ``what`` says what it was."""

    what: str


ARRAYS_CAP = 256           # arrays in one answer
ARRAY_BYTES_CAP = 64 << 20  # bytes of all the arrays of one answer


def _decode(obj, scratch, depth=0, budget=None):
    """The worker's JSON answer, with arrays loaded as plain ndarrays (never pickles).

    The answer is untrusted: at most ARRAYS_CAP arrays of ARRAY_BYTES_CAP bytes
    in all are loaded, each through a read-only memory map first, so that a
    header that claims more data than the file holds fails without allocating.
    """
    budget = budget if budget is not None else {"arrays": ARRAYS_CAP, "bytes": ARRAY_BYTES_CAP}
    if depth > 10:
        raise BadAnswer("an answer nested too deep")
    if isinstance(obj, list):
        return [_decode(v, scratch, depth + 1, budget) for v in obj]
    if not isinstance(obj, dict):
        if obj is None or type(obj) in (bool, int, str):
            return obj
        raise BadAnswer(f"an answer of JSON type {type(obj).__name__}")
    if "__array__" in obj:
        name = str(obj["__array__"])
        path = scratch / name
        if "/" in name or not name.startswith("out_") or path.is_symlink() or not path.is_file():
            raise BadAnswer("an array file that is not the worker's own")
        budget["arrays"] -= 1
        budget["bytes"] -= path.stat().st_size
        if budget["arrays"] < 0 or budget["bytes"] < 0:
            raise BadAnswer("an answer with too many or too large arrays")
        try:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
            arr = np.array(mapped)
        except (OSError, ValueError) as exc:
            raise BadAnswer(f"an unreadable array file ({type(exc).__name__})") from None
        del mapped
        if type(arr) is not np.ndarray:
            raise BadAnswer("an array file that does not hold a plain array")
        return arr
    if "__float__" in obj:
        return float.fromhex(str(obj["__float__"]))
    if "__numpy_scalar__" in obj:
        return NumpyScalar(float.fromhex(str(obj["__numpy_scalar__"])), str(obj.get("dtype")))
    if "__tuple__" in obj:
        return tuple(_decode(v, scratch, depth + 1, budget) for v in obj["__tuple__"])
    if "__unsupported__" in obj:
        return Unsupported(str(obj["__unsupported__"])[:200])
    return {str(k): _decode(v, scratch, depth + 1, budget) for k, v in obj.items()}


@dataclass(frozen=True)
class NumpyScalar:
    """A NumPy scalar the student returned (for example ``np.float64``), as a float."""

    value: float
    dtype: str


# --- isolation and cleanup ------------------------------------------------------

_ISOLATION = None


def isolation() -> str:
    """The strongest confinement that works here: "namespaces", "user" or "none".

    Each mode is tried with a real worker that imports NumPy; the first that
    answers is used for every call of this process.
    """
    global _ISOLATION
    if _ISOLATION is None:
        modes = ["none"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            modes = (["namespaces"] if shutil.which("unshare") else []) + ["user", "none"]
        empty = tempfile.mkdtemp(prefix="dl-probe-")
        try:
            for mode in modes:
                runner = Runner(empty, timeout=20, mode=mode)
                try:
                    if runner.run({"recipe": "ping"}, {}).ok or mode == "none":
                        _ISOLATION = mode
                        break
                except (OSError, RuntimeError):
                    continue
                finally:
                    runner.close()
        finally:
            shutil.rmtree(empty, ignore_errors=True)
    return _ISOLATION


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_SUBREAPER = False


def _become_subreaper():
    """Orphans of a worker become our children (Linux), so that the sweep can find them."""
    global _SUBREAPER
    if _SUBREAPER or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _SUBREAPER = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except OSError:
        pass


def _sweep_orphans():
    """Kill and reap every child of ours in another session: what escaped a worker.

    A worker runs in a session of its own, and so do its descendants unless
    they start yet another one. Re-parented to us (we are a subreaper), they
    show up as our children in a session that is not ours. Children that
    share our session (a process pool of the caller, say) are left alone.
    """
    if not _SUBREAPER:
        return
    me, my_session = os.getpid(), os.getsid(0)
    for _ in range(5):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ppid, session = int(fields[1]), int(fields[3])
            if ppid == me and session != my_session:
                found = True
                try:
                    os.kill(int(entry), signal.SIGKILL)
                    os.waitpid(int(entry), 0)
                except (ProcessLookupError, ChildProcessError, PermissionError):
                    pass
        if not found:
            break
