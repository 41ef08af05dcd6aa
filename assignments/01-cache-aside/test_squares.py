"""A first feel for 01-cache-aside: run `pytest` in this folder.

These few tests are only a start; the grade comes from more thorough hidden
tests of every clause of the handout. They use a real memcached server: the
`mc` fixture is a pymemcache client for a throwaway server, emptied before each
test (see harness.py).
"""
import squares


def test_square_key():
    assert squares.square_key(7) == "sq:7"
    assert squares.square_key(-3) == "sq:-3"


def test_a_miss_then_a_hit(mc, monkeypatch):
    computed = []

    def recording_square(n):
        computed.append(n)
        return n * n

    monkeypatch.setattr(squares, "expensive_square", recording_square)
    assert squares.fetch_square(mc, 7) == 49  # a miss: computed and stored
    assert squares.fetch_square(mc, 7) == 49  # a hit: straight from memcached
    assert computed == [7]
    assert mc.get("sq:7") == b"49"


def test_make_key_is_safe_for_memcached():
    key = squares.make_key("greeting", "hello world", 42)
    assert key.isascii() and len(key) <= 250
    assert not any(c.isspace() for c in key)


def test_memoize_caches_none(mc):
    calls = []

    @squares.memoize(mc, "nothing")
    def nothing(x):
        calls.append(x)
        return None

    assert nothing(1) is None
    assert nothing(1) is None
    assert calls == [1]
