"""How to train, validated once: the settings a training run takes besides its data,
start and learning rate.

:class:`RunSettings` is what ``deeplinear.train``, ``train_objective`` and
``train_lrs`` build from their keywords, and what a grid search builds once
for all its runs; :func:`deeplinear.train_runs` takes it. Every check of the
settings is made here, at construction, and the optimizer's options are
checked by the optimizer class's own checks; a ``RunSettings`` is read-only
afterwards, so what was checked is what runs.

The learning rate is not part of it: one ``RunSettings`` serves the runs at
every learning rate of a grid.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ._validation import check_depth, check_positive
from .optim import make_optimizer, optimizer_class

__all__ = ["RunSettings"]

#: Keys that an ``optimizer_options`` mapping may not hold, and where they belong.
_NOT_OPTIONS = {
    "lr": "pass lr to train() or train_objective(), or lrs to train_lrs() and train_runs()",
    "weight_decay": ("pass weight_decay to train() or to Objective: it is the penalty "
                     "weight_decay/2 sum_j ||W_j||^2 of the objective, part of the recorded loss"),
}


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The settings of training runs, checked at construction and read-only.

    Parameters
    ----------
    optimizer : {"sgd", "adam", "adagrad", "adadelta", "e2e"}, default "sgd"
        Case-insensitive; stored in lower case. ``"e2e"`` trains the
        end-to-end matrix alone (see ``deeplinear.train``).
    optimizer_options : mapping, optional
        Keyword arguments of the optimizer class (momentum, betas, ...),
        checked by building it on a 1 x 1 parameter, so that a bad value
        gets the class's own error. Not ``lr`` (each run has its own) and
        not ``weight_decay`` (the objective's: pass it to ``train()`` or
        ``Objective``); both are refused. For ``"e2e"`` the only key is
        ``depth``, an int >= 1 (default: the number of factors). None means
        no options. Stored as a read-only copy.
    steps : int
        Number of steps, >= 1.
    record_every : int, default 1
        Record the objective every this many steps (and at the last), >= 1.
    divergence_factor : float, default 1e6
        Stop and mark a run diverged when its objective exceeds this times
        its initial value, > 0.

    Raises
    ------
    ValueError
        Naming the setting (or option) and what was expected.
    """

    optimizer: str = "sgd"
    optimizer_options: Mapping = field(default_factory=dict)
    steps: int
    record_every: int = 1
    divergence_factor: float = 1e6

    def __post_init__(self):
        name = self.optimizer.lower() if isinstance(self.optimizer, str) else self.optimizer
        if name != "e2e":
            name = optimizer_class(name).name
        options = _check_options(name, self.optimizer_options)
        steps = _check_count(self.steps, "steps")
        record_every = _check_count(self.record_every, "record_every")
        divergence_factor = check_positive(self.divergence_factor, "divergence_factor")
        for key, value in (("optimizer", name), ("optimizer_options", MappingProxyType(options)),
                           ("steps", steps), ("record_every", record_every),
                           ("divergence_factor", divergence_factor)):
            object.__setattr__(self, key, value)

    def __reduce__(self):
        # A read-only mapping does not pickle; the settings are rebuilt (and
        # checked again) from a plain dict, e.g. on a grid's worker processes.
        return (_rebuild, ({"optimizer": self.optimizer,
                            "optimizer_options": dict(self.optimizer_options),
                            "steps": self.steps, "record_every": self.record_every,
                            "divergence_factor": self.divergence_factor},))


def _rebuild(kwargs) -> RunSettings:
    return RunSettings(**kwargs)


def _check_count(value, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) \
            or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)


def _check_options(name: str, options) -> dict:
    """``options`` as a new dict, checked for optimizer ``name``."""
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise ValueError(f"optimizer_options: expected a mapping of option names to values "
                         f"(or None), got {options!r}")
    options = dict(options)
    for key, where in _NOT_OPTIONS.items():
        if key in options:
            raise ValueError(f"optimizer_options: {key!r} is not an optimizer option here; {where}")
    if name == "e2e":
        valid = ["depth"]
    else:
        valid = [k for k in inspect.signature(optimizer_class(name)).parameters
                 if k not in ("params", *_NOT_OPTIONS)]
    unknown = [key for key in options if key not in valid]
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise ValueError(f"optimizer_options: {names} not accepted by optimizer {name!r}; "
                         f"its options are {valid}")
    if name == "e2e":
        if "depth" in options:
            options["depth"] = check_depth(options["depth"], "depth")
    else:  # the class's own checks, on a parameter that costs nothing
        make_optimizer(name, [np.zeros((1, 1))], lr=1.0, **options)
    return options
