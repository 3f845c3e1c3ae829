"""Experiments: grid searches, named presets and ``python -m deeplinear.experiments``.

``grid_search`` trains every combination of architecture, initializer,
optimizer, loss, learning rate and seed, and returns ``Results``: a tidy
table of runs, their curves, and the report-style summary (best lr per
architecture, steps to a common target). ``run_preset`` runs one of the
named experiments in ``PRESETS`` (the report's Figures 2-4 and the paper's
comparisons); ``run_grids`` runs several grids as one batch of tasks, and
``starting_factors`` gives the start of any of their runs. ``plot_seed_bands`` and ``plot_lr_heatmap`` draw a grid's curves and
its lr landscape into a matplotlib Axes.
"""

from .grid import (BALANCED_SCALE, REPORT_HIDDEN, REPORT_LRS, arch_name, grid_search, parse_hidden,
                   run_grids, starting_factors)
from .plotting import (best_lrs, best_run_curves, lr_cells, lr_heatmap_legend, plot_best_curves,
                       plot_edge_of_stability, plot_lr_heatmap, plot_seed_bands)
from .presets import PRESETS, Preset, get_preset, run_preset
from .results import Results

__all__ = ["grid_search", "run_grids", "starting_factors", "Results", "run_preset", "get_preset", "Preset", "PRESETS",
           "REPORT_LRS", "REPORT_HIDDEN", "BALANCED_SCALE", "arch_name", "parse_hidden",
           "plot_best_curves", "plot_seed_bands", "plot_lr_heatmap", "lr_heatmap_legend",
           "plot_edge_of_stability", "best_run_curves", "lr_cells", "best_lrs"]
