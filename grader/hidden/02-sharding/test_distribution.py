"""02-sharding: distribution(words, shard), the fraction of the words each server receives."""
from __future__ import annotations

import math
import numbers
import zlib
from collections import Counter

import pytest
from hypothesis import example, given, strategies as st

SERVERS = ("server0", "server1", "server2", "server3")


def crc_shard(word: str) -> str:
    """A shard function of the tests' own: case-sensitive, and nothing like the book's."""
    return "server%d" % (zlib.crc32(word.encode("utf-8")) % 4)


def only_server2(word: str) -> str:
    return "server2"


def expected_fractions(words, shard) -> dict[str, float]:
    counts = Counter(shard(word) for word in words)
    return {server: counts[server] / len(words) for server in SERVERS}


def check(got, expected, call: str) -> None:
    assert isinstance(got, dict), f"{call} returned {got!r}, not a dict"
    missing = [s for s in SERVERS if s not in got]
    assert not missing, f"{call} returned {got!r}: {missing} missing (every server is a key, even at 0)"
    wrong = {s: (got[s], expected[s]) for s in SERVERS
             if not isinstance(got[s], numbers.Real) or not math.isclose(got[s], expected[s], abs_tol=1e-9)}
    assert not wrong, f"{call}: (got, expected) {wrong}; the values are fractions from 0 to 1 of the words"
    total = sum(got[s] for s in SERVERS)
    assert math.isclose(total, 1, abs_tol=1e-9), f"{call}: the fractions sum to {total}, not 1"


@pytest.mark.points(3)
@given(words=st.lists(st.text(max_size=8), min_size=1, max_size=60))
@example(words=["apple", "banana", "zebra"])
@example(words=["Apple", "apple", "BANANA", "Zebra", "Éclair"])
@example(words=["same", "same", "same"])
def test_distribution_gives_the_fraction_each_server_receives(hashing, words):
    """distribution(words, shard) maps each of server0..server3 (all four) to the fraction of words sent there.

    The words go to shard as they are (no lowercasing), and the fractions sum to 1.
    """
    got = hashing.distribution(list(words), crc_shard)
    check(got, expected_fractions(words, crc_shard), f"distribution({words!r}, shard)")


@pytest.mark.points(2)
def test_servers_that_receive_nothing_are_present_at_zero(hashing):
    """A server that receives no word is still a key of the result, with 0."""
    words = ["a", "b", "c"]
    got = hashing.distribution(words, only_server2)
    check(got, {"server0": 0.0, "server1": 0.0, "server2": 1.0, "server3": 0.0},
          "distribution(['a', 'b', 'c'], a shard that always says 'server2')")


@pytest.mark.points(2)
@pytest.mark.parametrize("kind", ["generator", "map", "tuple"])
def test_distribution_accepts_any_iterable(hashing, kind):
    """`words` may be any iterable, a generator too: it can be gone through only once, and has no len()."""
    words = ["apple", "Banana", "cherry", "date", "Elder", "fig", "grape"]
    given_words = {"generator": lambda: (w for w in words), "map": lambda: map(str, words),
                   "tuple": lambda: tuple(words)}[kind]()
    try:
        got = hashing.distribution(given_words, crc_shard)
    except TypeError as exc:
        pytest.fail(f"distribution(a {kind} of words, shard) raised TypeError: {exc} (len() of an iterable?)",
                    pytrace=False)
    check(got, expected_fractions(words, crc_shard), f"distribution(a {kind} of {len(words)} words, shard)")


@pytest.mark.points(2)
@pytest.mark.parametrize("kind", ["list", "generator"])
def test_distribution_of_no_words_is_a_value_error(hashing, expect_value_error, kind):
    """distribution of an empty list (or an empty generator) raises ValueError, not ZeroDivisionError."""
    empty = [] if kind == "list" else (w for w in [])
    expect_value_error(lambda: hashing.distribution(empty, crc_shard), f"distribution(an empty {kind}, shard)")
