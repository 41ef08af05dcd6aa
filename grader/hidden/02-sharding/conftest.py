"""Fixtures for 02-sharding: the student's hashing module, the book's word list, and sharded caches
over real memcached servers (the session's three, or three private ones that a test may stop)."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.harness import MemcachedServer

# The same list as the handout's (Debian's wamerican, from SCOWL; see words-copyright.txt).
# The grader's own copy: a submission's files other than its modules are never read.
WORDS = Path(__file__).with_name("words.txt")


@pytest.fixture(scope="session")
def hashing(student):
    return student("hashing")


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
        except ValueError:
            return
        except Exception as exc:
            pytest.fail(f"{what} raised {type(exc).__name__}: {exc}; the contract says ValueError", pytrace=False)
        pytest.fail(f"{what} returned {got!r}; the contract says it raises ValueError", pytrace=False)

    return check


@pytest.fixture
def sharded(hashing):
    """sharded(servers) -> the student's ShardedCache over those MemcachedServers, closed after the test."""
    made = []

    def make(servers: list[MemcachedServer]):
        cache = hashing.ShardedCache([server.address for server in servers])
        made.append(cache)
        return cache

    yield make
    for cache in made:
        try:
            cache.close()
        except Exception:
            pass  # a broken close() costs the test that checks close(), not every test


@pytest.fixture
def shared_servers(memcached_servers, mc) -> list[MemcachedServer]:
    """The session's three servers, emptied first (by `mc`)."""
    return memcached_servers


@pytest.fixture
def private_servers(memcached_server) -> list[MemcachedServer]:
    """Three memcached processes of this test's own, which it may stop."""
    return [memcached_server() for _ in range(3)]
