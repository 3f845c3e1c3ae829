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
its class: one step on one parameter array, in place. :meth:`Optimizer.step`
validates the gradients and calls ``update`` on every parameter. The compiled
training loop (``deeplinear.train``) runs numba twins of these methods, in
``deeplinear._kernels.optim``, which the tests check equal to them. The SGD
and Adam steps are parts of the course assignment (``deeplinear.assignment``).
"""

from __future__ import annotations

import inspect

import numpy as np

from deeplinear._validation import as_array_list, as_matrix, check_nonnegative, check_positive

__all__ = ["Optimizer", "SGD", "Adam", "AdaGrad", "AdaDelta", "make_optimizer", "OPTIMIZERS"]

def _check_params(params) -> list[np.ndarray]:
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


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _check_unit_interval(value, name: str, *, closed: bool) -> float:
    value = check_nonnegative(value, name)
    if value > 1.0 or (value == 1.0 and not closed):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name}: expected a value in {interval}, got {value!r}")
    return value


class Optimizer:
    """Common base: holds the parameters, per-parameter state and step count.

    Parameters
    ----------
    params : list of ndarray, shape (d_j, d_{j-1})
        The arrays to optimize, typically the factors ``[W_1, ..., W_N]``.
        Each must be a writeable, C-contiguous float64 2-D array: :meth:`step`
        changes these very objects in place.

    Attributes
    ----------
    params : list of ndarray
        The same array objects that were passed in.
    state : list of dict of str to ndarray
        ``state[j]`` holds the state arrays of ``params[j]`` (same shape,
        float64), created at construction and updated in place.
    t : int
        Number of steps taken so far (0 before the first :meth:`step`).
    defaults : dict
        The validated hyperparameters.
    """

    def __init__(self, params):
        self.params = _check_params(params)
        self.state = [{} for _ in self.params]
        self.t = 0
        self.defaults = {}

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

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({options}, t={self.t})"


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    Parameters
    ----------
    params : list of ndarray, shape (d_j, d_{j-1})
        Arrays updated in place; see :class:`Optimizer`.
    lr : float
        Learning rate :math:`\gamma > 0`.
    momentum : float, default 0
        Momentum factor :math:`\mu \ge 0`; 0 disables the momentum buffer.
    dampening : float, default 0
        Dampening :math:`\tau \ge 0` of the gradient entering the buffer.
    nesterov : bool, default False
        Use Nesterov momentum; requires ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float, default 0
        L2 coefficient :math:`\lambda \ge 0` added to the gradient.

    Notes
    -----
    State per parameter: ``momentum_buffer`` (only when ``momentum > 0``).

    Equations::

        g <- g + lambda * p                          (if lambda != 0)
        b <- g                                       (t = 1)
        b <- mu * b + (1 - tau) * g                  (t > 1)
        g <- g + mu * b  if nesterov  else  g <- b   (if mu != 0)
        p <- p - gamma * g

    References
    ----------
    .. [1] PyTorch documentation, ``torch.optim.SGD``,
       https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
    .. [2] I. Sutskever, J. Martens, G. Dahl, G. Hinton, "On the importance of
       initialization and momentum in deep learning", ICML 2013.
    """

    def __init__(self, params, lr, momentum=0, dampening=0, nesterov=False, weight_decay=0):
        super().__init__(params)
        self.lr = check_positive(lr, "lr")
        self.momentum = check_nonnegative(momentum, "momentum")
        self.dampening = check_nonnegative(dampening, "dampening")
        self.nesterov = _check_flag(nesterov, "nesterov")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"nesterov: Nesterov momentum requires momentum > 0 and dampening == 0, "
                f"got momentum={self.momentum!r}, dampening={self.dampening!r}"
            )
        self.defaults = dict(lr=self.lr, momentum=self.momentum, dampening=self.dampening,
                             nesterov=self.nesterov, weight_decay=self.weight_decay)
        if self.momentum != 0:
            for p, state in zip(self.params, self.state):
                state["momentum_buffer"] = np.zeros_like(p)

    def update(self, p, g, state):
        """One SGD step on one parameter, in place (``torch.optim.SGD``'s rule).

        Parameters
        ----------
        p : ndarray, shape (d_j, d_{j-1})
            The parameter, updated in place.
        g : ndarray, shape (d_j, d_{j-1})
            Its gradient; not modified.
        state : dict
            ``{"momentum_buffer": buf}`` when ``momentum > 0`` (``buf`` shaped
            like ``p``, updated in place), else empty.

        Notes
        -----
        With ``t = self.t`` (1-based) and the hyperparameters of the optimizer:

        Equations::

            g <- g + weight_decay * p                  (if weight_decay != 0)
            buf <- g                                   (t = 1)
            buf <- momentum * buf + (1 - dampening) * g  (t > 1)
            g <- g + momentum * buf  if nesterov  else  g <- buf   (if momentum != 0)
            p <- p - lr * g
        """
        # BEGIN SOLUTION sgd: g <- g + wd p; with momentum mu: buf <- g at step t = 1, else mu buf + (1
        #   - dampening) g; then g <- g + mu buf (nesterov) or buf; finally p <- p - lr g, all in place
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            buf = state["momentum_buffer"]
            if self.t == 1:
                buf[...] = g
            else:
                buf[...] = self.momentum * buf + (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g
        # END SOLUTION


class Adam(Optimizer):
    r"""Adam, optionally in its AMSGrad variant.

    Parameters
    ----------
    params : list of ndarray, shape (d_j, d_{j-1})
        Arrays updated in place; see :class:`Optimizer`.
    lr : float, default 1e-3
        Learning rate :math:`\gamma > 0`.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)`, each in [0, 1), of the first
        and second moment estimates.
    eps : float, default 1e-8
        Term :math:`\epsilon \ge 0` added to the denominator.
    weight_decay : float, default 0
        L2 coefficient :math:`\lambda \ge 0` added to the gradient.
    amsgrad : bool, default False
        Divide by the running maximum of the second moment instead of the
        second moment itself.

    Notes
    -----
    State per parameter: ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with
    AMSGrad, ``max_exp_avg_sq`` (vmax). The denominator is formed as
    ``sqrt(v) / sqrt(1 - beta2^t) + eps`` as in the torch implementation.
    For :math:`|g| \gg \epsilon` the first step is ``-lr * sign(g)``.

    Equations::

        g    <- g + lambda * p                          (if lambda != 0)
        m    <- beta1 * m + (1 - beta1) * g
        v    <- beta2 * v + (1 - beta2) * g**2
        vmax <- max(vmax, v);  v_used = vmax if amsgrad else v
        p    <- p - gamma / (1 - beta1**t) * m / (sqrt(v_used) / sqrt(1 - beta2**t) + eps)

    References
    ----------
    .. [1] PyTorch documentation, ``torch.optim.Adam``,
       https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
    .. [2] D. P. Kingma, J. Ba, "Adam: A method for stochastic optimization",
       ICLR 2015.
    .. [3] S. J. Reddi, S. Kale, S. Kumar, "On the convergence of Adam and
       beyond", ICLR 2018.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False):
        super().__init__(params)
        self.lr = check_positive(lr, "lr")
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (_check_unit_interval(beta1, "betas[0]", closed=False),
                      _check_unit_interval(beta2, "betas[1]", closed=False))
        self.eps = check_nonnegative(eps, "eps")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.amsgrad = _check_flag(amsgrad, "amsgrad")
        self.defaults = dict(lr=self.lr, betas=self.betas, eps=self.eps,
                             weight_decay=self.weight_decay, amsgrad=self.amsgrad)
        for p, state in zip(self.params, self.state):
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p)

    def update(self, p, g, state):
        """One Adam (or AMSGrad) step on one parameter, in place (``torch.optim.Adam``'s rule).

        Parameters
        ----------
        p : ndarray, shape (d_j, d_{j-1})
            The parameter, updated in place.
        g : ndarray, shape (d_j, d_{j-1})
            Its gradient; not modified.
        state : dict
            ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with AMSGrad,
            ``max_exp_avg_sq`` (vmax), each shaped like ``p``, updated in place.

        Notes
        -----
        With ``t = self.t`` (1-based), ``(beta1, beta2) = self.betas``:

        Equations::

            g    <- g + weight_decay * p                   (if weight_decay != 0)
            m    <- beta1 * m + (1 - beta1) * g
            v    <- beta2 * v + (1 - beta2) * g**2
            vmax <- max(vmax, v);  v_used = vmax if amsgrad else v
            p    <- p - lr / (1 - beta1**t) * m / (sqrt(v_used) / sqrt(1 - beta2**t) + eps)

        The maximum propagates NaN like ``np.maximum``.
        """
        # BEGIN SOLUTION adam: g <- g + wd p; m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; vmax <-
        #   max(vmax, v) if amsgrad; p <- p - lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) +
        #   eps), all in place
        beta1, beta2 = self.betas
        t = self.t
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        if self.amsgrad:
            vmax = state["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v_used = vmax
        else:
            v_used = v
        denom = np.sqrt(v_used) / np.sqrt(1 - beta2 ** t) + self.eps
        p -= self.lr / (1 - beta1 ** t) * (m / denom)
        # END SOLUTION


class AdaGrad(Optimizer):
    r"""AdaGrad: per-entry step sizes from the sum of squared gradients.

    Parameters
    ----------
    params : list of ndarray, shape (d_j, d_{j-1})
        Arrays updated in place; see :class:`Optimizer`.
    lr : float, default 1e-2
        Learning rate :math:`\gamma > 0`.
    lr_decay : float, default 0
        :math:`\eta \ge 0`; step ``t`` uses ``lr / (1 + (t - 1) * lr_decay)``.
    weight_decay : float, default 0
        L2 coefficient :math:`\lambda \ge 0` added to the gradient.
    initial_accumulator_value : float, default 0
        Starting value :math:`\ge 0` of every entry of the accumulator.
    eps : float, default 1e-10
        Term :math:`\epsilon \ge 0` added to the denominator.

    Notes
    -----
    State per parameter: ``sum``.

    Equations::

        clr <- gamma / (1 + (t - 1) * eta)
        g   <- g + lambda * p                       (if lambda != 0)
        sum <- sum + g**2
        p   <- p - clr * g / (sqrt(sum) + eps)

    References
    ----------
    .. [1] PyTorch documentation, ``torch.optim.Adagrad``,
       https://pytorch.org/docs/stable/generated/torch.optim.Adagrad.html
    .. [2] J. Duchi, E. Hazan, Y. Singer, "Adaptive subgradient methods for
       online learning and stochastic optimization", JMLR 12, 2011.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10):
        super().__init__(params)
        self.lr = check_positive(lr, "lr")
        self.lr_decay = check_nonnegative(lr_decay, "lr_decay")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.initial_accumulator_value = check_nonnegative(
            initial_accumulator_value, "initial_accumulator_value")
        self.eps = check_nonnegative(eps, "eps")
        self.defaults = dict(lr=self.lr, lr_decay=self.lr_decay,
                             weight_decay=self.weight_decay,
                             initial_accumulator_value=self.initial_accumulator_value,
                             eps=self.eps)
        for p, state in zip(self.params, self.state):
            state["sum"] = np.full_like(p, self.initial_accumulator_value)

    def update(self, p, g, state):
        """One AdaGrad step on one parameter, in place (``torch.optim.Adagrad``'s rule).

        ``state["sum"]`` (shaped like ``p``) accumulates the squared
        gradients; see the class Notes for the equations. Uses ``self.t``.
        """
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        clr = self.lr / (1 + (self.t - 1) * self.lr_decay)
        state_sum = state["sum"]
        state_sum += g * g
        p -= clr * (g / (np.sqrt(state_sum) + self.eps))


class AdaDelta(Optimizer):
    r"""AdaDelta: step sizes from running averages of squared gradients and updates.

    Parameters
    ----------
    params : list of ndarray, shape (d_j, d_{j-1})
        Arrays updated in place; see :class:`Optimizer`.
    lr : float, default 1.0
        Factor :math:`\gamma > 0` scaling the update.
    rho : float, default 0.9
        Decay rate :math:`\rho \in [0, 1]` of both running averages.
    eps : float, default 1e-6
        Term :math:`\epsilon \ge 0` added inside both square roots.
    weight_decay : float, default 0
        L2 coefficient :math:`\lambda \ge 0` added to the gradient.

    Notes
    -----
    State per parameter: ``square_avg`` (v) and ``acc_delta`` (u).

    Equations::

        g  <- g + lambda * p                        (if lambda != 0)
        v  <- rho * v + (1 - rho) * g**2
        dx <- sqrt(u + eps) / sqrt(v + eps) * g
        u  <- rho * u + (1 - rho) * dx**2
        p  <- p - gamma * dx

    References
    ----------
    .. [1] PyTorch documentation, ``torch.optim.Adadelta``,
       https://pytorch.org/docs/stable/generated/torch.optim.Adadelta.html
    .. [2] M. D. Zeiler, "ADADELTA: An adaptive learning rate method",
       arXiv:1212.5701, 2012.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        super().__init__(params)
        self.lr = check_positive(lr, "lr")
        self.rho = _check_unit_interval(rho, "rho", closed=True)
        self.eps = check_nonnegative(eps, "eps")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.defaults = dict(lr=self.lr, rho=self.rho, eps=self.eps,
                             weight_decay=self.weight_decay)
        for p, state in zip(self.params, self.state):
            state["square_avg"] = np.zeros_like(p)
            state["acc_delta"] = np.zeros_like(p)

    def update(self, p, g, state):
        """One AdaDelta step on one parameter, in place (``torch.optim.Adadelta``'s rule).

        ``state["square_avg"]`` (v) and ``state["acc_delta"]`` (u), shaped
        like ``p``, are the running averages of the squared gradients and
        updates; see the class Notes for the equations. No step count is used.
        """
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg[...] = self.rho * square_avg + (1 - self.rho) * g * g
        dx = np.sqrt(acc_delta + self.eps) / np.sqrt(square_avg + self.eps) * g
        acc_delta[...] = self.rho * acc_delta + (1 - self.rho) * dx * dx
        p -= self.lr * dx


#: Optimizer classes by the (lower-case) name accepted by :func:`make_optimizer`.
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adagrad": AdaGrad, "adadelta": AdaDelta}


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
    key = name.lower() if isinstance(name, str) else None
    if key not in OPTIMIZERS:
        raise ValueError(
            f"optimizer: unknown name {name!r}; expected one of {sorted(OPTIMIZERS)}"
            " (and 'e2e' in deeplinear.train)"
        )
    cls = OPTIMIZERS[key]
    try:
        inspect.signature(cls).bind(params, **options)
    except TypeError as exc:
        valid = [k for k in inspect.signature(cls).parameters if k != "params"]
        raise ValueError(f"options: {exc} for {cls.__name__}; its options are {valid}") from None
    return cls(params, **options)
