"""Experiments: ``python -m deeplinear.experiments``.

With no data set named, a synthetic teacher-student regression is trained by
networks of depth 1, 2 and 3 from the same balanced start (the same ``W_e``),
on the l2 loss and on the l4 loss for which Arora, Cohen & Hazan (2018)
report acceleration by depth. It prints a table and writes a figure.
"""

from .synthetic import run_synthetic

__all__ = ["run_synthetic"]
