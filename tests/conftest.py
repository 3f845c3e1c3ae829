"""Shared, seeded fixtures. Every test that draws random numbers takes ``rng``
so that a failure reproduces exactly. Helpers that tests import live in
``tests/helpers.py``, never here."""

import numpy as np
import pytest
from helpers import REAL_DATA

# The grading plugin (markers, points, the ``student`` fixture) is registered
# here, not installed for every project.
pytest_plugins = ["deeplinear.assignment.judge.plugin"]


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed for each test."""
    return np.random.default_rng(20180712)


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


@pytest.fixture
def shared_data(monkeypatch):
    """The original UCI files (../shared/data or $DEEPLINEAR_DATA_DIR). Missing: fail, not skip."""
    if not (REAL_DATA / "abalone" / "abalone.data").is_file():
        pytest.fail(f"real data not found at {REAL_DATA}: set DEEPLINEAR_DATA_DIR to the folder "
                    "holding abalone/abalone.data and gas_sensor_drift/batchN.dat")
    monkeypatch.setenv("DEEPLINEAR_DATA_DIR", str(REAL_DATA))
    return REAL_DATA
