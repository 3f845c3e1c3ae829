"""Limits on the whole call, and cleaning up after it.

A call of student code runs as a user id of its own, fresh for every call
(:func:`fresh_uid`), in a cgroup of its own where the host has one
(:class:`CallGroup`: ``memory.max`` and ``pids.max`` in v2, the memory and
pids controllers in v1); elsewhere ``RLIMIT_NPROC`` of that user bounds its
processes. When the call ends, everything it started is killed: its process
group, its cgroup, every process of its user, and the orphans re-parented to
the judge (a child subreaper on Linux).
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import sys
import time
from pathlib import Path

__all__ = ["PROCESSES", "CallGroup", "limits_in_force", "fresh_uid", "kill_user",
           "kill_group", "become_subreaper", "sweep_orphans"]

PROCESSES = 64              # processes of one call (cgroup pids.max, or RLIMIT_NPROC)
UID_RANGE = (61000, 65000)  # a fresh user id per call, from here (inside a 16-bit map)


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


def fresh_uid():
    """A user id that no account has, at random in UID_RANGE."""
    import pwd

    while True:
        uid = random.randrange(*UID_RANGE)
        if uid == 65534:
            continue
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid


def kill_user(uid):
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


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_SUBREAPER = False


def become_subreaper():
    """Orphans of a worker become our children (Linux), so that the sweep can find them."""
    global _SUBREAPER
    if _SUBREAPER or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _SUBREAPER = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except OSError:
        pass


def sweep_orphans():
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
