"""02-sharding: pick_server, stable, order-free, even and minimal in movement.

Every algorithm the contract allows must pass: rendezvous hashing, pymemcache's
RendezvousHash, a hash of the key modulo n for evenness alone, and a consistent-hash
ring with a thousand virtual nodes per server (self-tests grade all of these).

How the statistical tests are designed (all inputs come from seeded generators, so a
given submission always gets the same verdict; the probabilities below are over the
choice of keys and of the submission's hash function):

- Evenness. For each n in N_EVEN, 4,000 * n keys (the contract asks for at least
  2,000 * n; twice that halves the tests' own sampling noise) must give every server
  between 0.8/n and 1.2/n of them. With an ideal placement (rendezvous hashing, a
  good hash modulo n) a server's count is Binomial(4000 n, 1/n): mean 4,000, standard
  deviation at most 63, and the band is 800 away, 12.7 deviations; by Chernoff's bound
  a server leaves it with probability below 1e-30. A ring of V virtual nodes per
  server gives server i a share of the circle that is itself random, Beta(V, (n-1)V):
  3.1 % of 1/n as standard deviation for V = 1000. Integrating the binomial tail over
  that Beta gives a chance of failing, summed over every server of every n tested,
  of 2.5e-7 for V = 1000; for V = 10 it is a near-certain failure (a 10-node ring
  over 16 servers gives shares from 0.6/n to 1.6/n).
- Movement. For each n in N_MOVE, 10,000 keys placed on n servers and on the same
  n plus one: the share that moves must be at most 1/(n+1) + 0.05, and every key that
  moves must move to the new server; then removing one of the old servers must move
  no key that was not on it. The last two are exact. Ideal placement moves
  Binomial(10000, 1/(n+1)) keys: 0.05 is at least 10 deviations (n = 2), a chance
  below 1e-15 by Chernoff's bound. A 1000-node ring moves the new server's share of the circle,
  Beta(1000, 1000 n): for n = 2 the limit is 5.1 combined deviations away, a chance
  of 2.8e-7, and far less for larger n. `md5 % n` moves n/(n+1) of the keys.
- Together, a 1000-node ring fails with probability about 5e-7, below one in a
  million; rendezvous hashing and pymemcache's RendezvousHash essentially never.

`hashing` is the student's module in a student process; the thousands of keys of a
test go there in one round trip (`for_each`), each placed by its own call.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from grader.student_process import for_each, starmap

N_EVEN = (2, 3, 5, 8, 16)
N_MOVE = (2, 4, 7, 15)
KEYS_PER_SERVER = 4000
MOVE_KEYS = 10_000


def distinct(count: int, make) -> list[str]:
    """`count` distinct results of make(), in the order they were first made."""
    found: dict[str, None] = {}
    while len(found) < count:
        found[make()] = None
    return list(found)


def server_name(rng: random.Random) -> str:
    """A server name in one of the forms real deployments use."""
    return rng.choice([
        lambda: f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}:11211",
        lambda: f"cache-{rng.randrange(100)}.example.net:{rng.randrange(11211, 11311)}",
        lambda: f"127.0.0.1:{rng.randrange(1024, 65536)}",
    ])()


def cache_key(rng: random.Random) -> str:
    """A key in one of the forms caches see."""
    return rng.choice([
        lambda: f"user:{rng.randrange(10**9)}",
        lambda: f"sq:{rng.randrange(-10**6, 10**6)}",
        lambda: f"session:{rng.getrandbits(64):016x}",
        lambda: "page:/" + "/".join(rng.choice(["news", "sport", "a", "b", "2024", "index"])
                                    for _ in range(rng.randrange(1, 5))) + f"?id={rng.randrange(1000)}",
    ])()


def random_names(rng: random.Random, n: int) -> list[str]:
    return distinct(n, lambda: server_name(rng))


def random_keys(rng: random.Random, count: int) -> list[str]:
    return distinct(count, lambda: cache_key(rng))


def sequential_names(n: int) -> list[str]:
    """The names of a typical rack: 10.0.0.1:11211, 10.0.0.2:11211, ..."""
    return [f"10.0.0.{i}:11211" for i in range(1, n + 1)]


def placements(hashing, keys: list[str], servers_lists: list[list[str]]) -> list[list[str]]:
    """pick_server for each key over each list of servers, each one checked to be one of those servers."""
    found = []
    for servers in servers_lists:
        chosen = for_each(hashing.pick_server, keys, servers)
        names = set(servers)
        stray = next(((key, got) for key, got in zip(keys, chosen) if type(got) is not str or got not in names),
                     None)
        assert stray is None, (f"pick_server({stray[0]!r}, {short(servers)}) returned {stray[1]!r}, which is not "
                               "one of the servers")
        found.append(chosen)
    return found


def short(names: list[str]) -> str:
    return repr(names) if len(names) <= 4 else f"[{names[0]!r}, {names[1]!r}, ... {len(names)} names]"


# -- the basics -------------------------------------------------------------------

names_strategy = st.lists(
    st.one_of(
        st.builds(lambda a, b, port: f"10.0.{a}.{b}:{port}", st.integers(0, 255), st.integers(1, 254),
                  st.integers(1, 65535)),
        st.builds(lambda host, port: f"{host}:{port}", st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True),
                  st.integers(1, 65535)),
    ),
    min_size=1, max_size=16, unique=True,
)


@st.composite
def servers_twice(draw) -> tuple[list[str], list[str]]:
    """A list of distinct server names, and the same names in another order."""
    servers = draw(names_strategy)
    return servers, draw(st.permutations(servers))


@pytest.mark.points(3)
@given(key=st.text(max_size=40), servers=servers_twice())
@example(key="user:42", servers=(["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"],
                                 ["10.0.0.3:11211", "10.0.0.1:11211", "10.0.0.2:11211"]))
def test_pick_server_ignores_the_order_of_servers(hashing, key, servers):
    """pick_server returns one of `servers`, and the same one in whatever order they are listed (a tuple too)."""
    servers, shuffled = servers
    orders = (servers, shuffled, list(reversed(servers)), sorted(servers), tuple(servers))
    got, *others = starmap(hashing.pick_server, [(key, order) for order in orders])  # one round trip
    assert got in servers, f"pick_server({key!r}, {servers!r}) returned {got!r}, which is not one of the servers"
    for other, again in zip(orders[1:], others):
        assert again == got, (
            f"pick_server({key!r}, ...) chose {got!r} from {servers!r} but {again!r} from the same servers "
            f"listed as {other!r}: the order of the servers must not matter")


@pytest.mark.points(1)
@pytest.mark.parametrize("empty", [[], ()], ids=["list", "tuple"])
def test_pick_server_with_no_servers_is_a_value_error(hashing, expect_value_error, empty):
    """pick_server(key, []) raises ValueError: there is nowhere to put the key."""
    expect_value_error(lambda: hashing.pick_server("user:1", empty), f"pick_server('user:1', {empty!r})")


@pytest.mark.points(4)
@pytest.mark.timeout(90)
def test_pick_server_is_the_same_in_every_process(hashing, student_process):
    """The same key and servers give the same server in any process, whatever PYTHONHASHSEED is (so no hash())."""
    rng = random.Random(3)
    keys = random_keys(rng, 300)
    servers_lists = [sequential_names(3), random_names(rng, 5), sequential_names(16)]
    here = placements(hashing, keys, servers_lists)  # PYTHONHASHSEED=0
    # Another process, another hash(): a placement built on it moves most of these 900 keys.
    there = placements(student_process("hashing", hashseed="1").module(), keys, servers_lists)
    for servers, mine, theirs in zip(servers_lists, here, there):
        differing = [(k, a, b) for k, a, b in zip(keys, mine, theirs) if a != b]
        assert not differing, (
            f"with PYTHONHASHSEED=1, another process placed {len(differing)} of {len(keys)} keys "
            f"elsewhere over {short(servers)}; e.g. {differing[0][0]!r}: {differing[0][1]!r} here, "
            f"{differing[0][2]!r} there. Two clients of one cache would never find each other's keys")


# -- evenness and movement --------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", N_EVEN)
def test_pick_server_spreads_keys_evenly(hashing, n):
    """With n servers (2 to 16) and 4,000 * n random keys, every server receives between 0.8/n and 1.2/n of them.

    A consistent-hash ring needs several hundred virtual nodes per server for this.
    """
    rng = random.Random(1000 + n)
    servers = sequential_names(n) if n in (3, 8, 16) else random_names(rng, n)
    keys = random_keys(rng, KEYS_PER_SERVER * n)
    counts = dict.fromkeys(servers, 0)
    for server in placements(hashing, keys, [servers])[0]:
        counts[server] += 1
    low, high = 0.8 / n, 1.2 / n
    outside = {s: c / len(keys) for s, c in counts.items() if not low <= c / len(keys) <= high}
    assert not outside, (
        f"over {n} servers {short(servers)} and {len(keys):,} keys, each server should get "
        f"{low:.2%} to {high:.2%} of them; "
        + ", ".join(f"{s} got {share:.2%}" for s, share in sorted(outside.items(), key=lambda item: item[1])))


@pytest.mark.points(3)
@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", N_MOVE)
def test_pick_server_moves_few_keys(hashing, n):
    """Adding an (n+1)-th server moves at most 1/(n+1) + 0.05 of the keys, all to it; removing one moves only its own.

    `hash % n` fails this: it moves about n/(n+1) of the keys.
    """
    rng = random.Random(2000 + n)
    names = random_names(rng, n + 1)
    before, after, joined = names[:n], names, names[n]
    gone = before[rng.randrange(n)]
    without = [s for s in after if s != gone]
    keys = random_keys(rng, MOVE_KEYS)
    old, new, rest = placements(hashing, keys, [before, after, without])

    moved = [(k, a, b) for k, a, b in zip(keys, old, new) if a != b]
    astray = [(k, a, b) for k, a, b in moved if b != joined]
    assert not astray, (
        f"when {joined!r} joined {short(before)}, {len(astray)} keys moved between old servers, e.g. "
        f"{astray[0][0]!r} from {astray[0][1]!r} to {astray[0][2]!r}: keys may only move to the new server")
    limit = 1 / (n + 1) + 0.05
    assert len(moved) <= limit * len(keys), (
        f"when a server joined {n}, {len(moved) / len(keys):.1%} of {len(keys):,} keys moved; "
        f"at most 1/{n + 1} + 0.05 = {limit:.1%} may")

    stolen = [(k, a, b) for k, a, b in zip(keys, new, rest) if a != gone and a != b]
    assert not stolen, (
        f"when {gone!r} left {short(after)}, {len(stolen)} keys that were not on it moved, e.g. "
        f"{stolen[0][0]!r} from {stolen[0][1]!r} to {stolen[0][2]!r}: only the keys of the server that left may move")
