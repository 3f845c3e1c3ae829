"""The judge of the course assignment: it grades a student's package without importing it.

It imports only the standard library, NumPy and pytest, and only itself
otherwise (relative imports), so that a bundle can carry it without the rest of
deeplinear. Its modules:

``parts``
    The student parts, their titles and where they are.
``plugin``
    The pytest plugin: the ``part`` and ``points`` markers, the ``student``,
    ``cases`` and ``rng`` fixtures, and the judge's results.
``sandbox``, ``worker``, ``wire``
    One call of student code in a confined worker, and the plain data it
    answers with.
``jail``, ``limits``
    The allowlisted file tree a confined worker sees, and the limits on a
    whole call (its own user, a cgroup) with the cleanup after it.
``checks``
    One module per part: how an answer is compared and explained.
``cases``, ``private``
    The public cases (stored, or drawn fresh when grading) and the
    instructor's private folder (the hidden tests and the reference).
``grade``, ``submission``, ``results``
    Check and stage a submission, run the judge, collect the points and show
    them; ``__main__`` is the command line.
``autograder``
    On Gradescope or PrairieLearn: find the package in the upload, grade it,
    write the platform's results.
``public``
    The public grading tests (a release copies them to ``tests/grading``).
"""
