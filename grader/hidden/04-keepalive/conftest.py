"""Fixtures for 04-keepalive: the student's keepalive module, and a private network to kill a peer in."""
from __future__ import annotations

import pytest

import peers


@pytest.fixture(scope="session")
def keepalive(student):
    return student("keepalive")


@pytest.fixture(scope="session")
def private_network() -> peers.PrivateNetwork:
    """How to run a process in a network namespace of its own; the test is not run where none can be made."""
    found = peers.private_network()
    if isinstance(found, str):
        pytest.skip(f"not run: {found}")
    return found
