"""Command line: ``python -m deeplinear.experiments [synthetic|abalone|ethanol|csv PATH]``.

Runs a preset (by default the report's Figure 2 protocol), prints one row per
architecture and writes ``curves.csv``, ``summary.json`` and ``curves.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings

from .grid import GRID_OPTIMIZERS, parse_hidden
from .presets import DEFAULT_PRESET, PRESETS, get_preset, run_preset

PROG = "python -m deeplinear.experiments"
DATASETS = ("synthetic", "abalone", "ethanol", "csv")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block, exit status 2
        self.exit(2, f"{PROG}: error: {message} (see --help)\n")


def build_parser():
    import textwrap

    presets = "\n".join(textwrap.fill(f"{p.name}: {p.description}", 78, initial_indent="  ",
                                       subsequent_indent="      ") for p in PRESETS.values())
    parser = _Parser(
        prog=PROG,
        description=textwrap.fill(
            "Train deep linear networks over a grid of architectures, inits, optimizers, "
            "losses, learning rates and seeds; print the best-lr table and write curves.csv, "
            "summary.json and curves.png. Name the data set first: options taking several "
            "values (--hidden, --lrs, ...) read until the next option.", 78),
        epilog=f"presets:\n{presets}\n\nAn option given on the command line replaces the "
               "preset's value in each of its grids.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", default="synthetic", choices=DATASETS,
                        help="data set; 'csv' takes a PATH (features and a target column) "
                             "(default: %(default)s)")
    parser.add_argument("path", nargs="?", default=None, help="the CSV file, for 'csv'")
    parser.add_argument("--target", default=None,
                        help="target column of the CSV file (default: the last column)")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="named experiment, listed below (default: %(default)s)")
    parser.add_argument("--hidden", nargs="+", default=None, metavar="WIDTHS",
                        help='architectures as hidden widths, e.g. "[]" "[10]" "[10,10]" '
                             "(default: the preset's)")
    parser.add_argument("--init", nargs="+", default=None,
                        help="default, near-zero, near-identity or balanced "
                             "(default: the preset's)")
    parser.add_argument("--optimizer", nargs="+", default=None,
                        help=f"{', '.join(GRID_OPTIMIZERS)} (default: the preset's)")
    parser.add_argument("--loss", nargs="+", default=None,
                        help="l2 (mean squared error) or l4 (default: the preset's)")
    parser.add_argument("--steps", type=int, default=None,
                        help="full-batch steps per run (default: the preset's)")
    parser.add_argument("--lrs", type=float, nargs="+", default=None,
                        help="learning-rate grid (default: the preset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="one repeat per seed (default: the preset's)")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="L2 penalty weight_decay/2 sum ||W_j||^2 (default: the preset's, 0 in all)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: results/<dataset>-<preset>-<time>); "
                             "made when the results are written")
    parser.add_argument("--force", action="store_true",
                        help="write into an --out that already holds results (default: refuse)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel worker processes, or the workers of --scheduler local "
                             "(default: all cores, here %(default)s)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on a Dask cluster: a scheduler's address (tcp://host:8786), "
                             "or 'local' for --jobs worker processes on 127.0.0.1; every "
                             "grid then runs there, however small (needs the extra: "
                             'pip install -e ".[distributed]"; default: local processes)')
    parser.add_argument("--quiet", action="store_true", help="print nothing, no progress bar (default: off)")
    return parser


def _check_args(parser, args):
    if args.dataset == "csv" and not args.path:
        parser.error("csv: expected a PATH to the CSV file")
    if args.dataset != "csv" and args.path:
        parser.error(f"unexpected argument {args.path!r} (a PATH is only taken by 'csv')")
    try:
        get_preset(args.preset)
        if args.hidden is not None:
            args.hidden = [parse_hidden(h) for h in args.hidden]
    except ValueError as exc:
        parser.error(str(exc))
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps: expected an integer >= 1, got {args.steps}")
    if args.lrs is not None and any(not lr > 0 for lr in args.lrs):
        parser.error(f"--lrs: expected learning rates > 0, got {args.lrs}")
    if args.seeds is not None and any(s < 0 for s in args.seeds):
        parser.error(f"--seeds: expected non-negative integers, got {args.seeds}")
    if args.weight_decay is not None and not args.weight_decay >= 0:
        parser.error(f"--weight-decay: expected a number >= 0, got {args.weight_decay}")
    if args.jobs < 1:
        parser.error(f"--jobs: expected an integer >= 1, got {args.jobs}")
    for option, values in (("--lrs", args.lrs), ("--seeds", args.seeds)):
        repeated = sorted({v for v in values or () if values.count(v) > 1})
        if repeated and not args.quiet:
            print(f"{PROG}: note: {option}: each value runs once; dropped the repeats of "
                  + ", ".join(f"{v:g}" for v in repeated), file=sys.stderr)


def load_data(args, quiet):
    from .. import datasets

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", datasets.PartialDataWarning)
        if args.dataset == "csv":
            data = datasets.load_csv(args.path, target=args.target)
        else:
            data = datasets.load(args.dataset)
    for w in caught:
        if not quiet:
            print(f"note: {w.message}", file=sys.stderr)
    return data


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    overrides = dict(hidden=args.hidden, init=args.init, optimizer=args.optimizer,
                     loss=args.loss, steps=args.steps, lrs=args.lrs, seeds=args.seeds,
                     weight_decay=args.weight_decay)
    try:
        data = load_data(args, args.quiet)
        # Check every grid before any work starts: a bad --init fails here.
        from .grid import check_grid
        for grid in get_preset(args.preset).with_overrides(**overrides):
            check_grid(grid)
    except ValueError as exc:  # includes DataError; its message says what to do
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2

    out = args.out or os.path.join(
        "results", f"{data.name}-{args.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
    problem = _unwritable(out) or (None if args.force else _holds_results(out))
    if problem:  # before any run: the results would be lost at the end
        print(f"{PROG}: error: --out: cannot write to {out}: {problem}", file=sys.stderr)
        return 2
    stack = contextlib.ExitStack()
    try:
        executor = stack.enter_context(_executor(args))
    except (ConnectionError, RuntimeError) as exc:  # --scheduler: unreachable, or no extra
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    with stack:  # shuts the executor (and a local cluster) down
        results = run_preset(args.preset, data, executor=executor, progress=not args.quiet,
                             serial_below=0.0 if args.scheduler else None, **overrides)
    paths = results.write(out, title=_title(results, args.preset))
    if not args.quiet:
        print(results.format_table())
        print(f"\n{len(results.runs)} runs in {results.seconds:.1f} s; wrote "
              + ", ".join(paths.values()))
    elif results.failures():
        print(f"{PROG}: " + results.failure_notes()[0], file=sys.stderr)
    # Runs that raised were recorded (table, summary.json) and the others went
    # on; the exit status still says that something failed.
    return 1 if results.failures() else 0


@contextlib.contextmanager
def _executor(args):
    """The executor of the runs: a Dask cluster (``--scheduler``), a process
    pool (``--jobs`` > 1) or None (here, serially); shut down on exit."""
    if args.scheduler:
        from .cluster import dask_executor

        with dask_executor(args.scheduler, jobs=args.jobs) as executor:
            yield executor
    elif args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs) as executor:
            yield executor
    else:
        yield None


def _unwritable(out):
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


def _holds_results(out):
    """Why writing into ``out`` would overwrite earlier results (None if it would not)."""
    found = [n for n in ("curves.csv", "summary.json", "curves.png")
             if os.path.exists(os.path.join(out, n))]
    if found:
        return f"it already holds results ({', '.join(found)}); give a new folder, or --force"
    return None


def _title(results, preset):
    c = results.config
    return (f"{c['dataset']} (n={c['n']}, d={c['d_in']}), preset {preset}: learning curves "
            f"at the best lr, mean and range over seeds")


if __name__ == "__main__":
    status = main()
    # Everything is written and closed. Without this, the interpreter's
    # teardown runs the garbage collector over numba's and matplotlib's
    # objects again and again: 0.3-0.9 s of a run that takes 2-3 s warm.
    import gc

    gc.freeze()
    sys.exit(status)
