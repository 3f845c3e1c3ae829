"""Command line: ``python -m deeplinear.experiments [synthetic|abalone|ethanol|csv PATH]``.

Runs a preset (by default the report's Figure 2 protocol), prints one row per
configuration and writes ``runs.csv``, ``curves.csv``, ``summary.json`` and
``curves.png``. The presets on built-in problems (``problems.PROBLEM_PRESETS``:
``dmf-completion``, ``saxe-modes``) take no data set and write the same files.

Ctrl-C stops the command within about a second: the runs that finished are
written, marked incomplete, and the status is 130. The runs of a grid
estimated at over ``plan.SERIAL_BELOW_SECONDS`` go to worker processes, even
with ``--jobs 1``, so that this process only waits and answers at once
(numba's compiled code cannot be interrupted); the workers ignore Ctrl-C
(``execution.worker_initializer``) and are ended by this process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings

from .ctrl_c import INTERRUPTED, CtrlC
from .execution import Interrupted, process_pool
from .plan import estimate_grids_seconds
from .presets import DEFAULT_PRESET, PRESETS, get_preset, run_preset
from .problems import PROBLEM_PRESETS, problem_table, run_problem_preset
from .report import count
from .outputs import holds_results, unwritable
from .spec import GRID_OPTIMIZERS, check_grid, parse_hidden

PROG = "python -m deeplinear.experiments"
DATASETS = ("synthetic", "abalone", "ethanol", "csv")
#: The largest ``--steps``: 1000 times the paper's horizon (1e6 steps). One
#: run of 1e9 steps takes over 15 min even for depth 1 on tiny data (about
#: 1 us per compiled step); a larger value is a typo, not an experiment.
MAX_STEPS = 10**9
#: Say how long the runs will take when the estimate is above this many seconds.
ESTIMATE_ABOVE_SECONDS = 60.0


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block, exit status 2
        self.exit(2, f"{PROG}: error: {message} (see --help)\n")


def build_parser():
    import textwrap

    presets = "\n".join(textwrap.fill(f"{p.name}: {p.description}", 78, initial_indent="  ",
                                       subsequent_indent="      ")
                         for p in [*PRESETS.values(), *PROBLEM_PRESETS.values()])
    parser = _Parser(
        prog=PROG,
        description=textwrap.fill(
            "Train deep linear networks over a grid of architectures, inits, optimizers, "
            "losses, learning rates and seeds; print the best-lr table and write runs.csv, "
            "curves.csv, summary.json and curves.png. Name the data set first: options taking "
            "several values (--hidden, --lrs, ...) read until the next option. Ctrl-C stops "
            "and writes the runs finished so far, marked incomplete (exit status 130).", 78),
        epilog=f"presets:\n{presets}\n\nAn option given on the command line replaces the "
               "preset's value in each of its grids.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", default=None, choices=DATASETS,
                        help="data set; 'csv' takes a PATH (features and a target column) "
                             "(default: synthetic; none for a preset on a built-in problem)")
    parser.add_argument("path", nargs="?", default=None, help="the CSV file, for 'csv'")
    parser.add_argument("--target", default=None,
                        help="target column of the CSV file, for 'csv' only (default: the "
                             "last column)")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="named experiment, listed below (default: %(default)s)")
    parser.add_argument("--hidden", nargs="+", default=None, metavar="WIDTHS",
                        help='architectures as hidden widths, e.g. "[]" "[10]" "[10,10]" '
                             "(default: the preset's)")
    parser.add_argument("--init", nargs="+", default=None,
                        help="default, near_zero, near_identity or balanced "
                             "(default: the preset's)")
    parser.add_argument("--optimizer", nargs="+", default=None,
                        help=f"{', '.join(GRID_OPTIMIZERS)} (default: the preset's)")
    parser.add_argument("--loss", nargs="+", default=None,
                        help="l2 (mean squared error) or l4 (default: the preset's)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"full-batch steps per run, at most {_sci(MAX_STEPS)} "
                             "(default: the preset's)")
    parser.add_argument("--lrs", type=float, nargs="+", default=None,
                        help="learning-rate grid (default: the preset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="one repeat per seed (default: the preset's)")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="L2 penalty weight_decay/2 sum ||W_j||^2 (default: the preset's, "
                             "0 in all)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: results/<dataset>-<preset>-<time>, "
                             "or results/<preset>-<time>); "
                             "made when the results are written")
    parser.add_argument("--force", action="store_true",
                        help="write into an --out that already holds results (default: refuse)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes, or the workers of --scheduler local "
                             f"(default: all cores, here {os.cpu_count() or 1})")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on a Dask cluster: a scheduler's address (tcp://host:8786), "
                             "or 'local' for --jobs worker processes on 127.0.0.1; every "
                             "grid then runs there, however small (needs the extra: "
                             'pip install -e ".[distributed]"; default: local processes)')
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing but errors and Ctrl-C's line: no progress bar, "
                             "no compile notice (default: off)")
    return parser


def _check_args(parser, args):
    if args.preset in PROBLEM_PRESETS:
        if args.dataset is not None or args.target is not None:
            parser.error(f"{args.dataset or '--target'}: the {args.preset} preset runs on its "
                         "own built-in problem; name no data set")
        for option, value in (("--init", args.init), ("--loss", args.loss)):
            if value is not None:
                parser.error(f"{option}: does not apply to the {args.preset} preset, whose "
                             "problem fixes it")
    elif args.dataset is None:
        args.dataset = "synthetic"
    if args.dataset == "csv" and not args.path:
        parser.error("csv: expected a PATH to the CSV file")
    if args.dataset != "csv" and args.path:
        parser.error(f"unexpected argument {args.path!r} (a PATH is only taken by 'csv')")
    if args.dataset != "csv" and args.target is not None:
        parser.error(f"--target: applies to 'csv' only; {args.dataset} has its own target")
    remote = args.scheduler not in (None, "local")
    if remote and args.jobs is not None:
        parser.error("--jobs: does not apply to a --scheduler address (its cluster has its own "
                     "workers); it sets the local processes or those of --scheduler local")
    if args.preset not in PRESETS and args.preset not in PROBLEM_PRESETS:
        parser.error(f"preset: unknown {args.preset!r}; expected one of "
                     f"{sorted([*PRESETS, *PROBLEM_PRESETS])}")
    try:
        if args.hidden is not None:
            args.hidden = [parse_hidden(h) for h in args.hidden]
    except ValueError as exc:
        parser.error(str(exc))
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps: expected an integer >= 1, got {args.steps}")
    if args.steps is not None and args.steps > MAX_STEPS:
        parser.error(f"--steps: expected at most {_sci(MAX_STEPS)} (1000 times the paper's "
                     f"horizon; one run of {_sci(MAX_STEPS)} steps takes over 15 min), "
                     f"got {args.steps}")
    if args.lrs is not None and any(not lr > 0 for lr in args.lrs):
        parser.error(f"--lrs: expected learning rates > 0, got {args.lrs}")
    if args.seeds is not None and any(s < 0 for s in args.seeds):
        parser.error(f"--seeds: expected non-negative integers, got {args.seeds}")
    if args.weight_decay is not None and not args.weight_decay >= 0:
        parser.error(f"--weight-decay: expected a number >= 0, got {args.weight_decay}")
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs: expected an integer >= 1, got {args.jobs}")
    if args.jobs is None and not remote:
        args.jobs = os.cpu_count() or 1
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


def main(argv=None, ctrl_c=None) -> int:
    """Run the command; return its exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).
    ctrl_c : CtrlC, optional
        The program's, installed: told when ``main`` catches Ctrl-C, and keeps
        a Ctrl-C from cutting the final files short. None (a test calling
        ``main``): Python's own handling of Ctrl-C.

    Returns
    -------
    int
        0; 1 if some runs raised or the worker processes died; 2 for bad
        input, said before any run; 130 (``INTERRUPTED``) after Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    ctrl_c = ctrl_c or CtrlC()
    overrides = dict(hidden=args.hidden, init=args.init, optimizer=args.optimizer,
                     loss=args.loss, steps=args.steps, lrs=args.lrs, seeds=args.seeds,
                     weight_decay=args.weight_decay)
    try:
        # --quiet silences the compile notice here and in the workers, which inherit it.
        with _environ("DEEPLINEAR_QUIET_COMPILE", "1" if args.quiet else None):
            return _run(args, overrides, ctrl_c)
    except KeyboardInterrupt:  # before any run finished: loading the data, the first compile
        pass
    except Exception:
        if not ctrl_c.pressed:
            raise
        # An error of Ctrl-C's making: numba's first compile, cut short, can fail so.
    ctrl_c.caught()
    print(f"{PROG}: interrupted; no run had finished, nothing written", file=sys.stderr)
    return INTERRUPTED


def _prepare(args, overrides):
    """What the preset will run, checked before any work: ``(name, planned runs,
    estimated seconds, launch)``, where ``launch(executor)`` runs it and returns
    its Results. Raises ValueError (a DataError too) naming the bad input."""
    workers = 1 if args.jobs is None else args.jobs
    if args.preset in PROBLEM_PRESETS:
        problem = PROBLEM_PRESETS[args.preset].with_overrides(**overrides)
        planned = len(problem.tasks()) * len(problem.lrs)

        def launch(executor):
            return run_problem_preset(problem, executor=executor, progress=not args.quiet)

        return args.preset, planned, 0.0, launch
    grids = get_preset(args.preset).with_overrides(**overrides)
    data = load_data(args, args.quiet)
    # Check every grid before any work starts: a bad --init fails here.
    grids = [check_grid(grid) for grid in grids]  # the one check; passed on as GridSpecs
    planned = sum(len(s.combos) * len(s.lrs) for s in grids)
    seconds = estimate_grids_seconds(data, grids, workers=workers)

    def launch(executor):
        return run_preset(args.preset, data, executor=executor, progress=not args.quiet,
                          serial_below=0.0 if args.scheduler else None, grids=grids)

    return f"{data.name}-{args.preset}", planned, seconds, launch


def _run(args, overrides, ctrl_c):
    try:
        name, planned, seconds, launch = _prepare(args, overrides)
    except ValueError as exc:  # includes DataError; its message says what to do
        return _error(ctrl_c, 2, exc)
    workers = 1 if args.jobs is None else args.jobs

    out = args.out or os.path.join("results", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    problem = unwritable(out) or (None if args.force else holds_results(out))
    if problem:  # before any run: the results would be lost at the end
        print(f"{PROG}: error: --out: cannot write to {out}: {problem}", file=sys.stderr)
        return 2
    if seconds > ESTIMATE_ABOVE_SECONDS and not args.quiet:
        where = (f"on {count(workers, 'worker')}" if args.jobs is not None
                 else "of one worker's time, shared by the cluster's workers")
        print(f"{PROG}: {count(planned, 'run')}: about {_duration(seconds)} {where} "
              "(an estimate); Ctrl-C stops them and writes those finished", file=sys.stderr)
    # The figure's modules now, not after Ctrl-C: the partial results are then
    # written within a second (importing them takes about 0.6 s).
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    stack = contextlib.ExitStack()
    try:
        executor = stack.enter_context(_executor(args))
    except (ConnectionError, RuntimeError) as exc:  # --scheduler: unreachable, or no extra
        return _error(ctrl_c, 2, exc)
    try:
        with stack:  # shuts the executor (and a local cluster) down
            results = launch(executor)
    except Interrupted as exc:
        ctrl_c.caught()
        done = len(exc.results.runs)
        if not done:
            print(f"{PROG}: interrupted; no run had finished, nothing written", file=sys.stderr)
            return INTERRUPTED
        with ctrl_c.shield():
            exc.results.write(out, title=_title(exc.results, args.preset), incomplete=True)
        print(f"{PROG}: interrupted after {done} of {planned} runs; wrote those to {out}, "
              "marked incomplete", file=sys.stderr)
        return INTERRUPTED
    except RuntimeError as exc:  # the worker processes died: no results to trust
        return _error(ctrl_c, 1, exc)
    with ctrl_c.shield():  # the runs are done: Ctrl-C no longer cuts the files short
        paths = results.write(out, title=_title(results, args.preset))
        if not args.quiet:
            print(results.format_table())
            if args.preset in PROBLEM_PRESETS:
                print("\n" + problem_table(results))
            print(f"\n{count(len(results.runs), 'run')} in {results.seconds:.1f} s; wrote "
                  + ", ".join(paths.values()))
        elif results.failures():
            print(f"{PROG}: " + results.failure_notes()[0], file=sys.stderr)
    # Runs that raised were recorded (table, summary.json) and the others went
    # on; the exit status still says that something failed.
    return 1 if results.failures() else 0


def _error(ctrl_c, status, exc):
    """Say ``exc`` in one line and return ``status``; but after Ctrl-C, the error is
    of its making (numba's first compile, cut short, can fail so): interrupted."""
    if ctrl_c.pressed:
        raise KeyboardInterrupt
    print(f"{PROG}: error: " + " ".join(str(exc).split()), file=sys.stderr)
    return status


@contextlib.contextmanager
def _executor(args):
    """The executor of the runs, shut down on exit: a Dask cluster
    (``--scheduler``), else a pool of ``--jobs`` processes, even one. A grid
    estimated above ``plan.SERIAL_BELOW_SECONDS`` runs in the pool and leaves
    this process free to answer Ctrl-C; a smaller one runs here, and the pool
    starts no process."""
    if args.scheduler:
        from .cluster import dask_executor

        with dask_executor(args.scheduler, jobs=args.jobs) as executor:
            try:
                yield executor
            except BaseException:  # Ctrl-C: Dask cancels the pending and running tasks
                executor.shutdown(wait=False)
                raise
    else:
        with process_pool(args.jobs) as executor:
            yield executor


@contextlib.contextmanager
def _environ(name, value):
    """``os.environ[name] = value`` inside (None: leave it as it is)."""
    if value is None:
        yield
        return
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def _title(results, preset):
    c = results.config
    return (f"{c['dataset']} (n={c['n']}, d={c['d_in']}), preset {preset}: learning curves "
            f"at the best lr, mean and range over seeds")


def _sci(n):
    """``10**9 -> "1e9"``."""
    return f"{n:.0e}".replace("e+0", "e").replace("e+", "e")


def _duration(seconds):
    """``"12 min"``, ``"3.5 h"``, ``"4 days"``: a duration as one would say it."""
    if seconds < 90 * 60:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


if __name__ == "__main__":
    status = main(ctrl_c=CtrlC().install())
    # Everything is written and closed. Without this, the interpreter's
    # teardown runs the garbage collector over numba's and matplotlib's
    # objects again and again: 0.3-0.9 s of a run that takes 2-3 s warm.
    import gc

    gc.freeze()
    sys.exit(status)
