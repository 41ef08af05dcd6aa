"""02-sharding: distribution(words, shard), the fraction of the words each server receives.

The shard functions given to distribution are stand-ins built in the student
process: each returns, for every word, the server this test worked out for it with
a rule of its own (and reports the word it was given); the words are built there
too when they must be a generator or a map.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
import zlib
from collections import Counter

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from grader.student_process import StudentCodeRaised, one_pass, stand_in

SERVERS = ("server0", "server1", "server2", "server3")
UNKNOWN = "server3"  # what the stand-in says for a word it was not told about (one that was changed)
_fresh = itertools.count()


def crc_shard(word: str) -> str:
    """A shard function of the tests' own: case-sensitive, and nothing like the book's."""
    return "server%d" % (zlib.crc32(word.encode("utf-8")) % 4)


def shard_stand_in(name: str, returns: tuple):
    """A shard function built in the student process, named `shard` in what the student reads."""
    return dataclasses.replace(stand_in(name, returns), label="shard")


def crc_stand_in(process, words) -> tuple[object, list[str]]:
    """crc_shard as a stand-in in the student process (for these words), and the words it is called with."""
    name, calls = f"shard{next(_fresh)}", []  # a name of its own for each Hypothesis example
    process.listen(name, lambda args: calls.append(args[0] if args else None))
    return shard_stand_in(name, ("table", {word: crc_shard(word) for word in words}, UNKNOWN)), calls


def expected_fractions(words, shard) -> dict[str, float]:
    counts = Counter(shard(word) for word in words)
    return {server: counts[server] / len(words) for server in SERVERS}


def check(got, expected, call: str, words=(), calls=()) -> None:
    assert isinstance(got, dict), f"{call} returned {got!r}, not a dict"
    missing = [s for s in SERVERS if s not in got]
    assert not missing, f"{call} returned {got!r}: {missing} missing (every server is a key, even at 0)"
    changed = [word for word in calls if word not in words]
    hint = f"; shard was called with {changed[0]!r}, which is not one of the words (passed as they are?)" \
        if changed else ""
    wrong = {s: (got[s], expected[s]) for s in SERVERS
             if not isinstance(got[s], numbers.Real) or not math.isclose(got[s], expected[s], abs_tol=1e-9)}
    assert not wrong, f"{call}: (got, expected) {wrong}; the values are fractions from 0 to 1 of the words{hint}"
    total = sum(got[s] for s in SERVERS)
    assert math.isclose(total, 1, abs_tol=1e-9), f"{call}: the fractions sum to {total}, not 1"


@pytest.mark.points(3)
@given(words=st.lists(st.text(max_size=8), min_size=1, max_size=60))
@example(words=["apple", "banana", "zebra"])
@example(words=["Apple", "apple", "BANANA", "Zebra", "Éclair"])
@example(words=["same", "same", "same"])
def test_distribution_gives_the_fraction_each_server_receives(distribution, process, words):
    """distribution(words, shard) maps each of server0..server3 (all four) to the fraction of words sent there.

    The words go to shard as they are (no lowercasing), and the fractions sum to 1.
    """
    shard, calls = crc_stand_in(process, words)
    got = distribution(list(words), shard)
    check(got, expected_fractions(words, crc_shard), f"distribution({words!r}, shard)", words, calls)


@pytest.mark.points(2)
def test_servers_that_receive_nothing_are_present_at_zero(distribution):
    """A server that receives no word is still a key of the result, with 0."""
    words = ["a", "b", "c"]
    got = distribution(words, shard_stand_in("only_server2", ("const", "server2")))
    check(got, {"server0": 0.0, "server1": 0.0, "server2": 1.0, "server3": 0.0},
          "distribution(['a', 'b', 'c'], a shard that always says 'server2')")


@pytest.mark.points(2)
@pytest.mark.parametrize("kind", ["generator", "map", "tuple"])
def test_distribution_accepts_any_iterable(distribution, process, kind):
    """`words` may be any iterable, a generator too: it can be gone through only once, and has no len()."""
    words = ["apple", "Banana", "cherry", "date", "Elder", "fig", "grape"]
    given_words = tuple(words) if kind == "tuple" else one_pass(words, kind)
    shard, calls = crc_stand_in(process, words)
    try:
        got = distribution(given_words, shard)
    except StudentCodeRaised as exc:
        if exc.type_name != "TypeError":
            raise
        pytest.fail(f"distribution(a {kind} of words, shard) raised TypeError: {exc.message} "
                    "(len() of an iterable?)", pytrace=False)
    check(got, expected_fractions(words, crc_shard), f"distribution(a {kind} of {len(words)} words, shard)",
          words, calls)


@pytest.mark.points(2)
@pytest.mark.parametrize("kind", ["list", "generator"])
def test_distribution_of_no_words_is_a_value_error(distribution, expect_value_error, kind):
    """distribution of an empty list (or an empty generator) raises ValueError, not ZeroDivisionError."""
    empty = [] if kind == "list" else one_pass([])
    shard = shard_stand_in("shard", ("const", "server0"))
    expect_value_error(lambda: distribution(empty, shard), f"distribution(an empty {kind}, shard)")
