"""Descriptions of the live objects a hidden test passes into a student process, built there.

What cannot travel as plain data (a pymemcache client, a zmq.Context, a stand-in function,
a socket, a generator) is described here by the judge and built by the student side
(student_side.py: BUILDERS), once per description; `process.handle(description)` reaches it.
"""
from __future__ import annotations

import itertools

from grader import wire


def stand_in(name: str, returns=("square",), sleep: float = 0.0, stall: tuple | None = None) -> wire.Live:
    """A function built in the student process that reports each call to the judge.

    `returns`: ('square',) n*n, ('times', k) x*k, ('tagged', tag) (tag, args),
    ('pair', tag) (tag, x), ('identity',) x, ('const', value) the value,
    ('table', {x: value}, default) the value the judge gave for x (the default for any other x),
    ('ask',) what the judge answers at the moment of the call (StudentProcess.answer): no report, and
    no answer in the student process before the call.
    `stall`: (x, seconds): the first call with the first argument x sleeps that long
    instead of `sleep` (a worker stuck in the middle of one request).
    """
    spec = {"name": name, "returns": list(returns), "sleep": sleep}
    if stall is not None:
        spec["stall"] = list(stall)
    return wire.Live("stand_in", spec, name)


def one_pass(items: list, kind: str = "generator", label: str = "") -> wire.Live:
    """`items` as an iterable built in the student process that can be gone through once only and has
    no len(): a generator, or (kind 'map') a map object. Built anew each time it is passed."""
    return wire.Live("one_pass", {"items": list(items), "kind": kind}, label or f"a {kind} of {len(items)} items")


def builtin(name: str) -> wire.Live:
    """A builtin function of the student process (`process.handle(builtin("dict"))(kept)`): to make plain
    data of a kept result whose type the contract leaves open (a Counter is a dict)."""
    return wire.Live("builtin", {"name": name}, name)


def memcached_client(kind: str, servers: list[tuple[str, int]], label: str = "mc", **options) -> wire.Live:
    """A pymemcache client ('base', 'pooled' or 'hash') built in the student process."""
    return wire.Live("memcached_client", {"kind": kind, "servers": [list(s) for s in servers],
                                          "options": options}, label)


def zmq_context(name: str = "zcontext") -> wire.Live:
    """A zmq.Context built in the student process; `process.handle(it).term()` terminates it."""
    return wire.Live("zmq_context", {"name": name}, name)


def random_generator(seed: int, name: str = "rng") -> wire.Live:
    """A random.Random(seed) built in the student process (one per name: the same name, the same generator)."""
    return wire.Live("random_generator", {"seed": seed, "name": name}, name)


def text_stream(name: str = "out") -> wire.Live:
    """A text stream built in the student process: each write reaches the judge as a `name` event."""
    return wire.Live("text_stream", {"name": name}, name)


_sockets = itertools.count(1)


def tcp_socket(label: str = "sock", listening: bool = False) -> wire.Live:
    """A new TCP socket built in the student process (`listening`: on 127.0.0.1, a port the system
    chooses): each call describes another one. The judge reads its options itself (duplicate_socket)."""
    return wire.Live("tcp_socket", {"serial": next(_sockets), "listening": listening}, label)


def repeated(parts: list[tuple], label: str = "lines") -> wire.Live:
    """[value * times for (value, times) in parts], built in the student process: arguments too large
    to send (lines of megabytes)."""
    return wire.Live("repeated", {"parts": [[value, times] for value, times in parts]}, label)


def library(name: str) -> wire.Live:
    """A standard module in the student process, to call its functions there:
    `process.handle(library("socket")).setdefaulttimeout(30)`, `process.handle(library("random")).seed(1)`."""
    return wire.Live("library", {"name": name}, name)
