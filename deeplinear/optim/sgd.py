"""Stochastic gradient descent, optionally with (Nesterov) momentum and dampening.

:class:`SGD` follows ``torch.optim.SGD``'s documented rule; its ``update``
method is a part of the course assignment (``deeplinear.assignment``, part
``sgd``), and ``deeplinear._kernels.optim.sgd_update`` is its numba twin.
"""

from __future__ import annotations

import numpy as np

from deeplinear._validation import check_nonnegative, check_positive

from ._base import Optimizer, check_flag

__all__ = ["SGD"]


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

    name = "sgd"
    hyperparameters = ("lr", "momentum", "dampening", "nesterov", "weight_decay")
    kernel_fields = ("lr", "momentum", "dampening", "nesterov", "weight_decay")
    kernel_state = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0, dampening=0, nesterov=False, weight_decay=0):
        super().__init__(params)
        self.lr = check_positive(lr, "lr")
        self.momentum = check_nonnegative(momentum, "momentum")
        self.dampening = check_nonnegative(dampening, "dampening")
        self.nesterov = check_flag(nesterov, "nesterov")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"nesterov: Nesterov momentum requires momentum > 0 and dampening == 0, "
                f"got momentum={self.momentum!r}, dampening={self.dampening!r}"
            )
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
