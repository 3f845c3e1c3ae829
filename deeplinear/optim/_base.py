"""The base class of the optimizers and the checks they share.

:class:`Optimizer` holds the parameters, their state and the step count;
:meth:`~deeplinear.optim.Optimizer.step` validates the gradients and calls the rule's
``update`` on every parameter. A rule is a subclass that validates its
hyperparameters into attributes, lists their names in ``hyperparameters``,
creates its state arrays, and writes ``update`` (the rule, in NumPy). For the
compiled training loop it names, in ``kernel_fields`` and ``kernel_state``,
the hyperparameters and state arrays that the rule's numba twin takes, by the
names of that kernel's parameters; the loop reads them by those names.
"""

from __future__ import annotations

import numpy as np

from deeplinear._validation import as_array_list, as_matrix, check_nonnegative

__all__ = ["Optimizer", "check_params", "check_flag", "check_unit_interval", "with_weight_decay"]


def check_params(params) -> list[np.ndarray]:
    """``params`` as a list of distinct, writeable, C-contiguous float64 2-D arrays.

    Parameters
    ----------
    params : list of ndarray, shape (d_j, d_{j-1})

    Returns
    -------
    list of ndarray
        The same array objects (never copies: the optimizer updates them in place).
    """
    params = as_array_list(params, "params")
    if not params:
        raise ValueError("params: expected at least one array to optimize, got none")
    for j, W in enumerate(params):
        name = f"params[{j}] (W_{j + 1})"
        as_matrix(W, name)  # ndarray, float, 2-D, non-empty, finite
        if W.dtype != np.float64 or not W.flags.c_contiguous or not W.flags.writeable:
            raise ValueError(
                f"{name}: expected a writeable C-contiguous float64 array, got dtype "
                f"{W.dtype}, C-contiguous={W.flags.c_contiguous}, "
                f"writeable={W.flags.writeable}; step() updates the arrays in place, "
                f"so a converted copy would be updated and then lost. Pass "
                f"np.ascontiguousarray(W, dtype=float) and keep that array"
            )
        if any(W is V for V in params[:j]):
            raise ValueError(f"{name}: the same array appears twice in params")
    return params


def check_flag(value, name: str) -> bool:
    """``value`` as a bool; only ``True`` and ``False`` (NumPy's too) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def check_unit_interval(value, name: str, *, closed: bool) -> float:
    """``value`` as a float in [0, 1] (``closed``) or [0, 1)."""
    value = check_nonnegative(value, name)
    if value > 1.0 or (value == 1.0 and not closed):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name}: expected a value in {interval}, got {value!r}")
    return value


def with_weight_decay(g, p, weight_decay):
    """The gradient with torch's L2 term: ``g + weight_decay * p``, or ``g`` itself at 0.

    Used by AdaGrad and AdaDelta; SGD and Adam add the term inside their own
    ``update`` (parts of the course assignment, which the students write).

    Parameters
    ----------
    g, p : ndarray, shape (d_j, d_{j-1})
        The gradient and the parameter; neither is modified.
    weight_decay : float

    Returns
    -------
    ndarray, shape (d_j, d_{j-1})
    """
    return g + weight_decay * p if weight_decay != 0 else g


class Optimizer:
    """Common base: holds the parameters, per-parameter state and step count.

    Parameters
    ----------
    params : list of ndarray, shape (d_j, d_{j-1})
        The arrays to optimize, typically the factors ``[W_1, ..., W_N]``.
        Each must be a writeable, C-contiguous float64 2-D array: :meth:`~deeplinear.optim.Optimizer.step`
        changes these very objects in place.

    Attributes
    ----------
    params : list of ndarray
        The same array objects that were passed in.
    state : list of dict of str to ndarray
        ``state[j]`` holds the state arrays of ``params[j]`` (same shape,
        float64), created at construction and updated in place.
    t : int
        Number of steps taken so far (0 before the first :meth:`~deeplinear.optim.Optimizer.step`).
    defaults : dict
        The validated hyperparameters by name, read from the attributes
        named in ``hyperparameters``.
    name : str
        The rule's name in ``OPTIMIZERS`` (class attribute).
    hyperparameters : tuple of str
        The attributes holding the hyperparameters, in the constructor's
        order (class attribute).
    kernel_fields : tuple of str
        The hyperparameters that the rule's kernel
        (``deeplinear._kernels.optim.<name>_update``) takes, by the names of
        its parameters, each an attribute of the optimizer (class attribute;
        empty for a rule without a kernel).
    kernel_state : tuple of str
        The state arrays that kernel takes, by the names of its parameters,
        which are the keys of ``state[j]`` (class attribute). A key the
        options leave out of ``state`` (SGD's momentum buffer without
        momentum) is one the kernel then never touches.
    """

    name: str = ""
    hyperparameters: tuple[str, ...] = ()
    kernel_fields: tuple[str, ...] = ()
    kernel_state: tuple[str, ...] = ()

    def __init__(self, params):
        self.params = check_params(params)
        self.state = [{} for _ in self.params]
        self.t = 0

    @property
    def defaults(self) -> dict:
        return {key: getattr(self, key) for key in self.hyperparameters}

    def step(self, grads) -> None:
        """Update every parameter in place from its gradient.

        Parameters
        ----------
        grads : list of ndarray, shape (d_j, d_{j-1})
            ``grads[j]`` is the gradient of the loss with respect to
            ``params[j]``. Floating arrays of any precision are accepted.
            NaN or infinite entries are *not* rejected: they propagate into
            the parameters, and detecting divergence is the caller's job.
        """
        grads = self._check_grads(grads)
        self.t += 1
        # Overflow or inf/inf in a diverging run must not raise here (it only
        # could when numba's JIT is disabled and NumPy scalars do the maths).
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for p, g, state in zip(self.params, grads, self.state):
                self.update(p, g, state)

    def _check_grads(self, grads) -> list[np.ndarray]:
        if isinstance(grads, np.ndarray):
            raise ValueError("grads: expected a list of arrays, one per parameter")
        try:
            grads = list(grads)
        except TypeError:
            raise ValueError(
                f"grads: expected a list of arrays, got {type(grads).__name__}"
            ) from None
        if len(grads) != len(self.params):
            raise ValueError(
                f"grads: expected {len(self.params)} gradients (one per parameter), "
                f"got {len(grads)}"
            )
        out = []
        for j, (g, p) in enumerate(zip(grads, self.params)):
            g = as_matrix(g, f"grads[{j}]", allow_nonfinite=True)
            if g.shape != p.shape:
                raise ValueError(
                    f"grads[{j}]: has shape {g.shape}, expected {p.shape} "
                    f"(the shape of params[{j}])"
                )
            out.append(g)
        return out

    def update(self, p, g, state) -> None:
        """Apply one step of the rule to one parameter, in place.

        Parameters
        ----------
        p : ndarray, shape (d_j, d_{j-1})
            The parameter, updated in place.
        g : ndarray, shape (d_j, d_{j-1})
            Its gradient (float64); not modified.
        state : dict of str to ndarray
            Its state arrays (same shape as ``p``), updated in place.

        Uses ``self.t``, the 1-based number of the step being taken, and the
        optimizer's hyperparameters.
        """
        raise NotImplementedError

    def kernel_hyperparameters(self) -> dict:
        """The hyperparameters of the rule's kernel, by the names in ``kernel_fields``.

        Returns
        -------
        dict of str to float or bool
            Plain Python values (the optimizers need no numba); the compiled
            loop (``deeplinear._compiled``) packs them by name.
        """
        return {key: getattr(self, key) for key in self.kernel_fields}

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({options}, t={self.t})"
