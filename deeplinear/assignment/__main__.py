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
    gs = sub.add_parser("gradescope", help="write a Gradescope autograder zip to OUT.zip")
    gs.add_argument("out_zip", metavar="OUT.zip", help="the zip to write (replaced if it exists)")
    pl = sub.add_parser("prairielearn", help="write a PrairieLearn question with its external "
                                             "grader into OUT_DIR")
    pl.add_argument("out_dir", metavar="OUT_DIR", help="a new or empty folder")
    for command in (gs, pl):
        command.add_argument("--private", default=None, metavar="DIR",
                            help="the instructor's private folder (default: the checkout's "
                                 "instructor/)")
    return parser


def bundle(args) -> int:
    """Write the autograder bundle the parsed ``args`` name; print what it holds."""
    from . import bundles

    try:
        if args.command == "gradescope":
            done, out = bundles.gradescope(args.out_zip, private=args.private), args.out_zip
            where = ("upload it as the autograder of a Gradescope programming assignment "
                     "(its setup.sh installs NumPy with pip and checks the base image's Python)")
        else:
            done, out = bundles.prairielearn(args.out_dir, private=args.private), args.out_dir
            where = (f"copy {out} into your course's questions/, and move its "
                     f"serverFilesCourse/{bundles.PL_FOLDER} into the course's "
                     "serverFilesCourse/")
    except bundles.BundleError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: {len(done['files'])} files, with {', '.join(done['vendored'])}; {where}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("gradescope", "prairielearn"):
        return bundle(args)
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
