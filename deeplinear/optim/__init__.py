"""First-order optimizers for the factors ``W_1, ..., W_N`` of a deep linear network.

Four classic rules, written out by hand: :class:`SGD` (with optional momentum,
Nesterov momentum and dampening), :class:`Adam` (with optional AMSGrad),
:class:`AdaGrad` and :class:`AdaDelta`. Their update rules, default values and
the meaning of ``weight_decay`` (an L2 penalty added to the gradient,
``g <- g + weight_decay * p``, *not* decoupled AdamW-style decay) follow the
algorithms documented for ``torch.optim``, so results can be compared with
code written against that library. Nothing here depends on torch.

Usage::

    opt = Adam(factors, lr=1e-3)
    for _ in range(steps):
        grads = ...                  # same shapes as factors
        opt.step(grads)              # the arrays in ``factors`` change in place

Each rule is written once in NumPy, as the ``update(p, g, state)`` method of
its class: one step on one parameter array, in place. :meth:`~deeplinear.optim.Optimizer.step`
validates the gradients and calls ``update`` on every parameter. The compiled
training loop (``deeplinear.train``) runs numba twins of these methods, in
``deeplinear._kernels.optim``, which the tests check equal to them; each
class names, in ``kernel_fields`` and ``kernel_state``, what its kernel
takes. The SGD and Adam steps are parts of the course assignment (``deeplinear.assignment``).

One module per rule: ``_base`` (:class:`Optimizer` and the shared checks),
``sgd``, ``adam``, ``adagrad``, ``adadelta``.
"""

from __future__ import annotations

import inspect

from ._base import Optimizer
from .adadelta import AdaDelta
from .adagrad import AdaGrad
from .adam import Adam
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdaGrad", "AdaDelta", "make_optimizer", "optimizer_class",
           "OPTIMIZERS"]

#: Optimizer classes by the (lower-case) name accepted by :func:`make_optimizer`.
OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, AdaGrad, AdaDelta)}


def optimizer_class(name) -> type:
    """The optimizer class of a name.

    Parameters
    ----------
    name : {"sgd", "adam", "adagrad", "adadelta"}
        Case-insensitive name of the rule.

    Returns
    -------
    type
        A subclass of :class:`Optimizer`, ``OPTIMIZERS[name.lower()]``.
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in OPTIMIZERS:
        raise ValueError(
            f"optimizer: unknown name {name!r}; expected one of {sorted(OPTIMIZERS)}"
            " (and 'e2e' in deeplinear.train)"
        )
    return OPTIMIZERS[key]


def make_optimizer(name, params, **options) -> Optimizer:
    """Build an optimizer from its name, e.g. from a configuration file.

    Parameters
    ----------
    name : {"sgd", "adam", "adagrad", "adadelta"}
        Case-insensitive name of the rule.
    params : list of ndarray, shape (d_j, d_{j-1})
        Arrays updated in place; see :class:`Optimizer`.
    **options
        Keyword arguments of the chosen class, e.g. ``lr=0.1, momentum=0.9``.

    Returns
    -------
    Optimizer
    """
    cls = optimizer_class(name)
    try:
        inspect.signature(cls).bind(params, **options)
    except TypeError as exc:
        valid = [k for k in inspect.signature(cls).parameters if k != "params"]
        raise ValueError(f"options: {exc} for {cls.__name__}; its options are {valid}") from None
    return cls(params, **options)
