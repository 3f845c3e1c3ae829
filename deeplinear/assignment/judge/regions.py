"""Solution regions: the markers around the code a student writes.

A student part is marked in the library source, around ordinary working
code: a line ``# BEGIN SOLUTION <part>: <what to implement, with the
formula>``, optional continuation lines of the hint, each starting with
``#`` and three spaces, the code, and a line ``# END SOLUTION``.

``release`` replaces each region by a stub; the judge withholds messages that
quote a region's body (``private.py``). Both read the regions here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .parts import PARTS

__all__ = ["ReleaseError", "Region", "find_regions", "region_body"]

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?P<rest>.*)$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HINT_CONTINUATION = re.compile(r"^\s*#   (?P<text>.*)$")
PART_AND_HINT = re.compile(r"^\s+(?P<part>[a-z0-9_]+):\s+(?P<hint>\S.*)$")


class ReleaseError(ValueError):
    """The solution source cannot be released (bad markers, missing files)."""


@dataclass(frozen=True)
class Region:
    file: str
    begin: int  # 1-based line of BEGIN
    end: int    # 1-based line of END
    part: str
    hint: str
    indent: str


def find_regions(text, file="<source>"):
    """The solution regions of one file, checked: balanced, not nested, named."""
    regions, open_at = [], None
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        begin = BEGIN.match(line)
        if begin:
            if open_at is not None:
                raise ReleaseError(f"{file}:{number}: BEGIN SOLUTION inside the region "
                                   f"opened at line {open_at[0]} (regions cannot nest)")
            named = PART_AND_HINT.match(begin.group("rest"))
            if not named:
                raise ReleaseError(f"{file}:{number}: expected '# BEGIN SOLUTION <part>: <hint>'")
            hint = named.group("hint").strip()
            for follow in lines[number:]:
                more = HINT_CONTINUATION.match(follow)
                if not more:
                    break
                hint += " " + more.group("text").strip()
            open_at = (number, named.group("part"), hint, begin.group("indent"))
        elif END.match(line):
            if open_at is None:
                raise ReleaseError(f"{file}:{number}: END SOLUTION without a BEGIN SOLUTION")
            start, part, hint, indent = open_at
            if part not in PARTS:
                raise ReleaseError(f"{file}:{start}: unknown part {part!r}; the parts are "
                                   f"{', '.join(PARTS)} (deeplinear/assignment/judge/parts.py)")
            regions.append(Region(file, start, number, part, hint, indent))
            open_at = None
    if open_at is not None:
        raise ReleaseError(f"{file}:{open_at[0]}: BEGIN SOLUTION is never closed by END SOLUTION")
    return regions


def region_body(lines, region):
    """The code of ``region`` (a list of the file's lines), without markers and hint."""
    body = lines[region.begin:region.end - 1]
    while body and HINT_CONTINUATION.match(body[0]):
        body = body[1:]
    return body
