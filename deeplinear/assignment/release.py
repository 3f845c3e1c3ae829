"""Write the student version of the package: every solution region becomes a stub.

A student part is marked in the library source, around ordinary working code:

    # BEGIN SOLUTION <part>: <what to implement, with the formula>
    #   <optional continuation lines of the hint, each starting "#   ">
    ...code...
    # END SOLUTION

The release replaces each region, markers included, by
``raise NotImplementedError("<part>: implement <hint>")`` at the marker's
indentation. The same input always gives the same files.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .parts import PARTS

__all__ = ["ReleaseError", "Region", "find_regions", "stub_source", "release", "source_root"]

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?P<rest>.*)$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HINT_CONTINUATION = re.compile(r"^\s*#   (?P<text>.*)$")
PART_AND_HINT = re.compile(r"^\s+(?P<part>[a-z0-9_]+):\s+(?P<hint>\S.*)$")

#: What the release copies from the source tree (paths relative to it).
PACKAGE = "deeplinear"
EXTRA_FILES = ("setup.cfg", "pyproject.toml")
PUBLIC_TESTS = ("tests/grading",)
#: The test infrastructure the public tests run on: no implementation of a graded rule.
TEST_HELPERS = ("tests/conftest.py", "tests/helpers.py", "tests/gradelib.py",
                "tests/gradeplugin.py", "tests/gradesandbox.py", "tests/gradeworker.py")
TUTORIALS = "tutorials"
#: Left behind: the instructor's tools, and the compiled twins of the graded rules
#: (everything in a release runs on the student's NumPy functions).
SKIP_DIRS = {"__pycache__", "assignment", "_kernels"}
SKIP_SUFFIXES = {".pyc", ".nbi", ".nbc"}
#: The public cases (inputs and expected outputs), written from the judge's reference.
CASES = "tests/grading/cases.npz"
REFERENCE = "tests/hidden/gradereference.py"


class ReleaseError(ValueError):
    """The solution source cannot be released (bad markers, missing files)."""


@dataclass(frozen=True)
class Region:
    file: str
    begin: int  # 1-based line of BEGIN
    end: int    # 1-based line of END
    part: str
    hint: str
    indent: str


def find_regions(text, file="<source>"):
    """The solution regions of one file, checked: balanced, not nested, named."""
    regions, open_at = [], None
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        begin = BEGIN.match(line)
        if begin:
            if open_at is not None:
                raise ReleaseError(f"{file}:{number}: BEGIN SOLUTION inside the region "
                                   f"opened at line {open_at[0]} (regions cannot nest)")
            named = PART_AND_HINT.match(begin.group("rest"))
            if not named:
                raise ReleaseError(f"{file}:{number}: expected '# BEGIN SOLUTION <part>: <hint>'")
            hint = named.group("hint").strip()
            for follow in lines[number:]:
                more = HINT_CONTINUATION.match(follow)
                if not more:
                    break
                hint += " " + more.group("text").strip()
            open_at = (number, named.group("part"), hint, begin.group("indent"))
        elif END.match(line):
            if open_at is None:
                raise ReleaseError(f"{file}:{number}: END SOLUTION without a BEGIN SOLUTION")
            start, part, hint, indent = open_at
            if part not in PARTS:
                raise ReleaseError(f"{file}:{start}: unknown part {part!r}; the parts are "
                                   f"{', '.join(PARTS)} (deeplinear/assignment/parts.py)")
            regions.append(Region(file, start, number, part, hint, indent))
            open_at = None
    if open_at is not None:
        raise ReleaseError(f"{file}:{open_at[0]}: BEGIN SOLUTION is never closed by END SOLUTION")
    return regions


def stub_source(text, file="<source>", keep=()):
    """``text`` with every region replaced by its NotImplementedError stub.

    Regions of the parts named in ``keep`` stay as they are (their markers
    removed): the student version with those parts solved.
    """
    regions = find_regions(text, file)
    lines = text.splitlines(keepends=True)
    for region in reversed(regions):
        if region.part in keep:
            body = lines[region.begin:region.end - 1]
            while body and HINT_CONTINUATION.match(body[0]):
                body.pop(0)
            lines[region.begin - 1:region.end] = body
            continue
        message = f"{region.part}: implement {region.hint}"
        pieces = textwrap.wrap(message, 72, drop_whitespace=False)
        body = "".join(f"{region.indent}    {piece!r}\n" for piece in pieces)
        stub = f"{region.indent}raise NotImplementedError(\n{body}{region.indent})\n"
        lines[region.begin - 1:region.end] = [stub]
    return "".join(lines)


def source_root() -> Path:
    """The source tree of the installed solution (the folder holding ``deeplinear/``)."""
    root = Path(__file__).resolve().parent.parent.parent
    if not (root / PACKAGE / "__init__.py").is_file() or not (root / "tests").is_dir():
        raise ReleaseError(f"no source checkout at {root}: install the package from its "
                           "repository (pip install -e .) to release or grade")
    return root


def _files(root):
    """Every file the release carries, sorted, as paths relative to ``root``."""
    wanted = []
    for base in (PACKAGE, *PUBLIC_TESTS):
        for path in sorted((root / base).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not SKIP_DIRS & set(rel.parts) \
                    and path.suffix not in SKIP_SUFFIXES:
                wanted.append(rel)
    wanted += sorted(p.relative_to(root) for p in (root / TUTORIALS).glob("*.py"))
    for name in EXTRA_FILES + TEST_HELPERS:
        if not (root / name).is_file():
            raise ReleaseError(f"{root / name}: missing from the source tree")
        wanted.append(Path(name))
    return sorted(set(wanted) - {Path(CASES)})


def write_cases(cases, path):
    """Store ``cases`` (name -> arrays and a JSON ``params``) as an .npz, reproducibly.

    ``numpy.savez`` stamps each member with the current time; here every
    member has a fixed date, so the same cases always give the same bytes.
    ``tests/gradelib.py`` reads the file back with ``allow_pickle=False``.
    """
    import io
    import json
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(cases):
            for key in sorted(cases[name]):
                value = cases[name][key]
                if key == "params":
                    value = np.array(json.dumps(value, sort_keys=True))
                buf = io.BytesIO()
                np.save(buf, np.asarray(value), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}/{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())


def public_cases(root):
    """The public cases, built by the judge's private reference in ``root``."""
    import importlib.util

    path = Path(root) / REFERENCE
    if not path.is_file():
        raise ReleaseError(f"{path}: the judge's reference is missing from the source tree")
    spec = importlib.util.spec_from_file_location("gradereference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.public_cases()


def release(out_dir, root=None) -> dict:
    """Write the student version into ``out_dir`` (which must not hold files).

    Returns
    -------
    dict
        ``files``: the relative paths written; ``regions``: the stubbed regions.
    """
    root = Path(root) if root is not None else source_root()
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"OUT_DIR: {out} exists and is not empty; give a new folder")
    files = _files(root)
    # Check every marker before writing anything.
    stubbed, regions = {}, []
    for rel in files:
        if rel.suffix == ".py":
            text = (root / rel).read_text()
            found = find_regions(text, str(rel))
            if found:
                stubbed[rel] = stub_source(text, str(rel))
                regions += found
    missing = [p for p in PARTS if p not in {r.part for r in regions}]
    if missing:
        raise ReleaseError(f"parts without a solution region: {', '.join(missing)}")
    for rel in files:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel in stubbed:
            target.write_text(stubbed[rel])
        else:
            shutil.copyfile(root / rel, target)
    write_cases(public_cases(root), out / CASES)
    from .guide import student_readme

    (out / "README.md").write_text(student_readme(regions))
    return {"files": [str(f) for f in files] + [CASES, "README.md"], "regions": regions}
