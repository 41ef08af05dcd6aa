"""01-cache-aside: memoize, cache-aside as a decorator, for any arguments and any picklable result.

The functions given to memoize are stand-ins built in the student process: each
returns what the test says and reports its calls. Those reports can only fail a test:
hits and stores are memcached's own counts (`Counters`), read over the judge's
connections, and results are values that only the stand-ins give.
"""
from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from memcached_peers import Counters, barrier

from grader.student_process import StudentCodeRaised, stand_in

_fresh = itertools.count()


def fresh_prefix(name: str) -> str:
    return f"{name}{next(_fresh)}"


def same_value(a, b) -> bool:
    """Equal, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (math.isnan(a) and math.isnan(b))
    return a == b


values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
              st.binary(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.frozensets(st.integers(), max_size=4),
        st.sets(st.text(max_size=3), max_size=4),
    ),
    max_leaves=10,
)


@pytest.mark.points(3)
@given(value=values)
def test_results_come_back_equal_and_of_the_same_type(squares, process, mc, stand_ins, server, value):
    """A memoized function returns its result, and later the cached copy (a hit in memcached): equal, and of
    the same types."""
    name = fresh_prefix("value")
    function, calls = stand_ins(name, ("const", value))
    memoized = squares.memoize(mc, name)(function)
    first = memoized(42)
    barrier(process, mc)
    counters = Counters([server])
    second = memoized(42)
    barrier(process, mc)
    counted = counters.since()
    assert same_value(first, value), f"the first call returned {first!r}; the function returned {value!r}"
    assert same_value(second, value), f"the cached result came back as {second!r}; it was {value!r}"
    assert counted["get_hits"] >= 1 and counted["cmd_set"] == 0, (
        f"the second call with the same argument: memcached counted {counted['get_hits']} hit(s) and "
        f"{counted['cmd_set']} store(s); it should be a hit there, storing nothing")
    assert calls == [(42,)], f"called {len(calls)} times for the same argument; expected once"


@pytest.mark.points(1)
@pytest.mark.parametrize("value", [None, 0, "", False], ids=repr)
def test_falsy_results_are_hits(squares, process, mc, stand_ins, server, value):
    """A cached None, 0, '', False (or any empty result) is a hit: the function is not called again."""
    function, calls = stand_ins("falsy", ("const", value))
    memoized = squares.memoize(mc, fresh_prefix("falsy"))(function)
    counters = Counters([server])
    results = [memoized("n"), memoized("n"), memoized("n")]
    barrier(process, mc)
    counted = counters.since()
    assert all(same_value(r, value) for r in results), f"returned {results!r}; expected {value!r} each time"
    assert counted["cmd_set"] == 1 and counted["get_hits"] >= 2, (
        f"three calls of a function returning {value!r}, with the same argument: memcached counted "
        f"{counted['cmd_set']} store(s) and {counted['get_hits']} hit(s), where one store and two hits are due: "
        "a cached falsy result must count as a hit (test `is None` on what memcached returns, before unpickling)")
    assert len(calls) == 1, (
        f"a function returning {value!r} was called {len(calls)} times for the same argument: "
        "a cached falsy result must count as a hit (test `is None` on what memcached returns, before unpickling)")


@pytest.mark.points(2)
def test_arguments_are_told_apart(squares, process, mc, stand_ins, server):
    """Each distinct tuple of positional arguments has its own entry in memcached."""
    function, ran = stand_ins("f", ("tagged", "result"))
    memoized = squares.memoize(mc, fresh_prefix("args"))(function)
    calls = [(1,), (2,), ("1",), (1, 2), ((1, 2),), (b"1",), (1,), (1, 2), ("1",)]
    counters = Counters([server])
    results = [memoized(*args) for args in calls]
    barrier(process, mc)
    counted = counters.since()
    assert results == [("result", args) for args in calls], f"results were {results!r}"
    assert counted["cmd_set"] == 6 and counted["get_hits"] >= 3, (
        f"six distinct argument tuples, three of them repeated: memcached counted {counted['cmd_set']} stores and "
        f"{counted['get_hits']} hits (expected an entry each: 6 stores, then 3 hits)")
    assert ran == calls[:6], (
        f"the function ran for {ran}; expected once for each distinct argument tuple {calls[:6]}")


@pytest.mark.points(3)
@given(prefixes=st.lists(st.text(max_size=8), min_size=2, max_size=2, unique=True),
       args=st.lists(st.one_of(st.text(max_size=5), st.integers(), st.none()), max_size=3).map(tuple))
def test_prefixes_never_share_entries(squares, process, mc, cache, stand_ins, server, prefixes, args):
    """Two functions memoized under different prefixes never see each other's entries."""
    cache.flush_all(noreply=False)
    (one, ran_one), (two, ran_two) = stand_ins(fresh_prefix("one"), ("tagged", "one")), \
        stand_ins(fresh_prefix("two"), ("tagged", "two"))
    first = squares.memoize(mc, prefixes[0])(one)
    second = squares.memoize(mc, prefixes[1])(two)
    counters = Counters([server])
    got = [first(*args), second(*args), first(*args), second(*args)]
    barrier(process, mc)
    counted = counters.since()
    assert got == [("one", args), ("two", args)] * 2, (
        f"under prefixes {prefixes[0]!r} and {prefixes[1]!r}, calls with {args!r} returned {got!r}")
    assert counted["cmd_set"] == 2 and counted["get_hits"] >= 2, (
        f"each function called twice with {args!r}: memcached counted {counted['cmd_set']} stores and "
        f"{counted['get_hits']} hits (expected an entry each: 2 stores, then 2 hits)")
    assert len(ran_one) == 1 and len(ran_two) == 1, (
        f"each function should run once; they ran {len(ran_one)} and {len(ran_two)} times")


@pytest.mark.points(2)
def test_prefix_and_arguments_are_not_confused(squares, process, mc, server):
    """memoize(mc, 'a:b') on f('c') and memoize(mc, 'a') on g('b', 'c') keep separate entries in memcached."""
    f, g = stand_in("f", ("const", "from f")), stand_in("g", ("const", "from g"))
    counters = Counters([server])
    results = [squares.memoize(mc, "a:b")(f)("c"), squares.memoize(mc, "a")(g)("b", "c")]
    barrier(process, mc)
    counted = counters.since()
    assert results == ["from f", "from g"], f"results were {results!r}: the two calls shared an entry"
    assert counted["cmd_set"] == 2, f"memcached counted {counted['cmd_set']} store(s) for the two calls, not 2"


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_results_live_in_memcached(squares, mc, stand_ins, student_process):
    """A result memoized by another process is a hit here: the cache is memcached, not a dict in the process."""
    prefix = fresh_prefix("shared")
    elsewhere = student_process("squares", hashseed="1").module()  # another process, another hash()
    there = elsewhere.memoize(mc, prefix)(stand_in("elsewhere", ("pair", "computed elsewhere")))(3)
    assert there == ("computed elsewhere", 3), f"in another process, the memoized f(3) returned {there!r}"
    function, calls = stand_ins("here", ("pair", "computed here"))
    here = squares.memoize(mc, prefix)(function)(3)
    assert calls == [] and here == ("computed elsewhere", 3), (
        f"another process memoized f(3) under prefix {prefix!r}, but here the function ran and returned "
        f"{here!r}: results must go to memcached, with keys that are the same in every process")


@pytest.mark.points(2)
def test_memoize_ttl_is_given_to_memcached(squares, mc, memcached_servers):
    """Results are stored with expire=ttl; the default ttl=0 means no expiry."""
    server = memcached_servers[0]
    squares.memoize(mc, "with-ttl", ttl=300)(stand_in("f", ("identity",)))(1)
    keys = list(server.keys())
    assert len(keys) == 1, f"one call of a memoized function should store one key; memcached holds {keys}"
    left = server.ttl(keys[0])
    assert left is not None and 290 <= left <= 300, f"stored with {left} s to live; expected expire=300"
    squares.memoize(mc, "without-ttl")(stand_in("g", ("identity",)))(1)
    rest = [k for k in server.keys() if k != keys[0]]
    assert len(rest) == 1 and server.ttl(rest[0]) == -1, (
        f"with the default ttl=0 the entry should never expire; found {[(k, server.ttl(k)) for k in rest]}")


@pytest.mark.points(3)
@pytest.mark.timeout(30)
def test_failing_memcached_is_not_a_dependency(squares, memcached_server, dead_address, client_for):
    """With memcached unreachable or killed mid-test, the function still runs and its result is returned."""
    unreachable = client_for(dead_address, connect_timeout=1, timeout=1)
    server = memcached_server()
    live = client_for(server.address)
    for client, what in ((unreachable, "unreachable"), (live, "killed mid-test")):
        memoized = squares.memoize(client, fresh_prefix("down"))(stand_in("f", ("times", 10)))
        if client is live:
            memoized(1)
            server.kill()
        for x in (1, 2, 2):
            try:
                result = memoized(x)
            except StudentCodeRaised as exc:
                pytest.fail(f"with memcached {what}, the memoized function raised {exc.type_name}: {exc.message}",
                            pytrace=False)
            assert result == x * 10, f"with memcached {what}, f({x}) returned {result!r}"
