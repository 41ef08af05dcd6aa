"""Fixtures for 01-cache-aside, graded through a student process.

The judge never imports squares.py: `squares` is the module in a fresh student
process, `mc` describes the client that process builds for itself, and `cache` is
the judge's own connection to the same server, for reading back what was stored.
Stand-ins (expensive_square, the functions given to memoize) run in the student
process and report every call here; those reports may explain a failure, never pass
a test. A test passes on what the judge sees: values only its stand-ins know
(`secret_square`), memcached's contents and counters read over its own connections,
and its own relay and clock (memcached_peers.py).
"""
from __future__ import annotations

import pytest
from memcached_peers import secret_table

from grader.harness import CLIENT_DEFAULTS, MemcachedServer, emptied, free_port
from grader.student_process import memcached_client, stand_in
from grader.wire import Live


@pytest.fixture
def squares(process):
    """The student's squares module, in its student process."""
    return process.module()


@pytest.fixture
def cache(memcached_servers):
    """The judge's own client for the first server; every server is emptied first."""
    client = emptied(memcached_servers)
    yield client
    client.close()


@pytest.fixture
def mc(cache, memcached_servers) -> Live:
    """A pymemcache Client for the first server, built in the student process."""
    return memcached_client("base", [memcached_servers[0].address], **CLIENT_DEFAULTS)


@pytest.fixture
def client_for():
    """client_for(address, **options) -> a base Client for `address` in the student process."""

    def make(address, label: str = "mc", **options) -> Live:
        return memcached_client("base", [address], label, **{**CLIENT_DEFAULTS, **options})

    return make


@pytest.fixture
def stand_ins(process):
    """stand_ins(name, returns) -> (a function built in the student process, the list of its calls' args)."""

    def make(name: str, returns=("square",), sleep: float = 0.0) -> tuple[Live, list[tuple]]:
        calls: list[tuple] = []
        process.listen(name, calls.append)
        return stand_in(name, returns, sleep), calls

    return make


class Computations(list):
    """Every n that the stand-in expensive_square reported it was asked for, in order."""


NUMBERS = [*range(-10, 5001), 10**20]  # every n a test asks for: the stand-in knows its secret square


@pytest.fixture
def computed(process, stand_ins) -> Computations:
    """Replaces squares.expensive_square with a stand-in that returns secret_square(n) at once (n * n plus what
    only the judge knows), and sets DELAY to 0.

    The contract says fetch_square looks expensive_square up at call time, so the
    stand-in sees every miss; a hit must not appear here.
    """
    calls = Computations()
    function, _ = stand_ins("expensive_square", ("table", secret_table(NUMBERS), -1))
    process.listen("expensive_square", lambda args: calls.append(args[0]))
    process.assign("expensive_square", function)
    process.assign("DELAY", 0.0)
    return calls


@pytest.fixture
def server(memcached_servers, mc) -> MemcachedServer:
    """The server behind `mc` (emptied by `mc`), for looking at what was stored."""
    return memcached_servers[0]


@pytest.fixture
def dead_address():
    """A loopback port where nothing listens: connecting is refused at once."""
    return ("127.0.0.1", free_port())
