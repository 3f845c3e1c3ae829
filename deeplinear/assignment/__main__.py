"""``python -m deeplinear.assignment release OUT_DIR`` and ``... grade STUDENT_DIR``."""

from __future__ import annotations

import argparse
import json
import sys

PROG = "python -m deeplinear.assignment"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see --help)\n")


def build_parser():
    parser = _Parser(prog=PROG, description="Release the student version of deeplinear, "
                                            "or grade a student's package with pytest.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rel = sub.add_parser("release", help="write the student version into OUT_DIR")
    rel.add_argument("out_dir", metavar="OUT_DIR", help="a new or empty folder")
    gra = sub.add_parser("grade", help="grade the package in STUDENT_DIR")
    gra.add_argument("student_dir", metavar="STUDENT_DIR",
                     help="folder holding the student's deeplinear/ package")
    gra.add_argument("--json", default=None, metavar="PATH",
                     help="write a Gradescope results.json here")
    gra.add_argument("--hidden", action="store_true", help="also run the hidden tests")
    gra.add_argument("--timeout", type=float, default=10.0,
                     help="seconds one call of student code may run before its worker is "
                          "killed (default: %(default)s)")
    gra.add_argument("--part-timeout", type=float, default=60.0,
                     help="seconds of worker time per part; its later tests are then cut "
                          "short (default: %(default)s)")
    gra.add_argument("--memory", type=int, default=1024, metavar="MB",
                     help="address-space limit of each worker (default: %(default)s)")
    gra.add_argument("--parts", default=None, metavar="A,B",
                     help="grade only these parts (default: all)")
    gra.add_argument("--jobs", type=int, default=2,
                     help="judge processes sharing the parts (default: %(default)s)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .grade import GradeError, grade
    from .release import ReleaseError, release

    try:
        if args.command == "release":
            done = release(args.out_dir)
            print(f"wrote the student version to {args.out_dir}: {len(done['files'])} files, "
                  f"{len(done['regions'])} solution regions stubbed")
            return 0
        if args.timeout <= 0 or args.part_timeout <= 0 or args.jobs < 1 or args.memory < 64:
            raise GradeError("--timeout and --part-timeout must be > 0, --jobs >= 1, "
                             "--memory >= 64 (MB)")
        parts = None if args.parts is None else [p for p in args.parts.split(",") if p]
        result = grade(args.student_dir, hidden=args.hidden, timeout=args.timeout,
                       part_timeout=args.part_timeout, jobs=args.jobs, memory_mb=args.memory,
                       parts=parts)
    except (GradeError, ReleaseError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(result.table())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result.gradescope(), fh, indent=2)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
