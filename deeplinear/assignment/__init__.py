"""Course assignments graded with pytest: ``python -m deeplinear.assignment``.

``release OUT_DIR`` writes the student version (solution regions replaced by
``NotImplementedError`` stubs, the public grading tests, a student guide);
``grade STUDENT_DIR`` runs the judge (``judge/``) on a student's package and
prints and writes the score; ``gradescope OUT.zip`` and ``prairielearn
OUT_DIR`` write autograders for those platforms. See README, "For instructors".
"""

from .judge.parts import PARTS, Part
from .judge.regions import find_regions
from .release import ReleaseError, release, stub_source

__all__ = ["PARTS", "Part", "ReleaseError", "find_regions", "release", "stub_source"]
