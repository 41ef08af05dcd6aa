"""Fixtures for 01-cache-aside, graded through a student process.

The judge never imports squares.py: `squares` is the module in a fresh student
process, `mc` describes the client that process builds for itself, and `cache` is
the judge's own connection to the same server, for reading back what was stored.
expensive_square is the judge's own (`computed`): each call in the student process
asks the judge, which hears it and answers then with what only it knows
(`secret_square`). The functions given to memoize are stand-ins built in the student
process that report their calls; those reports may explain a failure, never pass a
test. A test passes on what the judge sees: the calls of its expensive_square, values
only it knows, memcached's contents and counters read over its own connections, and
its own relay and clock (memcached_peers.py).
"""
from __future__ import annotations

import pytest
from memcached_peers import JudgesSquares

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


@pytest.fixture
def computed(process) -> JudgesSquares:
    """Replaces squares.expensive_square with the judge's (asked at each call, answering secret_square(n): n * n
    plus what only the judge knows), and sets DELAY to 0. The list of every n it was called for, in order.

    The contract says fetch_square looks expensive_square up at call time, so the judge hears every miss;
    a hit must not appear here.
    """
    calls = JudgesSquares()
    process.answer("expensive_square", calls.answer)
    process.assign("expensive_square", stand_in("expensive_square", ("ask",)))
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
