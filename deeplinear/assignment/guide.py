"""The student guide: README.md of a release, built from the parts and regions."""

from __future__ import annotations

from .parts import PARTS

__all__ = ["student_readme"]

_INTRO = """\
# deeplinear: the assignment

This is a student version of deeplinear, a from-scratch implementation of
deep linear networks (Arora, Cohen & Hazan, "On the Optimization of Deep
Networks: Implicit Acceleration by Overparameterization", ICML 2018). Some
functions have been emptied: each raises `NotImplementedError` with a short
description of what to implement and the formula. Your job is to write them.

Conventions used everywhere: `W_j` has shape `(d_j, d_{j-1})`, the network
is `factors = [W_1, ..., W_N]`, and `W_e = W_N ... W_1` has shape
`(d_N, d_0)`. Data `X` is `(n, d_0)`, targets `Y` are `(n, d_N)`, and the
predictions are `X @ W_e.T`.

## Set-up

```bash
pip install -e ".[test]"
```

## Checking your work

```bash
pytest tests/grading                       # every part
pytest tests/grading/test_adam.py -q       # one part
```

The public tests are a part of the grading tests; more (hidden) tests are
run when you hand in, on the same functions. The summary at the end of a
pytest run ("deeplinear grading") shows your points per part. Write plain
NumPy: the tests call your functions directly, and a finite-difference check
(`numerical_gradient`, which is itself part 1) is the best way to debug a
gradient.

The grader imports each module on its own, without running
`deeplinear/__init__.py`, so import what you use from its module, e.g.
`from deeplinear.end_to_end import e2e_update_reference` (note that
`from deeplinear import end_to_end` gives the *function* `end_to_end`, not
the module). A syntax error in one file costs only the parts that import it.

## The parts
"""


def student_readme(regions) -> str:
    """Markdown: set-up, how to check, and each part with where and what."""
    lines = [_INTRO]
    for number, part in enumerate(PARTS.values(), start=1):
        lines.append(f"### {number}. {part.title} (`{part.name}`)\n")
        lines.append(f"Where: `{part.where}`.\n")
        for region in regions:
            if region.part == part.name:
                lines.append(f"- in `{region.file}`: {region.hint}")
        lines.append(f"\nTests: `tests/grading/test_{part.name}.py`.\n")
    return "\n".join(lines)
