"""Fractional powers of PSD matrices (``deeplinear.linalg.psd_power``) against their definition."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deeplinear import psd_power

pytestmark = pytest.mark.nojit


def test_psd_power_exact_on_rank_deficient(rng):
    # A = B B^T of rank 2 in R^5: eigenvalues 0 must give exactly 0, not eps^(1/3).
    B = rng.standard_normal((5, 2))
    A = B @ B.T
    for p in [1 / 3, 0.5, 2 / 3, 1.0, 1.5]:
        Ap = psd_power(A, p)
        lam, Q = np.linalg.eigh(B.T @ B)  # the non-zero eigenvalues of A
        U = B @ Q / np.sqrt(lam)
        expected = (U * lam**p) @ U.T
        # 1e-12 relative: the kept eigenvalues are O(1), rounding ~ 5 * eps.
        assert_allclose(Ap, expected, rtol=0, atol=1e-12 * np.abs(expected).max(),
                        err_msg=f"psd_power(A, {p}) is not exact on a rank-2 A")
    # Square root squared gives A back; power 0 is the identity.
    assert_allclose(psd_power(A, 0.5) @ psd_power(A, 0.5), A, atol=1e-12 * np.abs(A).max())
    assert_allclose(psd_power(A, 0), np.eye(5))
    assert_allclose(psd_power(np.zeros((3, 3)), 1 / 3), np.zeros((3, 3)), atol=0)


def test_psd_power_rejects_bad_input():
    with pytest.raises(ValueError, match="A"):
        psd_power(np.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match="power"):
        psd_power(np.eye(2), -1)
