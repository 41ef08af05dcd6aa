"""The plain-data codec between judge and student process: what crosses, and what is refused."""
from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader import wire
from grader.wire import Live, Ref, Refused

plain = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(), st.binary(max_size=4)), inner, max_size=4),
        st.frozensets(st.integers(), max_size=4), st.sets(st.text(max_size=3), max_size=4),
    ),
    max_leaves=12,
)


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (math.isnan(a) and math.isnan(b))
    return a == b


@given(plain)
def test_plain_data_comes_back_the_same(value):
    assert same(wire.loads(wire.dumps(value)), value)


@pytest.mark.parametrize("value", [1.5, -0.0, float("nan"), float("inf"), True, 1, b"\x00\xff", "\udc80",
                                   (1, [2, (3,)]), {(1, 2): {b"k": None}}, frozenset({1}), set()])
def test_types_are_kept_exactly(value):
    assert same(wire.loads(wire.dumps(value)), value)


class MyInt(int):
    pass


@pytest.mark.parametrize("value, why", [
    (object(), "object is not plain data"),
    (MyInt(3), "MyInt is not plain data"),
    ([1, {"a": lambda: 0}], "function is not plain data at [1]['a']"),
    (Live("stand_in", {}), "Live is not plain data"),
    (2 ** 20000, "too large"),
], ids=["object", "int-subclass", "function", "live", "huge-int"])
def test_what_is_not_plain_data_is_refused_with_where(value, why):
    with pytest.raises(Refused, match=why.replace("[", r"\[").replace("(", r"\(")):
        wire.dumps(value)


def test_depth_is_bounded_both_ways():
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(Refused, match="deeper"):
        wire.dumps(deep)
    with pytest.raises(Refused, match="deeper"):
        wire.loads(b"[" * 100_000 + b"]" * 100_000)


def test_size_is_bounded_both_ways():
    with pytest.raises(Refused, match="bytes"):
        wire.dumps(b"x" * wire.MAX_BYTES)
    with pytest.raises(Refused, match="bytes"):
        wire.length_of(wire.HEADER.pack(wire.MAX_BYTES + 1))


@pytest.mark.parametrize("data", [
    b'{"$live": ["stand_in", {"$d": []}, "x"]}',  # a live object only goes to the student
    b'{"$ref": [1, "x"]}',
    b'{"$pickle": "gASV"}', b'{"a": 1, "b": 2}', b'{"$b": "!!"}', b'{"$s": [[1]]}', b'{"$d": [[[1], 2]]}',
    b"not json", b"\xff\xfe", pickle.dumps(object()),
])
def test_the_judge_refuses_anything_else(data):
    with pytest.raises(Refused):
        wire.loads(data)


def test_live_objects_and_refs_go_to_the_student_only():
    request = {"args": [Live("memcached_client", {"kind": "base"}, "mc"), Ref(3, "f")]}
    back = wire.loads(wire.dumps(request, trusted=True), trusted=True)
    assert back == request and repr(back["args"][0]) == "mc"


def test_frames_carry_their_length():
    data = wire.dumps([1, "two"])
    framed = wire.frame(data)
    assert wire.length_of(framed[:wire.HEADER.size]) == len(data) and framed[wire.HEADER.size:] == data
