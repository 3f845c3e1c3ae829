"""AdaDelta: step sizes from running averages of squared gradients and updates.

:class:`AdaDelta` follows ``torch.optim.Adadelta``'s documented rule;
``deeplinear._kernels.optim.adadelta_update`` is the numba twin of its
``update`` method.
"""

from __future__ import annotations

import numpy as np

from deeplinear._validation import check_nonnegative, check_positive

from ._base import Optimizer, check_unit_interval, with_weight_decay

__all__ = ["AdaDelta"]


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

    name = "adadelta"
    hyperparameters = ("lr", "rho", "eps", "weight_decay")
    kernel_fields = ("lr", "rho", "eps", "weight_decay")
    kernel_state = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        super().__init__(params)
        self.lr = check_positive(lr, "lr")
        self.rho = check_unit_interval(rho, "rho", closed=True)
        self.eps = check_nonnegative(eps, "eps")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        for p, state in zip(self.params, self.state):
            state["square_avg"] = np.zeros_like(p)
            state["acc_delta"] = np.zeros_like(p)

    def update(self, p, g, state):
        """One AdaDelta step on one parameter, in place (``torch.optim.Adadelta``'s rule).

        ``state["square_avg"]`` (v) and ``state["acc_delta"]`` (u), shaped
        like ``p``, are the running averages of the squared gradients and
        updates; see the class Notes for the equations. No step count is used.
        """
        g = with_weight_decay(g, p, self.weight_decay)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg[...] = self.rho * square_avg + (1 - self.rho) * g * g
        dx = np.sqrt(acc_delta + self.eps) / np.sqrt(square_avg + self.eps) * g
        acc_delta[...] = self.rho * acc_delta + (1 - self.rho) * dx * dx
        p -= self.lr * dx
