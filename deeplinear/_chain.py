"""The chain workspace of the compiled loop: one architecture's buffers.

Part of the compiled path (see ``deeplinear._compiled``); imported only when
the kernels are present. :class:`Chain` fixes the orientation the kernels
work in, the layout of every flat per-factor array, and builds the
``Workspace`` of ``deeplinear._kernels.interface`` for B runs in lockstep.
"""

from __future__ import annotations

import numpy as np

from ._kernels.interface import Workspace

__all__ = ["Chain"]


class Chain:
    """The layout and workspace of the chain kernels for one architecture.

    The kernels compute every factor gradient
    ``dW_j = (W_N...W_{j+1})^T grad_e (W_{j-1}...W_1)^T`` in O(N) products:
    the suffix products ``W_N...W_{j+1}`` are built once from the top, and
    ``grad_e`` is pushed through the prefixes from the bottom, so that every
    intermediate has only ``min(d_0, d_N)`` rows.

    That order is chosen by the dimensions. With ``d_N = 1``, ``d_0 = 128``
    and two hidden layers of width 512, forming the prefix ``W_2 W_1`` as a
    matrix costs 512*512*128 = 33.6M multiply-adds. Working from the small
    end, ``suffix = W_3 W_2`` is a row vector (1*512*512 = 0.26M) and
    ``grad_e W_1^T`` is another (1*128*512 = 0.07M): a full gradient costs
    about ``3 d_N sum_j d_j d_{j-1}`` = 1M multiply-adds. When ``d_0 < d_N``
    the same kernels run on the transposed network ``W_1^T ... W_N^T`` so
    that the small side is always the one carried.

    Parameters
    ----------
    dims : list of int
        ``[d_0, ..., d_N]``.

    Attributes
    ----------
    dims : list of int
    depth : int
        N.
    transposed : bool
        Whether the kernels run the transposed network (``d_0 < d_N``).
    kd : ndarray of int64, shape (N + 1,)
        The dimensions in the kernels' orientation: the layout of every flat array.
    shapes : list of tuple
        The factor shapes in the kernels' orientation.
    size : int
        Number of parameters: the length of the flat factors.
    """

    def __init__(self, dims):
        self.dims = [int(d) for d in dims]
        self.depth = len(self.dims) - 1
        # Work on the transposed network when the input side is the small one.
        self.transposed = self.dims[-1] > self.dims[0]
        kd = self.dims[::-1] if self.transposed else self.dims
        self.kd = np.array(kd, dtype=np.int64)
        self.shapes = [(kd[j + 1], kd[j]) for j in range(self.depth)]
        self.size = sum(r * c for r, c in self.shapes)

    def batch_workspace(self, runs) -> Workspace:
        """A ``Workspace`` for ``runs`` runs in lockstep: every buffer but
        ``kd`` with a leading axis of length ``runs`` (shapes in ``Workspace``)."""
        kd = [int(d) for d in self.kd]
        k = kd[-1]
        d_0, d_N = self.dims[0], self.dims[-1]
        return Workspace(kd=self.kd, suffix=np.empty((runs, k * sum(kd))),
                         g_prefix_t=np.empty((runs, k * sum(kd[:-1]))),
                         dW=np.empty((runs, self.size)), W_e=np.empty((runs, d_N, d_0)),
                         grad_e=np.empty((runs, d_N, d_0)), grad_k=np.empty((runs, k, kd[0])))

    def views(self, flat) -> list[np.ndarray]:
        """The factor-shaped 2-D views of a flat array in the layout of the factors."""
        views, off = [], 0
        for r, c in self.shapes:
            views.append(flat[off:off + r * c].reshape(r, c))
            off += r * c
        return views

    def pack(self, factors) -> np.ndarray:
        """A new flat array of ``factors`` (ours, shape (d_j, d_{j-1})), in the
        kernels' orientation."""
        flat = np.empty(self.size)
        ordered = reversed(factors) if self.transposed else factors
        for view, W in zip(self.views(flat), ordered):
            view[...] = W.T if self.transposed else W
        return flat

    def unkernel(self, arrays) -> list[np.ndarray]:
        """Copies of per-factor arrays in the kernels' orientation, back in ours."""
        if self.transposed:
            return [D.T.copy() for D in reversed(arrays)]  # always a copy, never a view
        return [np.array(D) for D in arrays]
