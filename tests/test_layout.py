"""The package's shape: one topic per module, and modules that keep to each
other's public names.

Both rules are read from the source with ``ast``, so a new module is covered
the moment it exists.
"""

import ast
from pathlib import Path

import pytest

import deeplinear

PACKAGE = Path(deeplinear.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400

#: Private names that a module may reach on an object of another library,
#: each with its reason. Nothing of deeplinear's own is here.
ALLOWED = {
    ("deeplinear/assignment/judge/worker.py", "os", "_exit"):
        "the sandboxed worker ends without running atexit hooks or flushing inherited buffers",
    ("deeplinear/_compile_notice.py", "index_file", "_load_index"):
        "numba has no public way to ask whether its disk cache holds a compiled "
        "specialisation; this one read is isolated there and fails safe (says nothing)",
}
#: namedtuple's public API is spelled with a leading underscore.
NAMEDTUPLE_API = {"_fields", "_replace", "_asdict", "_make", "_field_defaults"}


def _relative(path):
    """``path`` as ``deeplinear/...`` (as given, for a file outside the package)."""
    try:
        return path.relative_to(PACKAGE.parent).as_posix()
    except ValueError:
        return path.as_posix()


def private_uses(path):
    """``(line, text)`` of every use of another module's private name in ``path``:
    ``from m import _name`` and ``obj._name`` where ``obj`` is not self or cls."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    # A private *module* of the package may be imported by name.
                    base = path.parent if node.level else PACKAGE.parent
                    for _ in range(max(node.level - 1, 0)):
                        base = base.parent
                    module = base.joinpath(*(node.module.split(".") if node.module else []),
                                           alias.name)
                    if module.with_suffix(".py").is_file() or (module / "__init__.py").is_file():
                        continue
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
        elif isinstance(node, ast.Attribute):
            name = node.attr
            if not name.startswith("_") or name.startswith("__") or name in NAMEDTUPLE_API:
                continue
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner in ("self", "cls"):
                continue
            if (_relative(path), owner, name) in ALLOWED:
                continue
            found.append((node.lineno, f"{ast.unparse(node.value)}.{name}"))
    return found


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_module_is_one_topic(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, (
        f"{_relative(path)} has {lines} lines; split it by job (at most {MAX_LINES})")


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_no_private_names_of_other_modules(path):
    uses = private_uses(path)
    assert not uses, f"{_relative(path)} uses private names: " + "; ".join(
        f"line {line}: {text}" for line, text in uses)


def test_the_private_name_check_can_fail(tmp_path):
    """The checker itself finds both forms (a guard against a check that passes vacuously)."""
    module = tmp_path / "m.py"
    module.write_text("from deeplinear.objective import _hidden\n"
                      "def f(objective):\n    return objective._checked([])\n"
                      "def g(self):\n    return self._own\n")
    assert [text for _, text in private_uses(module)] == [
        "from deeplinear.objective import _hidden", "objective._checked"]
