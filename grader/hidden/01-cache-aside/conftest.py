"""Fixtures for 01-cache-aside: the student's squares module, and a stand-in for expensive_square."""
from __future__ import annotations

import pytest

from grader.harness import MemcachedServer, free_port


@pytest.fixture(scope="session")
def squares(student):
    return student("squares")


class Computations(list):
    """Every n that the stand-in expensive_square was asked for, in order."""


@pytest.fixture
def computed(squares, monkeypatch) -> Computations:
    """Replaces squares.expensive_square with a recorder that returns n * n at once.

    The contract says fetch_square looks expensive_square up at call time, so the
    recorder sees every miss; a hit must not appear here.
    """
    calls = Computations()

    def recording_square(n):
        calls.append(n)
        return n * n

    monkeypatch.setattr(squares, "expensive_square", recording_square)
    monkeypatch.setattr(squares, "DELAY", 0.0)
    return calls


@pytest.fixture
def server(memcached_servers, mc) -> MemcachedServer:
    """The server behind `mc` (emptied by `mc`), for looking at what was stored."""
    return memcached_servers[0]


@pytest.fixture
def dead_address():
    """A loopback port where nothing listens: connecting is refused at once."""
    return ("127.0.0.1", free_port())
