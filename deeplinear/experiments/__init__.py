"""Experiments: grid searches, named presets and ``python -m deeplinear.experiments``.

``grid_search`` trains every combination of architecture, initializer,
optimizer, loss, learning rate and seed, and returns ``Results``: a tidy
table of runs, their curves, and the report-style summary (best lr per
architecture, steps to a common target). ``run_preset`` runs one of the
named experiments in ``PRESETS`` (the report's Figures 2-4 and the paper's
comparisons).
"""

from .grid import BALANCED_SCALE, REPORT_HIDDEN, REPORT_LRS, arch_name, grid_search, parse_hidden
from .presets import PRESETS, Preset, get_preset, run_preset
from .results import Results

__all__ = ["grid_search", "Results", "run_preset", "get_preset", "Preset", "PRESETS",
           "REPORT_LRS", "REPORT_HIDDEN", "BALANCED_SCALE", "arch_name", "parse_hidden"]
