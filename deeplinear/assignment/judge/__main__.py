"""``python -m deeplinear.assignment.judge STUDENT_DIR [options]``: grade, with the judge alone.

The same command as ``python -m deeplinear.assignment grade``, for a bundle
that carries only the judge (a Gradescope or PrairieLearn autograder).
"""

import argparse
import sys

from .grade import add_arguments, run

PROG = f"python -m {__package__}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Grade a student's deeplinear "
                                                            "package with the judge.")
    add_arguments(parser)
    return run(parser.parse_args(argv), PROG)


if __name__ == "__main__":
    sys.exit(main())
