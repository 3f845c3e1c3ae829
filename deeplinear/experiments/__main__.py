"""Command line: ``python -m deeplinear.experiments [synthetic]``."""

from __future__ import annotations

import argparse
import sys

from .synthetic import default_out_dir, run_synthetic


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deeplinear.experiments",
        description="Train deep linear networks of depth 1-3 and compare their learning curves.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("dataset", nargs="?", default="synthetic", choices=["synthetic"],
                        help="data set to train on")
    parser.add_argument("--steps", type=int, default=2000, help="gradient steps per run")
    parser.add_argument("--hidden", type=int, default=20, help="width of the hidden layers")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default=None,
                        help="output directory (default: results/<dataset>-<timestamp>)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps: expected an integer >= 1, got {args.steps}")
    if args.hidden < 1:
        parser.error(f"--hidden: expected an integer >= 1, got {args.hidden}")
    out = args.out or default_out_dir(args.dataset)
    run_synthetic(steps=args.steps, hidden=args.hidden, seed=args.seed, out=out, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
