"""02-sharding: ShardedCache over three real memcached servers, each asked directly what it holds.

The cache is built and kept in the student process (`sharded`); what it stored is
read back here, over connections of the judge's own to each server, and servers
are stopped by the judge.
"""
from __future__ import annotations

import time

import pytest

from grader.student_process import StudentCodeRaised, for_each, starmap

# 60 keys over 3 servers: with an even placement, some server is nobody's home with probability
# 3 * (2/3) ** 60 < 1e-10 (the servers' ports, and so the homes, change from run to run).
KEYS = [f"user:{i}" for i in range(60)]


def value_of(key: str) -> bytes:
    return b"value of " + key.encode()


def holdings(servers, keys) -> dict[tuple[str, int], dict[str, bytes]]:
    """What each server holds of `keys`, asked over a connection of the test's own."""
    found = {}
    for server in servers:
        client = server.client()
        try:
            found[server.address] = client.get_many(keys)
        finally:
            client.close()
    return found


def wait_for(condition, seconds: float = 3.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass (a `noreply` set may still be on its way)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def homes(cache, servers, keys) -> dict[str, tuple[str, int]]:
    """server_for(key) for each key, each checked to be the (host, port) tuple of one of `servers`."""
    addresses = {server.address for server in servers}
    found = {}
    for key, home in zip(keys, for_each(cache.server_for, keys)):
        assert isinstance(home, tuple) and home in addresses, (
            f"server_for({key!r}) returned {home!r}; expected one of the (host, port) tuples {sorted(addresses)}")
        found[key] = home
    return found


def call(what: str, operation, *args):
    """Run one cache operation; an exception from it fails the test with the contract's words."""
    try:
        return operation(*args)
    except StudentCodeRaised as exc:
        if exc.type_name == "NotImplementedError":
            raise
        pytest.fail(f"{what} raised {exc.type_name}: {exc.message}; a server that is down makes its keys "
                    "misses, never an exception", pytrace=False)


@pytest.mark.points(3)
def test_server_for_is_pick_server_over_host_port_names(hashing, shared_servers, sharded):
    """server_for(key) is the (host, port) whose name 'host:port' pick_server chooses, in any order of the servers."""
    cache = sharded(shared_servers)
    backwards = sharded(list(reversed(shared_servers)))
    names = {server.name: server.address for server in shared_servers}
    keys = [f"item:{i}" for i in range(200)]
    picked = for_each(hashing.pick_server, keys, list(names))
    chosen, reversed_chosen = for_each(cache.server_for, keys), for_each(backwards.server_for, keys)
    for key, name, got, back in zip(keys, picked, chosen, reversed_chosen):
        expected = names.get(name) if type(name) is str else None
        assert got == expected and isinstance(got, tuple), (
            f"server_for({key!r}) returned {got!r}; pick_server over the names {list(names)} chooses "
            f"{name!r}, so the answer is {expected!r}")
        assert back == got, (
            f"a ShardedCache over the same servers in reverse order puts {key!r} on {back!r}, not {got!r}")


@pytest.mark.points(4)
def test_each_key_lives_on_its_server_and_no_other(hashing, shared_servers, sharded):
    """set stores each key on server_for(key) and on no other server: each server, asked directly, agrees."""
    cache = sharded(shared_servers)
    starmap(cache.set, [(key, value_of(key)) for key in KEYS])
    home = homes(cache, shared_servers, KEYS)
    for key, got in zip(KEYS, for_each(cache.get, KEYS)):
        assert got == value_of(key), f"after set({key!r}, {value_of(key)!r}), get({key!r}) returned {got!r}"

    held: dict = {}

    def all_home() -> bool:
        held.update(holdings(shared_servers, KEYS))
        return all(held[home[key]].get(key) == value_of(key) for key in KEYS)

    if not wait_for(all_home):
        missing = [key for key in KEYS if held[home[key]].get(key) != value_of(key)]
        pytest.fail(f"after set(), {len(missing)} keys were not on their server_for(key), e.g. {missing[0]!r}: "
                    f"{home[missing[0]]} holds {held[home[missing[0]]].get(missing[0])!r}", pytrace=False)
    held = holdings(shared_servers, KEYS)
    elsewhere = [(key, address) for address, found in held.items() for key in found if address != home[key]]
    assert not elsewhere, (
        f"{len(elsewhere)} copies of keys are on servers other than their server_for(key), e.g. {elsewhere[0][0]!r} "
        f"(home {home[elsewhere[0][0]]}) on {elsewhere[0][1]}: a key lives on exactly one server")
    used = {home[key] for key in KEYS}
    assert len(used) == len(shared_servers), (
        f"{len(KEYS)} keys all went to {sorted(used)}: pick_server should spread them over the three servers")


@pytest.mark.points(3)
def test_get_set_delete_round_trip(hashing, shared_servers, sharded):
    """get returns the bytes set stored (any bytes), None for a miss, and None again after delete."""
    cache = sharded(shared_servers)
    values = {"empty": b"", "binary": bytes(range(256)) + b"\r\nEND\r\n", "big": b"x" * 200_000, "text": b"49"}
    for key, value in values.items():
        cache.set(key, value)
    for key, value in values.items():
        got = cache.get(key)
        assert got == value, f"after set({key!r}, {value[:20]!r}...), get({key!r}) returned {(got or b'')[:20]!r}..."
    assert cache.get("never-set") is None, f"get('never-set') returned {cache.get('never-set')!r}, not None"
    cache.set("text", b"64")
    assert cache.get("text") == b"64", f"set('text', b'64') over b'49', then get returned {cache.get('text')!r}"
    cache.delete("text")
    assert cache.get("text") is None, f"after delete('text'), get('text') returned {cache.get('text')!r}"
    cache.delete("never-set")  # deleting a missing key is no error
    assert cache.get("binary") == values["binary"], "delete('text') disturbed another key"


@pytest.mark.points(2)
def test_set_gives_the_ttl_to_memcached(hashing, shared_servers, sharded):
    """set(key, value, ttl) stores with expire=ttl on the key's server; the default ttl=0 never expires."""
    cache = sharded(shared_servers)
    by_address = {server.address: server for server in shared_servers}
    cache.set("with-ttl", b"1", ttl=300)
    cache.set("without-ttl", b"2")
    cache.get("with-ttl"), cache.get("without-ttl")
    left = by_address[tuple(cache.server_for("with-ttl"))].ttl("with-ttl")
    assert left is not None and 290 <= left <= 300, (
        f"set('with-ttl', b'1', ttl=300) left {left} s to live on its server; expected about 300")
    forever = by_address[tuple(cache.server_for("without-ttl"))].ttl("without-ttl")
    assert forever == -1, f"set('without-ttl', b'2') with the default ttl=0 should never expire; it has {forever} s"


@pytest.mark.points(5)
@pytest.mark.timeout(60)
def test_a_stopped_server_costs_only_its_keys(hashing, private_servers, sharded):
    """When one of three servers stops mid-test, its keys become misses (no exception, written nowhere else);
    the other servers' keys keep working."""
    cache = sharded(private_servers)
    starmap(cache.set, [(key, value_of(key)) for key in KEYS])
    home = homes(cache, private_servers, KEYS)
    victim = private_servers[0]
    lost = [key for key in KEYS if home[key] == victim.address]
    kept = [key for key in KEYS if home[key] != victim.address]
    assert lost and kept, f"the 60 keys should spread over the three servers; they went to {set(home.values())}"
    assert for_each(cache.get, KEYS) == [value_of(key) for key in KEYS], "before any server stopped, get() lost keys"
    victim.stop()

    for key in lost:
        got = call(f"get({key!r}) with its server stopped", cache.get, key)
        assert got is None, f"get({key!r}) returned {got!r} although its server {victim.address} is stopped"
        call(f"set({key!r}, ...) with its server stopped", cache.set, key, b"new")
        call(f"delete({key!r}) with its server stopped", cache.delete, key)
        call(f"set({key!r}, ...) again with its server stopped", cache.set, key, b"newer")
    for key in kept:
        got = call(f"get({key!r}) with another server stopped", cache.get, key)
        assert got == value_of(key), (
            f"with {victim.address} stopped, get({key!r}) on the live server {home[key]} returned {got!r}")
    live = [server for server in private_servers if server is not victim]
    strays = [(key, address) for address, found in holdings(live, lost).items() for key in found]
    assert not strays, (
        f"with its server stopped, {strays[0][0]!r} was written to {strays[0][1]}: a key lives only on "
        "server_for(key), so a down server's keys are misses, not moved elsewhere")
    for key in kept[:10]:
        call(f"set({key!r}, ...) with another server stopped", cache.set, key, b"updated")
        assert cache.get(key) == b"updated", f"with {victim.address} stopped, set then get({key!r}) failed"
        call(f"delete({key!r}) with another server stopped", cache.delete, key)
        assert cache.get(key) is None, f"with {victim.address} stopped, delete({key!r}) did not delete it"


@pytest.mark.points(2)
@pytest.mark.timeout(30)
def test_close_closes_every_connection(hashing, private_servers, sharded):
    """close() closes the connections the cache opened, to every server."""
    def connections():
        return [int(server.stats()["curr_connections"]) for server in private_servers]

    readings = [connections()]
    wait_for(lambda: readings.append(connections()) or readings[-1] == readings[-2], seconds=2)
    before = readings[-1]  # settled: the harness's own probes of the new servers have closed
    cache = sharded(private_servers)
    keys = [f"k{i}" for i in range(30)]  # a few keys on every server
    starmap(cache.set, [(key, b"v") for key in keys])
    for_each(cache.get, keys)
    cache.close()
    assert wait_for(lambda: all(now <= then for now, then in zip(connections(), before)), seconds=5), (
        f"after close(), the servers still count {connections()} open connections; before the cache they "
        f"counted {before}")
