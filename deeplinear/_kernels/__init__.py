"""numba kernels: small, pure functions over float64 arrays.

Nothing in this sub-package imports from the rest of deeplinear. Each kernel
has a plain NumPy twin in the Python layer (``linalg``, ``losses``, ``optim``)
and the tests check that the two agree. The Python layer validates inputs,
allocates outputs and owns the loops; kernels trust their inputs.
"""
