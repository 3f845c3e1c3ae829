"""``python -m deeplinear.assignment {release,grade,gradescope,prairielearn} ...``."""

from __future__ import annotations

import argparse
import sys

PROG = "python -m deeplinear.assignment"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see --help)\n")


def build_parser():
    from .judge.grade import add_arguments

    parser = _Parser(prog=PROG, description="Release the student version of deeplinear, "
                                            "grade a student's package with pytest, or write "
                                            "a Gradescope or PrairieLearn autograder.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rel = sub.add_parser("release", help="write the student version into OUT_DIR")
    rel.add_argument("out_dir", metavar="OUT_DIR", help="a new or empty folder")
    rel.add_argument("--private", default=None, metavar="DIR",
                     help="the instructor's private folder (default: the checkout's "
                          "instructor/)")
    add_arguments(sub.add_parser("grade", help="grade the package in STUDENT_DIR"))
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "grade":
        from .judge.grade import run

        return run(args, PROG)
    from .release import ReleaseError, release

    try:
        done = release(args.out_dir, private=args.private)
    except ReleaseError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote the student version to {args.out_dir}: {len(done['files'])} files, "
          f"{len(done['regions'])} solution regions stubbed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
