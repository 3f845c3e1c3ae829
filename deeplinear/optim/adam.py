"""Adam, optionally in its AMSGrad variant.

:class:`Adam` follows ``torch.optim.Adam``'s documented rule (L2 weight
decay added to the gradient, not AdamW's decoupled decay); its ``update``
method is a part of the course assignment (``deeplinear.assignment``, part
``adam``), and ``deeplinear._kernels.optim.adam_update`` is its numba twin.
"""

from __future__ import annotations

import numpy as np

from deeplinear._validation import check_nonnegative, check_positive

from ._base import Optimizer, check_flag, check_unit_interval

__all__ = ["Adam"]


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

    name = "adam"
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    kernel_fields = ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad")
    kernel_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False):
        super().__init__(params)
        self.lr = check_positive(lr, "lr")
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (check_unit_interval(beta1, "betas[0]", closed=False),
                      check_unit_interval(beta2, "betas[1]", closed=False))
        self.eps = check_nonnegative(eps, "eps")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.amsgrad = check_flag(amsgrad, "amsgrad")
        for p, state in zip(self.params, self.state):
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p)

    @property
    def beta1(self) -> float:
        """``betas[0]``, by the name the kernel takes it under."""
        return self.betas[0]

    @property
    def beta2(self) -> float:
        """``betas[1]``, by the name the kernel takes it under."""
        return self.betas[1]

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
