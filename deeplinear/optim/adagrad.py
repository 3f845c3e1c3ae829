"""AdaGrad: per-entry step sizes from the sum of squared gradients.

:class:`AdaGrad` follows ``torch.optim.Adagrad``'s documented rule;
``deeplinear._kernels.optim.adagrad_update`` is the numba twin of its
``update`` method.
"""

from __future__ import annotations

import numpy as np

from deeplinear._validation import check_nonnegative, check_positive

from ._base import Optimizer, with_weight_decay

__all__ = ["AdaGrad"]


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

    name = "adagrad"
    hyperparameters = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    # initial_accumulator_value is already in the state, so the kernel does not take it.
    kernel_fields = ("lr", "lr_decay", "eps", "weight_decay")
    kernel_state = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10):
        super().__init__(params)
        self.lr = check_positive(lr, "lr")
        self.lr_decay = check_nonnegative(lr_decay, "lr_decay")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.initial_accumulator_value = check_nonnegative(
            initial_accumulator_value, "initial_accumulator_value")
        self.eps = check_nonnegative(eps, "eps")
        for p, state in zip(self.params, self.state):
            state["sum"] = np.full_like(p, self.initial_accumulator_value)

    def update(self, p, g, state):
        """One AdaGrad step on one parameter, in place (``torch.optim.Adagrad``'s rule).

        ``state["sum"]`` (shaped like ``p``) accumulates the squared
        gradients; see the class Notes for the equations. Uses ``self.t``.
        """
        g = with_weight_decay(g, p, self.weight_decay)
        clr = self.lr / (1 + (self.t - 1) * self.lr_decay)
        state_sum = state["sum"]
        state_sum += g * g
        p -= clr * (g / (np.sqrt(state_sum) + self.eps))
