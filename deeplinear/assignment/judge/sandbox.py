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

import ctypes
import json
import os
import random
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .wire import Response, read_answer

__all__ = ["MODES", "Runner", "Jail", "IsolationError", "probe", "limits_in_force",
           "OUTPUT_CAP", "OracleRaise"]

MODES = ("namespaces", "user", "none")
WORKER = Path(__file__).with_name("worker.py")
OUTPUT_CAP = 4096           # bytes of a worker's stdout + stderr that are kept
FILE_CAP = 64 << 20         # RLIMIT_FSIZE: no file the worker writes exceeds 64 MB
TMP_MB = 64                 # size of /tmp and of /dev/shm in namespaces mode
PROCESSES = 64              # processes of one call (cgroup pids.max, or RLIMIT_NPROC)
UID_RANGE = (61000, 65000)  # a fresh user id per call, from here (inside a 16-bit map)
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
           "urandom": (1, 9)}
UNSHARE = ["unshare", "--mount", "--pid", "--net", "--ipc", "--fork", "--kill-child"]


class IsolationError(RuntimeError):
    """The isolation mode asked for cannot be given on this machine."""


# --- the allowlist -----------------------------------------------------------------------

@dataclass(frozen=True)
class RuntimeFiles:
    """What the worker's interpreter needs, as paths on the host."""

    python: str           # the interpreter binary (real path)
    stdlib: tuple         # folders of the standard library (real paths)
    covered: tuple        # package folders inside them that stay empty
    libraries: tuple      # shared libraries of the interpreter and of NumPy (ldd)
    numpy: tuple          # numpy/ and, if present, numpy.libs/


def _ldd(files):
    if not shutil.which("ldd"):
        return []
    out = subprocess.run(["ldd", *files], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        line = line.strip()
        if "=>" in line:
            path = line.split("=>", 1)[1].split("(", 1)[0].strip()
        elif line.startswith("/"):
            path = line.split("(", 1)[0].strip()
        else:
            continue
        if path.startswith("/"):
            found.append(os.path.normpath(path))
    return found


@lru_cache(maxsize=1)
def runtime_files() -> RuntimeFiles:
    """The interpreter running the judge, its standard library and NumPy, found once."""
    python = os.path.realpath(sys.executable)
    # The base interpreter's folders, also when the judge runs in a venv.
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix,
            "installed_base": sys.base_prefix, "installed_platbase": sys.base_exec_prefix}
    paths = sysconfig.get_paths(vars=base)
    stdlib = []
    for key in ("stdlib", "platstdlib"):
        p = os.path.realpath(paths[key])
        if p not in stdlib:
            stdlib.append(p)
    # The extension modules of the standard library: their own entry of sys.path
    # (inside the stdlib folder for most builds, beside it for some).
    dynload = os.path.realpath(os.path.join(stdlib[-1], "lib-dynload"))
    if os.path.isdir(dynload) and dynload not in stdlib:
        stdlib.append(dynload)
    covered = tuple(os.path.join(s, name) for s in stdlib
                    for name in ("site-packages", "dist-packages") if os.path.isdir(
                        os.path.join(s, name)))
    np_dir = os.path.realpath(os.path.dirname(np.__file__))
    np_libs = os.path.join(os.path.dirname(np_dir), "numpy.libs")
    numpy_dirs = (np_dir,) + ((np_libs,) if os.path.isdir(np_libs) else ())
    objects = [python]
    for folder in [np_dir, *[s for s in stdlib]]:
        for base, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if os.path.join(base, d) not in covered]
            objects += [os.path.join(base, f) for f in files if ".so" in f]
    libraries = sorted({p for p in _ldd(objects)
                        if not any(p.startswith(d + os.sep) for d in (*numpy_dirs, *stdlib))
                        and os.path.isfile(p)})
    return RuntimeFiles(python, tuple(stdlib), covered, tuple(libraries), numpy_dirs)


def _link_or_copy(src, dst):
    src = os.path.realpath(src)  # a hard link to a symlink would keep the host's target
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _copy_tree(src, dst, skip=()):
    """``src`` into ``dst`` by hard links where possible; no symlink is followed or kept."""
    for base, dirs, files in os.walk(src):
        rel = os.path.relpath(base, src)
        target = os.path.normpath(os.path.join(dst, rel))
        dirs[:] = [d for d in dirs if os.path.join(base, d) not in skip
                   and not os.path.islink(os.path.join(base, d))]
        os.makedirs(target, mode=0o755, exist_ok=True)
        for name in files:
            path = os.path.join(base, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            _link_or_copy(path, os.path.join(target, name))


def _inside(root, path):
    return os.path.join(root, path.lstrip("/"))


class Jail:
    """The folder tree a confined worker sees as ``/``: the allowlist, built on disk.

    Parameters
    ----------
    root : path
        A new folder (created here, mode 0755, owned by the judge).
    stage : path
        The folder holding the student's staged ``deeplinear/``.
    """

    STUDENT, SITE, WORK = "/student", "/site", "/work"

    def __init__(self, root, stage):
        rt = runtime_files()
        self.root = str(root)
        os.makedirs(self.root, mode=0o755)
        os.chmod(self.root, 0o755)
        for folder in rt.stdlib:
            if not any(folder.startswith(other + os.sep) for other in rt.stdlib):
                _copy_tree(folder, _inside(self.root, folder), skip=set(rt.covered))
        for folder in rt.covered:
            os.makedirs(_inside(self.root, folder), mode=0o755, exist_ok=True)
        for path in [rt.python, *rt.libraries]:
            os.makedirs(os.path.dirname(_inside(self.root, path)), mode=0o755, exist_ok=True)
            _link_or_copy(path, _inside(self.root, path))
        for folder in rt.numpy:
            _copy_tree(folder, _inside(self.root, self.SITE + "/" + os.path.basename(folder)))
        _copy_tree(str(stage), _inside(self.root, self.STUDENT))
        for sub in ("tmp", "dev/shm", "proc", "work", "etc"):
            os.makedirs(_inside(self.root, sub), mode=0o755, exist_ok=True)
        for name, (major, minor) in DEVICES.items():
            node = _inside(self.root, "/dev/" + name)
            try:
                os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
                os.chmod(node, 0o666)
            except OSError:
                open(node, "w").close()  # a mount point for namespaces mode
        for base, dirs, files in os.walk(self.root):
            for d in dirs:
                os.chmod(os.path.join(base, d), 0o755)
        self.python = rt.python
        self.paths = [*rt.stdlib, self.SITE]
        self.reset(None)

    def host(self, path):
        """The host path of a path inside the jail."""
        return _inside(self.root, path)

    def reset(self, uid):
        """Empty /work, /tmp and /dev/shm; /work then belongs to ``uid`` (mode 0700)."""
        for sub, mode in (("work", 0o700), ("tmp", 0o1777), ("dev/shm", 0o1777)):
            path = self.host("/" + sub)
            shutil.rmtree(path, ignore_errors=True)
            if os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)
            os.mkdir(path)
            os.chmod(path, mode if uid is not None else 0o755)
            if uid is not None and sub == "work":
                os.chown(path, uid, uid)

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


# Runs in the new namespaces, still as root: the jail becomes a read-only root
# with a writable /work, fresh tmpfs /tmp and /dev/shm, the host's harmless
# devices and a /proc of the new PID namespace; then the worker's user and
# limits are set and the process becomes the worker (exec wipes this program).
LAUNCH = r"""
import ctypes, json, os, resource, sys
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC, PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
def mount(src, dst, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
        sys.stderr.write("sandbox: mount of %s failed, errno %d\n" % (dst, ctypes.get_errno()))
        os._exit(97)
jail = cfg["jail"]
mount(None, "/", None, REC | PRIVATE)
mount(jail, jail, None, BIND | REC)
mount(None, jail, None, REMOUNT | BIND | RDONLY | NOSUID)
work = jail + "/work"
mount(work, work, None, BIND)
mount(None, work, None, REMOUNT | BIND | NOSUID | NODEV)
for sub in ("tmp", "dev/shm"):
    mount("tmpfs", jail + "/" + sub, "tmpfs", NOSUID | NODEV,
          "size=%dm,mode=1777" % cfg["tmp_mb"])
for name in cfg["devices"]:
    mount("/dev/" + name, jail + "/dev/" + name, None, BIND)
mount("proc", jail + "/proc", "proc", NOSUID | NODEV | NOEXEC)
os.chroot(jail)
os.chdir("/work")
os.setgroups([])
os.setgid(cfg["uid"])
os.setuid(cfg["uid"])
for name, value in cfg["limits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.execve(cfg["python"], [cfg["python"], "-I", "-S", "-B", "-c", cfg["boot"]], cfg["env"])
"""


def _boot(paths):
    return (f"import sys; sys.path[:] = {paths!r}; "
            "exec(compile(sys.stdin.read(), '<worker>', 'exec'))")


# --- limits on the whole call ----------------------------------------------------------------

class CallGroup:
    """A cgroup (v2, else v1 memory + pids) for one call, or nothing where there is none."""

    def __init__(self, memory_mb, processes=PROCESSES):
        self.dirs, self.kind = [], None
        name = f"deeplinear-call-{os.getpid()}-{random.getrandbits(32):08x}"
        v2 = Path("/sys/fs/cgroup")
        try:
            if (v2 / "cgroup.controllers").is_file():
                wanted = {"memory", "pids"}
                if wanted <= set((v2 / "cgroup.controllers").read_text().split()):
                    (v2 / "cgroup.subtree_control").write_text("+memory +pids")
                    d = v2 / name
                    d.mkdir()
                    self.dirs = [d]
                    (d / "memory.max").write_text(str(memory_mb << 20))
                    if (d / "memory.swap.max").exists():
                        (d / "memory.swap.max").write_text("0")
                    (d / "pids.max").write_text(str(processes))
                    self.kind = "cgroup v2"
            elif (v2 / "memory" / "memory.limit_in_bytes").is_file() and \
                    (v2 / "pids" / "cgroup.procs").is_file():
                mem, pids = v2 / "memory" / name, v2 / "pids" / name
                mem.mkdir()
                self.dirs.append(mem)
                pids.mkdir()
                self.dirs.append(pids)
                (mem / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
                if (mem / "memory.memsw.limit_in_bytes").exists():
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_mb << 20))
                (pids / "pids.max").write_text(str(processes))
                self.kind = "cgroup v1"
        except OSError:
            self.close()
            self.dirs, self.kind = [], None

    def join(self):
        """In the child, before exec: move this process into the call's groups."""
        for d in self.dirs:
            with open(os.path.join(d, "cgroup.procs"), "w") as fh:
                fh.write(str(os.getpid()))

    def kill(self):
        """SIGKILL every live process of the call's groups (zombies are dead already)."""
        for _ in range(50):
            pids = set()
            for d in self.dirs:
                try:
                    pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            pids = {p for p in pids if _alive(p)}
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def close(self):
        self.kill()
        for d in self.dirs:
            for _ in range(200):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # a process not yet reaped
                    time.sleep(0.005)


def _alive(pid):
    """True unless ``pid`` is gone or a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def limits_in_force(mode, memory_mb) -> str:
    """One line for the grade table: what bounds a call's memory and processes."""
    if mode == "none":
        return (f"per process: {memory_mb} MB of address space; processes: not limited "
                "(they run as you)")
    group = CallGroup(memory_mb)
    kind = group.kind
    group.close()
    if kind:
        return f"per call ({kind}): {memory_mb} MB of memory, {PROCESSES} processes"
    return (f"per process: {memory_mb} MB of address space; per call: {PROCESSES} processes "
            f"(RLIMIT_NPROC of the call's own user), so at most {PROCESSES * memory_mb} MB")


# --- one call ------------------------------------------------------------------------------

class OracleRaise(Exception):
    """Raised by an oracle: the worker's function raises (LookupError) on this query."""


MAX_QUERIES = 100_000
MAX_QUERY_FLOATS = 1 << 20


class _Oracle(threading.Thread):
    """Answers the worker's queries with ``fn(array)``; records every query."""

    def __init__(self, fn, rfd, wfd):
        super().__init__(daemon=True)
        self.fn, self.rfd, self.wfd = fn, rfd, wfd
        self.queries, self.values, self.error = [], [], None
        self.start()

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = os.read(self.rfd, n - len(out))
            if not chunk:
                return None
            out += chunk
        return out

    def run(self):
        try:
            while len(self.queries) < MAX_QUERIES:
                head = self._read(8)
                if head is None:
                    return
                (n,) = struct.unpack("<q", head)
                if not 0 <= n <= MAX_QUERY_FLOATS:
                    self.error = f"a query of {n} numbers"
                    return
                body = self._read(8 * n)
                if body is None:
                    return
                x = np.frombuffer(body, dtype="<f8").astype(np.float64)
                self.queries.append(x)
                try:
                    value = float(self.fn(x))
                    self.values.append(value)
                    reply = b"v" + struct.pack("<d", value)
                except OracleRaise:
                    self.values.append(None)
                    reply = b"r" + bytes(8)
                os.write(self.wfd, reply)
            self.error = f"more than {MAX_QUERIES} queries"
        except OSError:
            return
        finally:
            for fd in (self.rfd, self.wfd):
                try:
                    os.close(fd)
                except OSError:
                    pass


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
        _become_subreaper()

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def run(self, request: dict, arrays: dict, oracle=None) -> Response:
        """Send ``request`` (JSON, with ``{"__array__": name}`` for each of ``arrays``).

        With ``oracle`` (a function of a float64 vector, which may raise
        :class:`OracleRaise`), the request carries ``"oracle": [read_fd,
        write_fd]`` for the worker; the response has ``queries`` and ``values``:
        what the worker asked and what it was told, as the judge saw them.
        """
        uid = None
        if self.mode == "none":
            scratch = Path(tempfile.mkdtemp(prefix="c-", dir=self.base))
            package = self.package_dir
        else:
            uid = _fresh_uid()
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
                served = _Oracle(oracle, from_worker, from_judge)
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
                "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}

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
            _kill_group(proc)
            if group is not None:
                group.kill()
            if uid is not None:
                _kill_user(uid)
            proc.wait()
            _sweep_orphans()
            if group is not None:
                group.close()
            output.join()
        seconds = time.perf_counter() - start
        if failure is None and proc.returncode == 97 and self.mode == "namespaces":
            raise IsolationError("namespaces: the worker's root could not be mounted: "
                                 + output.text()[-300:])
        response = read_answer(scratch) if failure is None else None
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


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


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


# --- which mode, and cleanup ----------------------------------------------------------------

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


def _fresh_uid():
    import pwd

    while True:
        uid = random.randrange(*UID_RANGE)
        if uid == 65534:
            continue
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid


def _kill_user(uid):
    """SIGKILL every live process whose real or effective user is ``uid`` (the call's own)."""
    for _ in range(20):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if str(uid) in fields.get("Uid", "").split()[:2] and \
                    not fields.get("State", "").strip().startswith("Z"):
                found = True
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.005)


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
