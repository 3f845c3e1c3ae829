"""Experiments: grid searches, named presets and ``python -m deeplinear.experiments``.

``grid_search`` trains every combination of architecture, initializer,
optimizer, loss, learning rate and seed, and returns ``Results``: a tidy
table of runs, their curves, and the report-style summary (best lr per
configuration, steps to a common target); ``Results.write`` and
``Results.read`` save and load them. ``run_preset`` runs one of the named
experiments in ``PRESETS`` (the report's Figures 2-4 and the paper's
comparisons); ``run_grids`` runs several grids as one batch of tasks, and
``starting_factors`` gives the start of any of their runs. ``check_grid``
checks a grid before any run and ``estimate_grids_seconds`` estimates its
time; ``process_pool`` makes a process pool that leaves Ctrl-C to this
process, which ends a grid with ``Interrupted`` (carrying the runs that
finished). ``plot_seed_bands`` and ``plot_lr_heatmap`` draw a grid's curves
and its lr landscape into a matplotlib Axes. ``PROBLEM_PRESETS`` are the
presets on built-in problems (deep matrix factorization, learning in
stages), run by ``run_problem_preset`` without a data set, with
``problem_table`` for their own results.

The modules, by job: ``spec`` (a grid checked into a frozen ``GridSpec``),
``configuration`` (what identifies a configuration), ``plan`` (tasks,
starting factors, cost model), ``execution`` (running the tasks), ``grid``
(the entry points), ``results`` and ``report`` (what a search returns and
its text), ``plotting``, ``presets``, ``problems`` (the built-in problems),
``cluster`` (Dask), and for the command, ``__main__``, ``outputs`` (``--out``
checked first) and ``ctrl_c`` (Ctrl-C that stops at once and keeps what
finished).
"""

from .configuration import Configuration
from .execution import Interrupted, process_pool, worker_initializer
from .grid import grid_search, run_grids
from .plan import BALANCED_SCALE, estimate_grids_seconds, starting_factors
from .plotting import (best_lrs, best_run_curves, lr_cells, lr_heatmap_legend, plot_best_curves,
                       plot_edge_of_stability, plot_lr_heatmap, plot_seed_bands)
from .presets import PRESETS, Preset, get_preset, run_preset
from .problems import PROBLEM_PRESETS, ProblemPreset, problem_table, run_problem_preset
from .results import Results
from .spec import (GRID_KEYS, GRID_OPTIMIZERS, REPORT_HIDDEN, REPORT_LRS, GridSpec, arch_name,
                   check_grid, parse_hidden)

__all__ = ["grid_search", "run_grids", "starting_factors", "Results", "run_preset", "get_preset",
           "Preset", "PRESETS", "check_grid", "GridSpec", "GRID_KEYS", "GRID_OPTIMIZERS",
           "Configuration", "estimate_grids_seconds", "Interrupted", "process_pool",
           "worker_initializer", "REPORT_LRS", "REPORT_HIDDEN", "BALANCED_SCALE", "arch_name",
           "parse_hidden", "plot_best_curves", "plot_seed_bands", "plot_lr_heatmap",
           "lr_heatmap_legend", "plot_edge_of_stability", "best_run_curves", "lr_cells",
           "best_lrs", "PROBLEM_PRESETS", "ProblemPreset", "run_problem_preset",
           "problem_table"]
