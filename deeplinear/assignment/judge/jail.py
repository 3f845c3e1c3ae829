"""The jail: the folder tree a confined worker sees as ``/``, an allowlist built on disk.

It holds only the interpreter running the judge (its binary and the shared
libraries ``ldd`` names), its standard library without ``site-packages``,
NumPy in ``/site``, the student's staged package in ``/student``, and the
call's ``/work``, ``/tmp`` and ``/dev/shm``. Files are hard links where the
filesystem allows (copies elsewhere), owned by the judge and read-only to the
worker. ``LAUNCH`` turns it into the root of a worker in namespaces mode;
in user mode the worker is ``chroot``-ed into it (``sandbox.py``).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Jail", "RuntimeFiles", "runtime_files", "LAUNCH", "DEVICES"]

DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
           "urandom": (1, 9)}


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
