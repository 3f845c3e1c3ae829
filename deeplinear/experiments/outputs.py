"""Where the main command writes: ``--out`` checked before any run starts.

A command that fails after an hour of runs because its folder cannot be
written, or that overwrites earlier results, loses work; these checks run
first (``__main__._run``), and the folder itself is made only when the
results are written (``Results.write``).
"""

from __future__ import annotations

import os

from .results import FILES

__all__ = ["unwritable", "holds_results"]


def unwritable(out):
    """Why ``out`` cannot hold the results (None if it can), without making it: the
    folder is made when the results are written, so a failed command leaves none."""
    path = os.path.abspath(out)
    if os.path.exists(path):
        if not os.path.isdir(path):
            return "it exists and is not a folder"
        existing = path
    else:
        existing = os.path.dirname(path)
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def holds_results(out):
    """Why writing into ``out`` would overwrite earlier results (None if it would not)."""
    found = [n for n in FILES if os.path.exists(os.path.join(out, n))]
    if found:
        return f"it already holds results ({', '.join(found)}); give a new folder, or --force"
    return None
