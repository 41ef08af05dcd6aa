"""01-cache-aside: make_key, a memcached-safe key that never confuses two inputs.

Fairness: "different inputs give different keys" is checked only for inputs that
Python itself calls unequal (so a make_key may, like functools.lru_cache, treat
1, 1.0 and True alike, or 0.0 and -0.0), and "the same inputs give the same key"
only for inputs of the same types and values.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

atoms = st.one_of(
    st.text(max_size=30),
    st.binary(max_size=30),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
parts_strategy = st.recursive(atoms, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=6)
inputs = st.tuples(st.text(max_size=20), st.lists(parts_strategy, max_size=4).map(tuple))


def same(a, b) -> bool:
    """The same input: same types all the way down, same values."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(same(x, y) for x, y in zip(a, b)))
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (math.isnan(a) and math.isnan(b))
    return a == b


def equal(a, b) -> bool:
    """Equal as Python compares them (1 == 1.0 == True): inputs a make_key may treat alike."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(equal(x, y) for x, y in zip(a, b)))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# -- near misses: pairs of inputs that careless keys confuse -------------------


def _as_str(part):
    return part.decode("utf-8", "replace") if isinstance(part, bytes) else str(part)


@st.composite
def near_misses(draw):
    """An input, and a second one made from it by an edit that naive keys do not see."""
    prefix, parts = draw(inputs)
    parts = list(parts) or [draw(st.text(max_size=10))]
    i = draw(st.integers(0, len(parts) - 1))
    part = parts[i]
    edit = draw(st.sampled_from([
        "retype", "join", "split", "into-prefix", "wrap", "space", "long-tail", "case", "drop-empty",
    ]))
    other = list(parts)
    other_prefix = prefix
    if edit == "retype":  # 'a' / b'a' / 1 / '1' / None / 'None' / (x,) / x
        other[i] = draw(st.sampled_from([_as_str(part), _as_str(part).encode("utf-8"), (part,), repr(part)]))
    elif edit == "join" and i + 1 < len(parts):  # ('a', 'b') -> ('a:b',)
        sep = draw(st.sampled_from([":", "", " ", "_", ",", "|", "/", "-", "\x00"]))
        other[i:i + 2] = [_as_str(parts[i]) + sep + _as_str(parts[i + 1])]
    elif edit == "split":  # 'a:b' -> ('a', 'b')
        text = _as_str(part)
        cut = draw(st.integers(0, len(text)))
        other[i:i + 1] = [text[:cut], text[cut:]]
    elif edit == "into-prefix":  # ('p', 'x', ...) -> ('p:x', ...)
        sep = draw(st.sampled_from([":", "", "_", " "]))
        other_prefix = prefix + sep + _as_str(parts[0])
        other = other[1:]
    elif edit == "wrap":
        other = [tuple(parts)]
    elif edit == "space":  # whitespace and control characters folded into something safe
        text = _as_str(part)
        other[i] = text + draw(st.sampled_from([" ", "_", "\t", "\n", "%20", "\x7f", "?"]))
        other_prefix = prefix if draw(st.booleans()) else prefix.replace(" ", "_") + " "
    elif edit == "long-tail":  # long inputs that differ only at the end, past any truncation
        body = draw(st.text(min_size=1, max_size=5)) * 100
        parts[i], other[i] = body + "a", body + "b"
    elif edit == "case":
        other[i] = _as_str(part).swapcase() + "A"
        parts[i] = _as_str(part).swapcase() + "a"
    elif edit == "drop-empty":
        other.insert(i, "")
    return (prefix, tuple(parts)), (other_prefix, tuple(other))


def _check_pair(squares, a, b):
    key_a, key_b = squares.make_key(a[0], *a[1]), squares.make_key(b[0], *b[1])
    if same(a, b):
        assert key_a == key_b, f"the same input gave two keys: {a!r} -> {key_a!r} and {key_b!r}"
    elif not equal(a, b):
        assert key_a != key_b, (
            f"two different inputs share the key {key_a!r}:\n  make_key{(a[0],) + a[1]!r}\n"
            f"  make_key{(b[0],) + b[1]!r}")


def _pair(prefix_a, parts_a, prefix_b, parts_b):
    return (prefix_a, parts_a), (prefix_b, parts_b)


@pytest.mark.points(6)
@given(pair=near_misses())
@example(pair=_pair("p", ("a:b",), "p", ("a", "b")))
@example(pair=_pair("p", ("x y",), "p", ("x_y",)))
@example(pair=_pair("p:a", ("b",), "p", ("a", "b")))
@example(pair=_pair("p", ("a",), "p", (b"a",)))
@example(pair=_pair("p", (1,), "p", ("1",)))
@example(pair=_pair("p", (None,), "p", ("None",)))
@example(pair=_pair("p", (True,), "p", ("True",)))
@example(pair=_pair("p", (("a", "b"),), "p", ("a", "b")))
@example(pair=_pair("p", ("x" * 300 + "a",), "p", ("x" * 300 + "b",)))
@example(pair=_pair("p", (0.1,), "p", (0.1000000000000001,)))
@example(pair=_pair("p", (), "p", ("",)))
@example(pair=_pair("a b", (), "a_b", ()))
def test_different_inputs_get_different_keys(squares, pair):
    """Inputs that differ (joined or split parts, str and bytes, spaces, long tails, prefixes) never share a key."""
    _check_pair(squares, *pair)


def _is_safe(key) -> str | None:
    if not isinstance(key, str):
        return f"the key should be a str, not {type(key).__name__}"
    if not key.isascii():
        return "it has non-ASCII characters"
    if len(key.encode("ascii")) > 250:
        return f"it is {len(key)} bytes long; memcached allows 250"
    bad = sorted({c for c in key if ord(c) <= 32 or ord(c) == 127})
    if bad:
        return f"it has whitespace or control characters {bad!r}"
    if not key:
        return "it is empty"
    return None


@pytest.mark.points(4)
@given(prefix=st.text(max_size=300), parts=st.lists(parts_strategy, max_size=5).map(tuple))
@example(prefix="sq", parts=(7,))
@example(prefix="f oo\t\n\r\x00", parts=(" a b ", "\x7f", b"\x00 \xff"))
@example(prefix="p", parts=("é€😀\u200b",))
@example(prefix="p" * 240, parts=("q" * 5000,))
@example(prefix="", parts=())
def test_keys_are_memcached_safe(squares, cache, prefix, parts):
    """Every key is ASCII, at most 250 bytes, without whitespace or control characters, and memcached takes it."""
    key = squares.make_key(prefix, *parts)
    problem = _is_safe(key)
    assert problem is None, f"make_key{(prefix,) + parts!r} = {key!r}: {problem}"
    cache.set(key, b"ok", noreply=False)
    assert cache.get(key) == b"ok", f"memcached did not keep a value under {key!r}"


SAMPLES = [
    ("sq", (7,)), ("sq", (-7,)), ("fib", (10, 20)), ("p", ("a b",)), ("p", (b"\x00\xff",)),
    ("p", (None, True, False, 0, 0.5, -0.0, 1e300)), ("p", (("a", ("b", b"c")),)), ("p", ("x" * 1000,)),
    ("ünïcode", ("😀", "\u200b")), ("p", (float("inf"), float("-inf"))), ("", ()), ("p", ("",)),
    ("p", (12345678901234567890123,)), ("p", ("a:b", "c")), ("p\n", ("\t",)),
]


def keys_for(squares, samples):
    """The keys of `samples`, as the process of `squares` makes them."""
    return [squares.make_key(prefix, *parts) for prefix, parts in samples]


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_keys_are_the_same_in_every_process(squares, student_process):
    """The same inputs give the same key in any process, whatever PYTHONHASHSEED is (so no hash())."""
    here = keys_for(squares, SAMPLES)
    for seed in ("1", "2"):
        there = keys_for(student_process("squares", hashseed=seed).module(), SAMPLES)
        differing = [(s, a, b) for s, a, b in zip(SAMPLES, here, there) if a != b]
        assert not differing, (
            f"with PYTHONHASHSEED={seed} another process made other keys, e.g. make_key"
            f"{(differing[0][0][0],) + differing[0][0][1]!r}: {differing[0][1]!r} here, {differing[0][2]!r} there")
    again = keys_for(squares, SAMPLES)
    assert again == here, "make_key gave other keys when called again with the same inputs"
    nan = float("nan")
    assert squares.make_key("p", nan) == squares.make_key("p", nan), "make_key('p', nan) is not repeatable"
