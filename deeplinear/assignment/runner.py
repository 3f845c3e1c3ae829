"""One grading process: ``python runner.py STUDENT_DIR REPORT PLUGIN [pytest args...]``.

Run by path (never as ``deeplinear.assignment.runner``), so that nothing of
the installed deeplinear is imported. It makes ``import deeplinear...`` read
the student's files, loads the grading plugin from the file PLUGIN, runs
pytest, and appends to REPORT (after the plugin's lines) the file of every
``deeplinear`` module that was imported.
"""

import importlib.util
import json
import sys
import time
import types
from pathlib import Path


def student_package(student_dir):
    """A bare ``deeplinear`` package object whose ``__path__`` is the student's folder.

    Each submodule a test imports is executed from the student's file; the
    student's ``__init__`` is not run, so a broken file costs only the parts
    that import it. Nothing else in the student's folder becomes importable.
    """
    root = Path(student_dir).resolve() / "deeplinear"
    package = types.ModuleType("deeplinear")
    package.__path__ = [str(root)]
    package.__file__ = str(root / "__init__.py")
    package.__package__ = "deeplinear"
    sys.modules["deeplinear"] = package
    return root


def load_plugin(path):
    spec = importlib.util.spec_from_file_location("deeplinear_grading_plugin", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv):
    student_dir, report, plugin_path, *args = argv
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    root = student_package(student_dir)
    plugin = load_plugin(plugin_path)
    import pytest

    start = time.perf_counter()
    code = pytest.main([*args, "--dl-report", report, "-p", "no:cacheprovider"],
                       plugins=[plugin])
    files = sorted({getattr(m, "__file__", None) or "" for name, m in list(sys.modules.items())
                    if name == "deeplinear" or name.startswith("deeplinear.")})
    with open(report, "a") as fh:
        fh.write(json.dumps({"modules": files, "student_root": str(root), "exit": int(code),
                             "seconds": time.perf_counter() - start}) + "\n")
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
