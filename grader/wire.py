"""Plain data between the judge and the student process: the only thing that crosses.

Nothing the judge receives is unpickled or evaluated. A message is JSON, with a
few tagged objects for what JSON lacks, checked type by type on the way in and on
the way out:

    None, bool, int, float, str     as JSON (NaN and the infinities included)
    bytes                           {"$b": "<base64>"}
    list                            [...]
    tuple, set, frozenset           {"$t": [...]}, {"$s": [...]}, {"$f": [...]}
    dict (any plain keys, in order) {"$d": [[key, value], ...]}

Only exact types travel (a subclass of int is not an int here), nesting stops at
MAX_DEPTH and a message at MAX_BYTES. Two more tags go from the judge to the
student only: `Live` (an object the student side builds from a description: a
memcached client, a stand-in function) and `Ref` (an object the student side
keeps, such as the function a decorator returned). The judge decodes with
`trusted=False`, which refuses them.

This module is pure (no sockets, no processes) and loads on its own: the student
process imports it by path, since it cannot import the `grader` package.
"""
from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field

MAX_DEPTH = 40
MAX_BYTES = 16 * 1024 * 1024
HEADER = struct.Struct(">I")
PLAIN = "None, bool, int, float, str, bytes, and lists, tuples, dicts and sets of them"


class Refused(ValueError):
    """The value is not plain data (or is too deep, or too big): it does not cross."""


@dataclass(frozen=True)
class Live:
    """An object the student process builds from this description (judge to student only)."""

    kind: str
    spec: dict = field(default_factory=dict)
    label: str = ""  # how failure messages name it: 'mc', 'expensive_square'

    def __repr__(self) -> str:
        return self.label or f"<{self.kind}>"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis lists fixtures so; the report drops <...>
        printer.text(f"<{self!r}>")


@dataclass(frozen=True)
class Ref:
    """An object the student process keeps under a number (a decorator's result, say)."""

    number: int
    label: str = ""

    def __repr__(self) -> str:
        return self.label or f"<object {self.number}>"


def _where(path: str | None) -> str:
    return f" at {path}" if path else ""


def _below(path: str | None, step) -> str | None:
    """Where the item `step` (an index, a dict's key) below `path` is: `[3]['k']`. None (the quick way) stays None."""
    return None if path is None else f"{path}[{step!r}]"[:200]


def to_json(value, trusted: bool = False, depth: int = 0, path: str | None = ""):
    """The JSON-ready form of `value`; raises Refused for anything that is not plain data.

    The quick way (`path=None`) does not keep track of where it is; dumps goes that way,
    and only when it refuses goes again the slow way, for the message's `at [3]['k']`."""
    if depth > MAX_DEPTH:
        raise Refused(f"nested deeper than {MAX_DEPTH} levels{_where(path)}")
    kind = type(value)
    if value is None or kind in (bool, str, float):
        return value
    if kind is int:
        if value.bit_length() > 13000:  # about 4000 decimal digits, under Python's own limit
            raise Refused(f"an int of {value.bit_length()} bits is too large{_where(path)}")
        return value
    if kind is bytes:
        return {"$b": base64.b64encode(value).decode("ascii")}
    if kind is list:
        if all(type(v) is str for v in value):  # words, keys, names: thousands of them, quickly
            return list(value)
        return [to_json(v, trusted, depth + 1, _below(path, i)) for i, v in enumerate(value)]
    if kind in (tuple, set, frozenset):
        tag = {tuple: "$t", set: "$s", frozenset: "$f"}[kind]
        items = value if kind is tuple else sorted(value, key=repr)  # the same bytes for the same set
        return {tag: [to_json(v, trusted, depth + 1, _below(path, i)) for i, v in enumerate(items)]}
    if kind is dict:
        return {"$d": [[to_json(k, trusted, depth + 1, None if path is None else f"{path}<key>"),
                        to_json(v, trusted, depth + 1, _below(path, k))]
                       for k, v in value.items()]}
    if trusted and kind is Live:
        return {"$live": [value.kind, to_json(value.spec, trusted, depth + 1, path), value.label]}
    if trusted and kind is Ref:
        return {"$ref": [value.number, value.label]}
    raise Refused(f"a {kind.__name__} is not plain data{_where(path)}")


def _hashable(value, path: str | None):
    try:
        hash(value)
    except TypeError:
        raise Refused(f"a {type(value).__name__} cannot be a set member or dict key{_where(path)}") from None
    return value


def from_json(node, trusted: bool = False, depth: int = 0, path: str | None = ""):
    """The value that `node` (parsed JSON) stands for; raises Refused for anything unknown (the quick
    way, `path=None`, as to_json)."""
    if depth > MAX_DEPTH:
        raise Refused(f"nested deeper than {MAX_DEPTH} levels{_where(path)}")
    kind = type(node)
    if node is None or kind in (bool, str, int, float):
        return node
    if kind is list:
        if all(type(v) is str for v in node):
            return node
        return [from_json(v, trusted, depth + 1, _below(path, i)) for i, v in enumerate(node)]
    if kind is not dict or len(node) != 1:
        raise Refused(f"unexpected JSON {kind.__name__}{_where(path)}")
    (tag, body), = node.items()
    if tag == "$b" and type(body) is str:
        try:
            return base64.b64decode(body.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise Refused(f"bad base64{_where(path)}") from None
    if tag in ("$t", "$s", "$f", "$d") and type(body) is list:
        items = [from_json(v, trusted, depth + 1, _below(path, i)) for i, v in enumerate(body)]
        if tag == "$t":
            return tuple(items)
        if tag == "$d":
            if not all(type(pair) is list and len(pair) == 2 for pair in items):
                raise Refused(f"a dict must be a list of [key, value] pairs{_where(path)}")
            return {_hashable(k, path): v for k, v in items}
        members = [_hashable(v, path) for v in items]
        return set(members) if tag == "$s" else frozenset(members)
    if trusted and tag == "$live" and type(body) is list and len(body) == 3:
        spec = from_json(body[1], trusted, depth + 1, path)
        if type(body[0]) is not str or type(spec) is not dict:
            raise Refused(f"bad live object{_where(path)}")
        return Live(body[0], spec, str(body[2]))
    if trusted and tag == "$ref" and type(body) is list and len(body) == 2 and type(body[0]) is int:
        return Ref(body[0], str(body[1]))
    raise Refused(f"unknown tag {tag[:20]!r}{_where(path)}")


def _quickly(convert, value, trusted: bool):
    """convert(value) the quick way; when it refuses, again the slow way, whose message says where."""
    try:
        return convert(value, trusted, 0, None)
    except Refused:
        return convert(value, trusted, 0, "")


def dumps(value, trusted: bool = False) -> bytes:
    """`value` as the bytes of one message (no length header)."""
    try:
        text = json.dumps(_quickly(to_json, value, trusted), separators=(",", ":"))
    except RecursionError:
        raise Refused(f"nested deeper than {MAX_DEPTH} levels") from None
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BYTES:
        raise Refused(f"{len(data)} bytes is more than the {MAX_BYTES} a message may hold")
    return data


def loads(data: bytes, trusted: bool = False):
    """The value of one message; raises Refused for anything but plain data."""
    if len(data) > MAX_BYTES:
        raise Refused(f"{len(data)} bytes is more than the {MAX_BYTES} a message may hold")
    try:
        node = json.loads(data.decode("utf-8", "surrogatepass"))
    except RecursionError:
        raise Refused(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise Refused(f"not a message: {type(exc).__name__}") from None
    return _quickly(from_json, node, trusted)


def frame(data: bytes) -> bytes:
    """A length header, then the message."""
    return HEADER.pack(len(data)) + data


def length_of(header: bytes) -> int:
    """The length a header announces; raises Refused when it is more than a message may hold."""
    (length,) = HEADER.unpack(header)
    if length > MAX_BYTES:
        raise Refused(f"a message of {length} bytes is more than the {MAX_BYTES} allowed")
    return length


def receive_bytes(stream) -> bytes | None:
    """The next message's bytes from a buffered binary stream (a socket's `makefile("rb")`: most messages
    then cost one system call, not two); None when the stream ends first. Refused when too long."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    length = length_of(header)
    body = stream.read(length)
    return body if len(body) == length else None


def receive(stream, trusted: bool = False):
    """The next message from a buffered binary stream (see receive_bytes); None when the stream ends
    first. Raises Refused as loads does."""
    body = receive_bytes(stream)
    return None if body is None else loads(body, trusted)
