"""The checks of the grading tests: one module per part, and ``common`` for all.

They run in the judge, never in the student's process, and hold no
implementation of a graded rule.
"""
