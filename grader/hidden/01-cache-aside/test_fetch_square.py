"""01-cache-aside: square_key and fetch_square, against real memcached servers.

`squares` is the student's module in a student process; `cache` is the judge's own
client, which reads back what fetch_square stored. expensive_square is the judge's: each
call asks the judge, which hears it and answers secret_square(n), known only to it
(its key is drawn for each grading): a result that did not come from a call of it (or
from memcached) is wrong. Hits, misses and stores are memcached's own counts
(`Counters`).
"""
from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from memcached_peers import Counters, barrier, secret_square

from grader.harness import CLIENT_DEFAULTS, hash_client
from grader.student_process import StudentCodeRaised, memcached_client


@pytest.mark.points(2)
@given(n=st.integers(min_value=-(10**30), max_value=10**30))
def test_square_key_is_sq_colon_n(squares, n):
    """square_key(n) is 'sq:%d' % n, for negative, zero and very large n too."""
    key = squares.square_key(n)
    assert key == "sq:%d" % n, f"square_key({n}) returned {key!r}"


@pytest.mark.points(3)
def test_miss_computes_once_and_returns_the_square(squares, mc, computed):
    """On a miss, fetch_square calls expensive_square(n) exactly once and returns what it returned."""
    result = squares.fetch_square(mc, 7)
    assert result == secret_square(7), (
        f"fetch_square(mc, 7) on an empty cache returned {result!r}, not what expensive_square(7) returned "
        f"({secret_square(7)}: the test's own, looked up when fetch_square is called)")
    assert computed == [7], (f"on a miss expensive_square should be called once, with 7; it was called "
                             f"{len(computed)} time(s) with {computed} (looked up at call time?)")


@pytest.mark.points(3)
def test_hit_skips_expensive_square(squares, process, mc, computed, server):
    """A second fetch of the same n is a hit: memcached counts a hit and no store, and expensive_square is not
    called again."""
    first = squares.fetch_square(mc, 12)
    barrier(process, mc)
    counters = Counters([server])
    second = squares.fetch_square(mc, 12)
    barrier(process, mc)
    counted = counters.since()
    value = secret_square(12)
    assert (first, second) == (value, value), (
        f"fetch_square(mc, 12) twice returned {first!r}, {second!r}; expensive_square(12) returned {value}")
    assert type(second) is int, f"a hit must return an int, not {type(second).__name__} ({second!r})"
    assert counted["get_hits"] >= 1 and counted["cmd_set"] == 0, (
        f"during the second fetch_square(mc, 12) memcached counted {counted['get_hits']} hit(s) and "
        f"{counted['cmd_set']} store(s): the second call should find the square there and store nothing")
    assert computed == [12], f"expensive_square was called for {computed}; the second call should be a hit"


@pytest.mark.points(2)
def test_hit_returns_the_cached_value_as_int(squares, mc, cache, computed):
    """A hit returns what memcached holds under square_key(n), as an int."""
    cache.set("sq:21", b"999", noreply=False)
    result = squares.fetch_square(mc, 21)
    assert computed == [], f"'sq:21' was in the cache, yet expensive_square was called for {computed}"
    assert result == 999 and type(result) is int, (
        f"memcached held b'999' under 'sq:21', so fetch_square(mc, 21) should return the int 999, "
        f"not {result!r}")


@pytest.mark.points(1)
@pytest.mark.parametrize("n", [7, -3, 0, 10**20])
def test_miss_stores_decimal_ascii_text(squares, mc, cache, computed, n):
    """After a miss the square is stored under 'sq:<n>' as its decimal ASCII text (b'49' for 7)."""
    squares.fetch_square(mc, n)
    stored = cache.get("sq:%d" % n)
    assert computed == [n], f"fetch_square(mc, {n}) on an empty cache called expensive_square for {computed}"
    assert stored == b"%d" % secret_square(n), (
        f"after fetch_square(mc, {n}) memcached holds {stored!r} under 'sq:{n}'; expensive_square({n}) returned "
        f"{secret_square(n)}, so expected {b'%d' % secret_square(n)!r} (no pickle, no repr: the decimal digits)")


@pytest.mark.points(2)
def test_cached_zero_is_a_hit(squares, process, mc, cache, computed, server):
    """A cached b'0' is a hit like any other: 0 is returned without computing."""
    cache.set("sq:5", b"0", noreply=False)
    result = squares.fetch_square(mc, 5)
    assert result == 0 and computed == [], (
        f"memcached held b'0' under 'sq:5': fetch_square should return 0 without computing, but it "
        f"returned {result!r} and computed {computed} (is 0 being treated as a miss?)")
    squares.fetch_square(mc, 0)
    barrier(process, mc)
    counters = Counters([server])
    again = squares.fetch_square(mc, 0)
    barrier(process, mc)
    counted = counters.since()
    assert again == 0 and counted["get_hits"] >= 1 and counted["cmd_set"] == 0, (
        f"fetch_square(mc, 0) stored b'0'; called again it returned {again!r}, and memcached counted "
        f"{counted['get_hits']} hit(s) and {counted['cmd_set']} store(s): a stored b'0' is a hit, not stored again")
    assert computed == [0], f"fetch_square(mc, 0) twice should compute once; it computed {computed}"


@pytest.mark.points(3)
def test_ttl_is_given_to_memcached(squares, mc, server, computed):
    """The result is stored with expire=ttl; the default ttl=0 means it never expires."""
    squares.fetch_square(mc, 8, ttl=300)
    left = server.ttl("sq:8")
    assert left is not None, "after fetch_square(mc, 8, ttl=300) nothing is stored under 'sq:8'"
    assert 290 <= left <= 300, f"'sq:8' was stored with about {left} s to live; expected expire=300"
    squares.fetch_square(mc, 9)
    assert server.ttl("sq:9") == -1, (
        f"fetch_square(mc, 9) with the default ttl=0 should store without expiry, "
        f"but 'sq:9' expires in {server.ttl('sq:9')} s")


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_entries_expire_after_their_ttl(squares, process, mc, server, computed):
    """An entry stored with ttl=1 is gone two seconds later, and is computed and stored again."""
    squares.fetch_square(mc, 11, ttl=1)
    deadline = time.monotonic() + 5  # memcached's clock ticks once a second
    while server.ttl("sq:11") is not None and time.monotonic() < deadline:
        time.sleep(0.25)
    assert server.ttl("sq:11") is None, "'sq:11' was stored with ttl=1 but is still there seconds later"
    counters = Counters([server])
    again = squares.fetch_square(mc, 11)
    barrier(process, mc)
    counted = counters.since()
    assert again == secret_square(11), f"after expiry fetch_square(mc, 11) returned {again!r}"
    assert counted["get_misses"] >= 1 and counted["cmd_set"] == 1, (
        f"after expiry memcached counted {counted['get_misses']} miss(es) and {counted['cmd_set']} store(s) for "
        "fetch_square(mc, 11): the expired entry is a miss, computed and stored again")
    assert computed == [11, 11], f"after expiry fetch_square(mc, 11) should compute again; computed {computed}"


def _clients(servers):
    """Each kind of client: built in the student process, and the judge's own of the same kind, to read back."""
    first = [servers[0].address]
    yield "Client", memcached_client("base", first, **CLIENT_DEFAULTS), servers[0].client("base")
    yield "PooledClient", memcached_client("pooled", first, **CLIENT_DEFAULTS), servers[0].client("pooled")
    yield "HashClient", memcached_client("hash", [s.address for s in servers], **CLIENT_DEFAULTS), hash_client(servers)


@pytest.mark.points(1)
@pytest.mark.parametrize("kind", ["Client", "PooledClient", "HashClient"])
def test_works_with_every_pymemcache_client(squares, memcached_servers, mc, computed, kind):
    """fetch_square works with a Client, a PooledClient and a HashClient (no serializer: bytes back)."""
    client, reader = next((theirs, ours) for name, theirs, ours in _clients(memcached_servers) if name == kind)
    counters = Counters(memcached_servers)
    values = [squares.fetch_square(client, n) for n in (4, 4, 6, 4, 6)]
    counted = counters.since()
    expected = [secret_square(n) for n in (4, 4, 6, 4, 6)]
    assert values == expected, f"with a {kind}, fetch_square returned {values}; expensive_square gave {expected}"
    assert counted["get_hits"] >= 3 and counted["cmd_set"] == 2, (
        f"with a {kind}, memcached counted {counted['get_hits']} hits and {counted['cmd_set']} stores for "
        "fetch_square of 4, 4, 6, 4, 6: expected 3 hits, and 2 stores")
    stored = reader.get("sq:4")
    assert stored == b"%d" % secret_square(4), f"with a {kind}, 'sq:4' holds {stored!r}"
    assert computed == [4, 6], f"with a {kind}, expensive_square was called for {computed}; expected [4, 6]"


@pytest.mark.points(3)
def test_unreachable_memcached_is_not_a_dependency(squares, computed, dead_address, client_for):
    """With no server listening, fetch_square still returns the right value and does not raise."""
    client = client_for(dead_address, connect_timeout=1, timeout=1)
    for n in (3, 3, -4):
        try:
            result = squares.fetch_square(client, n)
        except StudentCodeRaised as exc:
            pytest.fail(f"fetch_square raised {exc.type_name}: {exc.message} when memcached was unreachable "
                        f"(connection refused is an OSError); the cache must never be a dependency",
                        pytrace=False)
        assert result == secret_square(n), (
            f"with memcached unreachable, fetch_square(mc, {n}) returned {result!r}, not expensive_square({n}), "
            f"{secret_square(n)}")


@pytest.mark.points(4)
@pytest.mark.timeout(30)
def test_memcached_stopped_mid_test(squares, memcached_server, computed, client_for):
    """A server that stops mid-test (and later comes back) costs speed, never a wrong answer or an exception."""
    server = memcached_server()
    client = client_for(server.address)

    def fetch_all(numbers, what):
        for n in numbers:
            try:
                result = squares.fetch_square(client, n)
            except StudentCodeRaised as exc:
                pytest.fail(f"fetch_square(mc, {n}) raised {exc.type_name}: {exc.message} when memcached "
                            f"{what}; a failing cache must never fail the caller", pytrace=False)
            assert result == secret_square(n), (
                f"when memcached {what}, fetch_square(mc, {n}) returned {result!r}, not {secret_square(n)}")

    fetch_all([2, 2, 3], "was running")
    server.stop()  # the client's open connection is closed under it, then refused
    fetch_all([2, 3, 5], "had been stopped")
    server.start()
    fetch_all([2, 7], "was back after a restart")
    server.kill()  # and now it vanishes without a word
    fetch_all([7, 8], "had been killed")
