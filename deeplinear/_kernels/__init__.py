"""numba kernels: small, pure functions over float64 arrays.

Nothing in this sub-package imports from the rest of deeplinear. Each kernel
is the twin of a NumPy function of the library (``network.end_to_end`` and
``factor_gradients``, ``losses.Loss.value_and_grad_e``, the ``update``
methods of ``optim``), which is the library's Python path; the tests check
that the two agree. ``lanes`` holds no rule of its own: it is the lane order
in which the lp kernel sums, a building block of that twin (as
``chain.row_dot_bt`` is the order of ``chain.matmul_bt``'s dot products).
Only the compiled training loop runs the kernels, through
``deeplinear._compiled``, which builds their workspaces and arguments (the
named tuples of ``interface``); kernels trust their inputs. A student release
leaves this folder out, and the library then runs on the NumPy functions alone.
"""
