"""The student guide: README.md of a release, built from the parts and regions."""

from __future__ import annotations

from .judge.parts import PARTS

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
pytest                                     # every part, with your points at the end
pytest tests/grading/test_adam.py -q       # one part
```

The public tests are a part of the grading tests; more (hidden) tests are
run when you hand in, on the same functions. The summary at the end of a
pytest run ("deeplinear grading") shows your points per part. Write plain
NumPy. The tests never import your code into their own process: each call
runs your function in a fresh Python process, without running
`deeplinear/__init__.py` (import what you use from its module, e.g.
`from deeplinear.network import factor_gradients`), so a syntax error in one
file costs only the parts that import it, and an endless loop is stopped
after 10 seconds. The expected values are stored arrays
(`tests/grading/cases.npz`); gradients are compared to 1e-11 relative, which
an exact formula reaches and finite differences do not. Finite differences
(`numerical_gradient`, which is itself part 1) are still the best way to
debug a gradient.

Your functions are the library: once they pass, `train`, the main command
(`python -m deeplinear.experiments --steps 20`) and the tutorials
(`DEEPLINEAR_QUICK=1 python tutorials/01_deep_linear_networks.py`) run on
them.

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
