"""What identifies a configuration of a grid, in one place.

A *configuration* is what the runs that differ only in learning rate and seed
share: the architecture, the initializer, the optimizer with its options, the
weight decay and the loss. :class:`Configuration` gives its identifying
columns (the columns of ``Results.runs`` and ``curves.csv``, and the key of
``Results.best``) and :func:`label` the words that tell configurations
apart in the table, the acceleration verdict, the notes and the plots.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import arch_name

__all__ = ["Configuration", "KEY", "QUALIFIERS", "varying", "label"]

#: The columns that identify a configuration (``Results.best`` groups by them).
KEY = ("arch", "init", "optimizer", "options", "weight_decay", "loss")
#: The columns besides the architecture that tell configurations apart, in the
#: order a label names them.
QUALIFIERS = ("loss", "init", "optimizer", "options", "weight_decay")


@dataclass(frozen=True)
class Configuration:
    """One configuration: runs that differ only in lr and seed.

    Attributes
    ----------
    hidden : tuple of int
    init, optimizer, loss : str
    options : tuple of (str, object)
        The optimizer's options, sorted by name (empty: its defaults).
    weight_decay : float
    """

    hidden: tuple
    init: str
    optimizer: str
    loss: str
    options: tuple = ()
    weight_decay: float = 0.0

    def columns(self) -> dict:
        """The identifying columns of its runs: arch, hidden, depth, init,
        optimizer, options (``"eps=1e-08, rho=0.95"``; ``""`` for the
        defaults), weight_decay and loss."""
        return {"arch": arch_name(self.hidden), "hidden": self.hidden,
                "depth": len(self.hidden) + 1, "init": self.init, "optimizer": self.optimizer,
                "options": ", ".join(f"{key}={value!r}" for key, value in self.options),
                "weight_decay": self.weight_decay, "loss": self.loss}


def varying(frame) -> list:
    """The columns of ``QUALIFIERS`` whose values differ between the rows of
    ``frame`` (a runs table, or ``Results.best()``)."""
    return [c for c in QUALIFIERS if frame[c].nunique() > 1]


def label(row, columns) -> str:
    """``row``'s values of ``columns`` (those of ``varying``), as words: e.g.
    ``"adadelta, eps=1e-08, rho=0.95, weight decay 0.001"``; ``""`` for none.
    An empty options text (the optimizer's defaults) says nothing."""
    words = []
    for c in columns:
        value = row[c]
        if c == "weight_decay":
            words.append(f"weight decay {value:g}")
        elif value != "":
            words.append(str(value))
    return ", ".join(words)
