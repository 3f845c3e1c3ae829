"""The checks of the grading tests: one module per part, and ``common`` for all.

They run in the judge, never in the student's process, and hold no
implementation of a graded rule. ``queries`` reads the judge's record of one
call of ``numerical_gradient`` (for the module of that part).
"""
