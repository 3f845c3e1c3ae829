"""Course assignments graded with pytest: ``python -m deeplinear.assignment``.

``release OUT_DIR`` writes the student version (solution regions replaced by
``NotImplementedError`` stubs, the public grading tests, a student guide);
``grade STUDENT_DIR`` runs the grading tests against a student's package, one
part per process, and prints and writes the score. See README, "For instructors".
"""

from .parts import PARTS, Part
from .release import ReleaseError, find_regions, release, stub_source

__all__ = ["PARTS", "Part", "ReleaseError", "find_regions", "release", "stub_source"]
