"""A grid, checked once: the frozen :class:`GridSpec` that planning and execution read.

A *grid* is a dict of :func:`~deeplinear.experiments.grid_search` keywords
(``GRID_KEYS``; a preset's grid is one). :func:`check_grid` turns it into a
``GridSpec`` before any run starts, or raises a ``ValueError`` naming the
first bad value. The checks are the library's own, not copies of them:

- a loss name must pass ``deeplinear.losses.get_loss``;
- each optimizer, with the grid's ``optimizer_options``, ``steps``,
  ``record_every`` and ``divergence_factor``, must make a
  ``deeplinear.RunSettings`` (which checks the options by building the
  optimizer on a dummy 1x1 parameter); the spec keeps one per optimizer,
  and every run of that optimizer trains with it;
- learning rates and ``weight_decay`` go through the checks that training
  applies to them (finite and > 0; finite and >= 0).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .._validation import check_nonnegative, check_positive
from ..init import INITIALIZERS
from ..losses import get_loss
from ..optim import OPTIMIZERS
from ..run_settings import RunSettings

__all__ = ["GridSpec", "check_grid", "GRID_KEYS", "GRID_DEFAULTS", "GRID_OPTIMIZERS",
           "REPORT_LRS", "REPORT_HIDDEN", "arch_name", "parse_hidden", "parse_architectures",
           "init_name", "data_arrays"]

#: The learning-rate grid of the report (Levy & Wang, 2024).
REPORT_LRS = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2)
#: The report's architectures, as hidden widths ([] is linear regression).
REPORT_HIDDEN = ((), (1,), (10,), (64,), (1, 1), (10, 10), (64, 64))
#: Optimizers a grid accepts: the built-in ones and the closed form "e2e".
GRID_OPTIMIZERS = (*OPTIMIZERS, "e2e")
#: The keywords of ``grid_search`` that describe a grid, with their defaults
#: (a key missing from a grid takes its default).
GRID_DEFAULTS = dict(hidden=((),), init="default", optimizer="sgd", loss="l2", steps=100,
                     lrs=REPORT_LRS, seeds=(0, 1, 2), weight_decay=0.0, record_every=None,
                     divergence_factor=1e6, optimizer_options=None)
#: The keys a grid may hold.
GRID_KEYS = tuple(GRID_DEFAULTS)


def arch_name(hidden) -> str:
    """``(10, 10) -> "[10,10]"``, ``() -> "[]"``."""
    return "[" + ",".join(str(int(h)) for h in hidden) + "]"


def parse_hidden(text) -> tuple:
    """One architecture: ``"[10,10]"``, ``"10,10"``, ``"10 10"``, ``"[]"`` or
    ``[10, 10]`` -> ``(10, 10)`` / ``()``.

    Raises
    ------
    ValueError
        Naming ``hidden`` and the text, if it is not a list of positive integers.
    """
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        body = str(text).strip()
        if body.startswith("[") and body.endswith("]"):
            body = body[1:-1]
        items = body.replace(",", " ").split()
    widths = []
    for item in items:
        try:
            width = int(item)
            if isinstance(item, float) and width != item:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(
                f"hidden: expected a list of positive integer widths such as [10,10] or [], "
                f"got {text!r}") from None
        if width < 1:
            raise ValueError(f"hidden: widths must be >= 1, got {text!r}")
        widths.append(width)
    return tuple(widths)


def parse_architectures(hidden) -> tuple:
    """The architectures of a grid, duplicates dropped: a string (``"[10]"``) is one
    architecture, any other sequence holds one per item (each a string or a sequence
    of widths).

    Returns
    -------
    tuple of tuple of int

    Raises
    ------
    ValueError
        Naming ``hidden``: none given, an item that is a bare number (``[10]``
        would be ambiguous: write ``[[10]]`` or ``"[10]"``), or a bad width.
    """
    if isinstance(hidden, str):
        items = [hidden]
    else:
        try:
            items = list(hidden)
        except TypeError:
            raise ValueError(f"hidden: expected architectures such as [[], [10]] or '[10,10]', "
                             f"got {hidden!r}") from None
    for item in items:
        if isinstance(item, (int, float, np.number)):
            raise ValueError(
                f"hidden: expected architectures, each a list of widths or a string such as "
                f"'[10,10]', got the number {item!r}; one hidden layer of width {item!r} is "
                f"[[{item!r}]] or '[{item!r}]'")
    archs = tuple(dict.fromkeys(parse_hidden(item) for item in items))
    if not archs:
        raise ValueError("hidden: expected at least one architecture")
    return archs


def data_arrays(data):
    """``(X, Y, name)`` of a Dataset (its ``X``, ``Y``, ``name``) or an ``(X, Y)`` tuple
    (name ``"data"``)."""
    if isinstance(data, tuple) and len(data) == 2:
        X, Y = data
        return np.asarray(X, dtype=float), np.asarray(Y, dtype=float), "data"
    if hasattr(data, "X") and hasattr(data, "Y"):
        return data.X, data.Y, getattr(data, "name", "data")
    raise ValueError(f"data: expected a Dataset or an (X, Y) tuple, got {type(data).__name__}")


@dataclass(frozen=True)
class GridSpec:
    """A checked grid: every value normalized, nothing left to validate.

    Attributes
    ----------
    hidden : tuple of tuple of int
        The architectures, as hidden widths.
    init, optimizer, loss : tuple of str
        Lower-case names (``init`` with ``_``, as in ``deeplinear.init.INITIALIZERS``).
    lrs : tuple of float
    seeds : tuple of int
    weight_decay : float
        The objective's penalty ``weight_decay / 2 sum_j ||W_j||^2``.
    settings : tuple of deeplinear.RunSettings
        One per optimizer, in the order of ``optimizer``: the optimizer, its
        options, steps, record_every and divergence_factor of its runs.
    """

    hidden: tuple
    init: tuple
    optimizer: tuple
    loss: tuple
    lrs: tuple
    seeds: tuple
    weight_decay: float
    settings: tuple

    @property
    def steps(self) -> int:
        return self.settings[0].steps

    @property
    def record_every(self) -> int:
        return self.settings[0].record_every

    @property
    def optimizer_options(self) -> tuple:
        """The optimizer's options, as (name, value) pairs sorted by name."""
        return tuple(sorted(self.settings[0].optimizer_options.items()))

    @property
    def combos(self) -> list:
        """The (hidden, init, settings, loss, seed) combinations, in grid order."""
        return list(itertools.product(self.hidden, self.init, self.settings, self.loss,
                                      self.seeds))

    def config(self) -> dict:
        """The grid's part of ``Results.config``: steps, lrs, seeds, weight_decay,
        record_every and, if any, optimizer_options."""
        config = {"steps": self.steps, "lrs": list(self.lrs), "seeds": list(self.seeds),
                  "weight_decay": self.weight_decay, "record_every": self.record_every}
        if self.optimizer_options:
            config["optimizer_options"] = dict(self.optimizer_options)
        return config


def check_grid(grid) -> GridSpec:
    """A grid (a dict of keywords from ``GRID_KEYS``, e.g. a preset's), checked and
    normalized before any run. A ``GridSpec`` is returned as it is: it was
    checked when it was made, so a grid checked once can be passed on
    (``run_grids``, ``estimate_grids_seconds``) without a second check.

    Raises
    ------
    ValueError
        Naming the first bad value or unknown key.
    """
    if isinstance(grid, GridSpec):
        return grid
    if not isinstance(grid, dict):
        raise ValueError(f"grid: expected a dict of grid_search keywords, got {grid!r}")
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise ValueError(f"grid: unknown keys {unknown}; expected some of {list(GRID_KEYS)}")
    g = {**GRID_DEFAULTS, **grid}
    record_every = g["record_every"]
    if record_every is None:  # about 1000 points per curve
        steps = g["steps"]
        record_every = (max(1, steps // 1000) if isinstance(steps, (int, np.integer))
                        and not isinstance(steps, bool) else 1)
    settings = tuple(RunSettings(optimizer=name, optimizer_options=g["optimizer_options"],
                                 steps=g["steps"], record_every=record_every,
                                 divergence_factor=g["divergence_factor"])
                     for name in _as_names(g["optimizer"], "optimizer", _optimizer_name))
    return GridSpec(
        hidden=parse_architectures(g["hidden"]),
        init=_as_names(g["init"], "init", init_name),
        optimizer=tuple(s.optimizer for s in settings),
        loss=_as_names(g["loss"], "loss", _loss_name),
        lrs=tuple(dict.fromkeys(check_positive(v, "lrs") for v in _values(g["lrs"], "lrs"))),
        seeds=_as_seeds(g["seeds"]),
        weight_decay=check_nonnegative(g["weight_decay"], "weight_decay"),
        settings=settings)


def _values(values, what):
    values = [values] if np.isscalar(values) else list(values)
    if not values:
        raise ValueError(f"{what}: expected at least one value")
    return values


def _as_names(value, what, check):
    names = []
    for v in _values(value, what):
        if not isinstance(v, str):
            raise ValueError(f"{what}: expected a name, got {v!r}")
        names.append(check(v))
    return tuple(dict.fromkeys(names))


def init_name(name) -> str:
    """The initializer's name in ``deeplinear.init.INITIALIZERS`` (lower case, ``-``
    read as ``_``: ``"Near-Zero"`` -> ``"near_zero"``).

    Raises
    ------
    ValueError
        Naming ``init``, if there is no such initializer.
    """
    key = name.lower().replace("-", "_") if isinstance(name, str) else None
    if key not in INITIALIZERS:
        raise ValueError(f"init: unknown {name!r}; expected one of {sorted(INITIALIZERS)}")
    return key


def _optimizer_name(name):
    if name.lower() not in GRID_OPTIMIZERS:
        raise ValueError(f"optimizer: unknown {name!r}; expected one of {sorted(GRID_OPTIMIZERS)}")
    return name.lower()


def _loss_name(name):
    """``name`` lowercased, if the losses accept it (their own check: ``get_loss``)."""
    get_loss(name)
    return name.lower()


def _as_seeds(values):
    for v in _values(values, "seeds"):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"seeds: expected non-negative integers, got {v!r}")
    return tuple(dict.fromkeys(int(v) for v in _values(values, "seeds")))
