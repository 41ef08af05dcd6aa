"""Fixtures for 02-sharding, graded through a student process.

The judge never imports hashing.py: `hashing` is the module in a fresh student
process, and a ShardedCache is built there (`sharded`); what it stored is read
back over the judge's own connections to each memcached server. The book's word
list is the grader's own copy (a submission's files other than its modules are
never read).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.harness import MemcachedServer
from grader.student_process import NotPlainData, Remote, StudentCodeRaised, builtin, keep, value

# The same list as the handout's (Debian's wamerican, from SCOWL; see words-copyright.txt).
WORDS = Path(__file__).with_name("words.txt")


@pytest.fixture
def hashing(process) -> Remote:
    """The student's hashing module, in its student process (PYTHONHASHSEED=0, as this process)."""
    assert os.environ.get("PYTHONHASHSEED") == "0", "the judge must hash as the student process does"
    return process.module()


@pytest.fixture
def distribution(process, hashing):
    """distribution(words, shard) -> what hashing.distribution returned, as a plain dict when it is a dict.

    The contract asks for a dict: a Counter or a defaultdict is one, but only exact types cross
    from the student process, so such a result is made a dict there (distribution is called
    again for it: a generator of words is built anew for every call, stand-ins keep no state).
    """

    def call(words, shard):
        try:
            return hashing.distribution(words, shard)
        except NotPlainData:  # once more, and this time the result stays there to be looked at
            kept = keep(hashing.distribution, words, shard)
        if process.handle(builtin("isinstance"))(kept, builtin("dict")):
            return process.handle(builtin("dict"))(kept)
        return value(kept)

    return call


@pytest.fixture(scope="session")
def book_words() -> list[str]:
    """The 104,334 words of the list, lowercased as the book's main() does."""
    return [word.lower() for word in WORDS.read_text(encoding="utf-8").split()]


@pytest.fixture(scope="session")
def expect_value_error():
    """expect_value_error(call, what): fail the test, in the contract's words, unless call() raises ValueError."""

    def check(call, what: str) -> None:
        try:
            got = call()
        except StudentCodeRaised as exc:
            if "ValueError" in exc.kinds:  # a subclass of ValueError is one too
                return
            if exc.type_name == "NotImplementedError":
                raise  # "not written yet"
            pytest.fail(f"{what} raised {exc.type_name}: {exc.message}; the contract says ValueError",
                        pytrace=False)
        pytest.fail(f"{what} returned {got!r}; the contract says it raises ValueError", pytrace=False)

    return check


@pytest.fixture
def sharded(hashing):
    """sharded(servers) -> the student's ShardedCache over those MemcachedServers, kept in the student process.

    It is not closed afterwards: the student process ends with the test, and its connections with it.
    """

    def make(servers: list[MemcachedServer]) -> Remote:
        return keep(hashing.ShardedCache, [server.address for server in servers])

    return make


@pytest.fixture
def shared_servers(memcached_servers, mc) -> list[MemcachedServer]:
    """The session's three servers, emptied first (by `mc`)."""
    return memcached_servers


@pytest.fixture
def private_servers(memcached_server) -> list[MemcachedServer]:
    """Three memcached processes of this test's own, which it may stop."""
    return [memcached_server() for _ in range(3)]
