"""Shared, seeded fixtures. Every test that draws random numbers takes ``rng``
so that a failure reproduces exactly."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed for each test."""
    return np.random.default_rng(20180712)


def random_factors(rng, dims, scale=1.0):
    """Gaussian factors W_j of shape (d_j, d_{j-1}) with entries of std scale/sqrt(d_{j-1})."""
    return [scale * rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j])
            for j in range(len(dims) - 1)]
