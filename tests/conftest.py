"""Shared, seeded fixtures. Every test that draws random numbers takes ``rng``
so that a failure reproduces exactly."""

import os
from pathlib import Path

import numpy as np
import pytest

# The grading plugin (markers, points, the ``student`` fixture) is registered
# here, not installed for every project. Its helpers assert for the tests.
pytest_plugins = ["gradeplugin"]
pytest.register_assert_rewrite("gradelib")


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed for each test."""
    return np.random.default_rng(20180712)


def random_factors(rng, dims, scale=1.0):
    """Gaussian factors W_j of shape (d_j, d_{j-1}) with entries of std scale/sqrt(d_{j-1})."""
    return [scale * rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j])
            for j in range(len(dims) - 1)]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never touch the network: any attempt to open a connection fails loudly."""
    import socket

    def refuse(*args, **kwargs):
        raise RuntimeError("tests must not use the network (blocked in tests/conftest.py)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


_ENV_DATA = os.environ.get("DEEPLINEAR_DATA_DIR", "").strip()
REAL_DATA = Path(_ENV_DATA) if _ENV_DATA else \
    (Path(__file__).resolve().parent.parent.parent / "shared" / "data")


@pytest.fixture
def shared_data(monkeypatch):
    """The original UCI files (../shared/data or $DEEPLINEAR_DATA_DIR). Missing: fail, not skip."""
    if not (REAL_DATA / "abalone" / "abalone.data").is_file():
        pytest.fail(f"real data not found at {REAL_DATA}: set DEEPLINEAR_DATA_DIR to the folder "
                    "holding abalone/abalone.data and gas_sensor_drift/batchN.dat")
    monkeypatch.setenv("DEEPLINEAR_DATA_DIR", str(REAL_DATA))
    return REAL_DATA
