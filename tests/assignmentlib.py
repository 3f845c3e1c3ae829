"""Helpers of the tests of the course assignment (tests/test_assignment.py, test_attacks.py).

A student copy is a release; these put code back into its solution regions:
the solution of some parts (:func:`solve`), or an attack (:func:`inject`).
"""

import re
import textwrap
from pathlib import Path

from deeplinear.assignment import find_regions, stub_source
from deeplinear.assignment.judge.regions import region_body
from deeplinear.assignment.release import package_root

ROOT = package_root()


def region_files():
    """Every library file with solution regions, relative to the source root."""
    out = []
    for source in sorted((ROOT / "deeplinear").rglob("*.py")):
        if "assignment" not in source.parts and find_regions(source.read_text(), str(source)):
            out.append(source.relative_to(ROOT))
    return out


def solve(student_dir, parts):
    """Put the solution of ``parts`` back into every file of a student copy."""
    for rel in region_files():
        text = (ROOT / rel).read_text()
        (Path(student_dir) / rel).write_text(stub_source(text, str(rel), keep=set(parts)))


def solution_bodies(part):
    """The code of each solution region of ``part``, dedented, in the order ``inject`` uses."""
    bodies = []
    for rel in region_files():
        text = (ROOT / rel).read_text()
        lines = text.splitlines(keepends=True)
        for region in find_regions(text, str(rel)):
            if region.part == part:
                bodies.append(textwrap.dedent("".join(region_body(lines, region))))
    return bodies


def canary(part, check):
    """Attack bodies for ``part``: run ``check`` (code that raises unless what it tries
    works), then the solution. Such an attack earns points only if the check passes."""
    check = textwrap.dedent(check).strip("\n") + "\n"
    return [check + body for body in solution_bodies(part)]


def inject(student_dir, attacks):
    """The solution everywhere, except in the parts that ``attacks`` target.

    Each attack has ``part``, ``body``, ``module_code`` and
    ``first_region_only``. ``body`` is code at indentation 0, placed at the
    indentation of each region of the part, or a list with one such body per
    region of the part in file order (with ``first_region_only``, the part's
    other regions keep their stubs). ``module_code`` is put at the top of the
    file holding the part's first region (after ``from __future__``).
    """
    from deeplinear.assignment import PARTS

    by_part = {a.part: a for a in attacks}
    keep = set(PARTS) - set(by_part)
    counters = {}
    for rel in region_files():
        text = (ROOT / rel).read_text()
        lines = text.splitlines(keepends=True)
        replaced, prepend = [], []
        for region in find_regions(text, str(rel)):
            attack = by_part.get(region.part)
            if attack is None:
                continue
            number = counters.get(region.part, 0)
            counters[region.part] = number + 1
            if number == 0 and attack.module_code:
                prepend.append(textwrap.dedent(attack.module_code).strip("\n") + "\n")
            if attack.first_region_only and number > 0:
                continue
            code = attack.body[number] if isinstance(attack.body, list) else attack.body
            replaced.append((region, textwrap.indent(textwrap.dedent(code).strip("\n") + "\n",
                                                     region.indent)))
        for region, code in reversed(replaced):
            lines[region.begin - 1:region.end] = [code]
        patched = stub_source("".join(lines), str(rel), keep=keep)
        for code in prepend:
            patched = _prepend(patched, code)
        (Path(student_dir) / rel).write_text(patched)


def _prepend(text, code):
    match = re.search(r"^from __future__ import annotations\n", text, re.M)
    at = match.end() if match else 0
    return text[:at] + code + text[at:]


def prelude(folder) -> str:
    """Python code that makes ``import deeplinear`` read the copy in ``folder``.

    The repository is installed in editable mode: its finder (on
    ``sys.meta_path``) would resolve any submodule missing from a copy, such
    as ``deeplinear._kernels``, in the repository. A student's machine has no
    such install, so the code drops that finder and puts ``folder`` first on
    ``sys.path``, then checks where ``deeplinear`` came from.
    """
    return textwrap.dedent(f"""\
        import json, sys
        sys.meta_path[:] = [f for f in sys.meta_path
                            if not getattr(f, "__module__", "").startswith("__editable__")]
        sys.path.insert(0, {str(folder)!r})
        import deeplinear
        assert deeplinear.__file__.startswith({str(folder)!r}), deeplinear.__file__
        """)


def run_in_copy(folder, argv, cwd, env=None, timeout=300):
    """``python -m MODULE ...`` or ``python SCRIPT ...`` (``argv``) on the copy in ``folder``."""
    import subprocess
    import sys

    target, *rest = argv
    run = (f"runpy.run_module({target[3:]!r}, run_name='__main__', alter_sys=True)"
           if target.startswith("-m ") else f"runpy.run_path({target!r}, run_name='__main__')")
    code = prelude(folder) + f"import runpy\nsys.argv = {[target, *rest]!r}\n{run}\n"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def by_part(result):
    return {p.name: p for p in result.parts}
