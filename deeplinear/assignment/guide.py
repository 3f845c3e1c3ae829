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
(`tests/grading/cases.npz`); when you hand in, the same tests run on fresh
inputs of the same shapes and kinds, so only code that computes the answers
earns points. Gradients are compared to 1e-11 relative, which an exact
formula reaches and finite differences do not. Finite differences
(`numerical_gradient`, which is itself part 1) are still the best way to
debug a gradient.

In the tests of `numerical_gradient`, `f` is a black box: each call sends
the array `f` reads to the tests, which evaluate the function and send the
value back. They see every point where `f` was evaluated (each must be `x`
with one entry moved by `+h` or `-h`), check that every entry of your result
is the centred difference of the values `f` returned there, that `x` is
restored bit for bit, and that an exception raised by `f` propagates at once.

Your functions are the library: once they pass, `train`, the main command
(`python -m deeplinear.experiments --steps 20`) and the tutorials
(`DEEPLINEAR_QUICK=1 python tutorials/01_deep_linear_networks.py`) run on
them.

## Formulas, not numerical differentiation

`loss_gradient` and `factor_gradients` ask for the gradient *formula*: the
chain rule worked out, as in each stub's hint. Differentiating numerically,
entry by entry, is not the formula and earns no points for these parts, even
where its numbers are right: centred or one-sided finite differences, the
complex step (`Im L(w + ih e_i) / h`, which is exact to rounding), calling
`numerical_gradient`, or an automatic-differentiation package. The tests
enforce this where time can tell: every test of these two parts also runs on a
wide case (the loss with `pred` and `X` of shape 500 x 200; the network with
widths 130 to 170 and depth 4). There the formula takes
milliseconds, while differentiating entry by entry re-evaluates the loss or
the whole product once or twice per entry and takes minutes, past the 10
seconds a call may take. A numerical method that happens to be fast enough
is still not the formula, and submissions may be read. Use
`numerical_gradient` (and `deeplinear.gradcheck.check_factor_gradients`) to
*check* your formulas, never in their place.

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
