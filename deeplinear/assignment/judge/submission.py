"""The student's submission: checked, then copied where the confined workers can read it.

:func:`check_student_dir` accepts a folder holding ``deeplinear/__init__.py``
and no symlink on the way; :func:`stage` copies the package's regular files
(and nothing of ``deeplinear/assignment``) into a private staging folder,
refusing a symlink anywhere and more files, folders, bytes or depth than a
package needs (:data:`MAX_FILES`, :data:`MAX_FOLDERS`, :data:`MAX_BYTES`,
:data:`MAX_DEPTH`). Their errors are ValueErrors whose message starts with
``STUDENT_DIR:``: they are about the submission itself (the autograder tells
the student so).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["MAX_FILES", "MAX_FOLDERS", "MAX_DEPTH", "MAX_BYTES", "check_student_dir", "stage"]

MAX_FILES = 2000          # a student package with more files than this is refused
MAX_FOLDERS = 200         # ... or more folders
MAX_DEPTH = 8             # ... or folders nested deeper
MAX_BYTES = 50 << 20      # ... or more bytes


def check_student_dir(student_dir) -> Path:
    """``student_dir``, resolved, if it holds a ``deeplinear/`` package and no symlink on the way.

    Parameters
    ----------
    student_dir : str or Path
        The submitted folder.

    Returns
    -------
    Path
        The folder, resolved.

    Raises
    ------
    ValueError
        ``STUDENT_DIR: ...``: a symlink, a missing folder, no ``deeplinear/__init__.py``.
    """
    path = Path(student_dir)
    if path.is_symlink():
        raise ValueError(f"STUDENT_DIR: {path} is a symlink; a submission holds no symlinks")
    if not path.exists():
        raise ValueError(f"STUDENT_DIR: {path} does not exist")
    package = path / "deeplinear"
    if package.is_symlink():
        raise ValueError(f"STUDENT_DIR: {package} is a symlink; a submission holds no symlinks")
    if not (package / "__init__.py").is_file():
        raise ValueError(f"STUDENT_DIR: {path} is not a deeplinear package "
                         "(expected deeplinear/__init__.py inside it)")
    return path.resolve()


def stage(package: Path, target: Path):
    """Copy the student's package (regular files only) where workers can read it, not write.

    Refused, before anything is copied: a symlink anywhere, and more files,
    folders, bytes or depth than the caps. The instructor's tools
    (``deeplinear/assignment``) of a submission are left out: no test uses them.

    Parameters
    ----------
    package : Path
        The student's ``deeplinear/`` folder.
    target : Path
        Where the copy goes (created); its files end 0644 and its folders 0755.

    Raises
    ------
    ValueError
        ``STUDENT_DIR: ...``: what in the package was refused.
    """
    files, folders, size = [], 0, 0
    for base, dirs, names in os.walk(package):
        rel = Path(base).relative_to(package)
        if len(rel.parts) > MAX_DEPTH:
            raise ValueError(f"STUDENT_DIR: folders nested deeper than {MAX_DEPTH} levels "
                             f"({rel})")
        for name in dirs + names:
            if (Path(base) / name).is_symlink():
                raise ValueError(f"STUDENT_DIR: deeplinear/{rel / name} is a symlink; a "
                                 "submission holds no symlinks")
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (rel == Path() and
                                                                   d == "assignment")]
        folders += len(dirs)
        for name in names:
            path = Path(base) / name
            if not path.is_file():
                raise ValueError(f"STUDENT_DIR: deeplinear/{rel / name} is not a regular file")
            files.append(path)
            size += path.stat().st_size
        if len(files) > MAX_FILES or folders > MAX_FOLDERS or size > MAX_BYTES:
            raise ValueError(f"STUDENT_DIR: the package holds more than {MAX_FILES} files, "
                             f"{MAX_FOLDERS} folders or {MAX_BYTES >> 20} MB")
    for src in files:
        dst = target / src.relative_to(package)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o644)
    target.mkdir(parents=True, exist_ok=True)
    for path in [target, *[p for p in target.rglob("*") if p.is_dir()]]:
        os.chmod(path, 0o755)
