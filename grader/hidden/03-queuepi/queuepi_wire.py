"""estimate_pi's pipelines as the judge saw them cross loopback TCP, and whether one of them gives the estimate.

Pure: from the connections captured while estimate_pi ran (loopback.py), each end's ZMTP decoded (zmtp.py),
it finds the contract's sockets by the types their handshakes announced: bitsource's PUB (or XPUB) and the
points it published on each subscriber's connection, pythagoras's REP and the questions judge's REQ asked it,
and tally's PULL and the decisions each PUSH sent it. A returned estimate counts only if a pipeline of those
explains it: every stream of decisions reaching one tally is the contract's decision for the points one
subscriber received, in order (a point not starting '00' asked of pythagoras and answered right), no stream
explained twice, and the estimate is 4 * yes / points for `points` of those decisions (rounded at most to five
decimals). Which `points` tally
read first is not on the wire (its PULL takes from the two pushers in turns), so any split of them between
the streams, each taken from its start, is allowed: when exactly `points` decisions were sent, that is one.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from loopback import Connection
from zmtp import Said, decode

PUBLISHERS, SUBSCRIBERS = {"PUB", "XPUB"}, {"SUB", "XSUB"}
ANSWERERS, ASKERS = {"REP", "ROUTER"}, {"REQ", "DEALER"}
ROUNDING = 1e-5  # an estimate rounded to five decimals (as main prints it) is still tally's
PUSHERS = 4  # PUSH connections to one tally that the judge looks through, at the most (the contract makes two)
Address = tuple[str, int]


@dataclass
class Talk:
    """One connection, decoded: what each end said, and which socket type each announced."""

    client: Address
    server: Address
    sent: Said  # by the connecting socket
    received: Said  # by the bound one
    size: int  # bytes, both ways

    def between(self, servers: set[str], clients: set[str]) -> bool:
        return self.received.socket_type in servers and self.sent.socket_type in clients


@dataclass
class Wire:
    """The contract's sockets among the connections of one capture."""

    publishers: dict[Address, list[list[bytes]]]  # a PUB's address: the points on each subscriber's connection
    askings: list[list[tuple[bytes, bytes]]]  # each REQ's questions to a REP, each with its answer, in order
    tallies: dict[Address, list[list[tuple[bytes, ...]]]]  # a PULL's address: the decisions from each PUSH
    talks: list[Talk]


def wire(connections: list[Connection]) -> Wire:
    talks = [Talk(c.client, c.server, decode(c.sent), decode(c.received), len(c.sent) + len(c.received))
             for c in connections]
    publishers: dict[Address, list[list[bytes]]] = {}
    tallies: dict[Address, list[list[tuple[bytes, ...]]]] = {}
    askings: list[list[tuple[bytes, bytes]]] = []
    for t in talks:
        if t.between(PUBLISHERS, SUBSCRIBERS):
            publishers.setdefault(t.server, []).append([m[0] if len(m) == 1 else b"" for m in t.received.messages])
        elif t.between({"PULL"}, {"PUSH"}):
            tallies.setdefault(t.server, []).append(t.sent.messages)
        elif t.between(ANSWERERS, ASKERS):
            askings.append(list(zip([m[-1] for m in t.sent.messages], [m[-1] for m in t.received.messages])))
    return Wire(publishers, askings, tallies, talks)


def coordinates(point: bytes) -> list[int] | None:
    """The [n, m] judge asks about for a point's bits; None for anything but 64 characters of '0' and '1'."""
    if len(point) != 64 or set(point) - set(b"01"):
        return None
    bits = point.decode("ascii")
    return [int(bits[::2], 2), int(bits[1::2], 2)]


def decision(point: bytes) -> tuple[bytes, ...] | None:
    """The contract's decision for a point (always_yes's 'Y' for '00' is the rule's answer too)."""
    xy = coordinates(point)
    return None if xy is None else (b"Y",) if xy[0] ** 2 + xy[1] ** 2 < 2 ** 64 else (b"N",)


def _asked(points: list[bytes], askings) -> bool:
    """Did judge's REQ ask pythagoras about each of these points, in order, and get the right answer?"""
    wanted = [coordinates(p) for p in points]
    for answered in askings:
        if len(answered) < len(wanted):
            continue
        try:
            pairs = [(json.loads(q), json.loads(a)) for q, a in answered[:len(wanted)]]
        except (ValueError, RecursionError):
            continue
        if pairs == [(xy, xy[0] ** 2 + xy[1] ** 2) for xy in wanted]:
            return True
    return False


def _explains(stream: list[tuple[bytes, ...]], points: list[bytes], askings) -> bool:
    """Is `stream` the contract's decisions for the first of `points`, each judged point asked of pythagoras?"""
    taken = points[:len(stream)]
    if len(taken) < len(stream) or stream != [decision(p) for p in taken]:
        return False
    return all(p.startswith(b"00") for p in taken) or _asked(taken, askings)


def _yes_range(streams: list[list[tuple[bytes, ...]]], points: int) -> tuple[int, int]:
    """The fewest and the most 'Y' among `points` decisions taken from the streams, each from its start."""
    lengths = [len(s) for s in streams]
    low = high = 0
    for i, stream in enumerate(streams):
        least = max(0, points - (sum(lengths) - lengths[i]))
        most = min(lengths[i], points)
        low += stream[:least].count((b"Y",))
        high += stream[:most].count((b"Y",))
    return low, high


def why_not(estimate: float, tally: Address, seen: Wire, points: int) -> str | None:
    """Why the pipeline around the tally at `tally` cannot give `estimate` from `points` decisions; None if it can."""
    streams = [s for s in seen.tallies[tally] if s]
    if sum(map(len, streams)) < points:
        return f"{sum(map(len, streams)):,} decisions reached it, not {points:,}"
    if len(streams) > PUSHERS:
        return f"{len(streams)} PUSH connections sent it decisions: always_yes and judge make two"
    if not seen.publishers:
        return "no PUB (or XPUB) sent points to a SUB over loopback TCP, for its decisions to be about"
    if not any(all(_explains(s, p, seen.askings) for s, p in zip(streams, chosen))
               for branches in seen.publishers.values() for chosen in itertools.permutations(branches, len(streams))):
        return ("its decisions are not the contract's decisions for the points a PUB published to a SUB "
                "(each point not starting '00' asked of a REP and answered right), one stream per subscriber")
    low, high = (4 * yes / points for yes in _yes_range(streams, points))
    if not low - ROUNDING <= estimate <= high + ROUNDING:
        return (f"4 * yes / {points:,} for the {points:,} decisions tally read is "
                + (f"{low}" if low == high else f"between {low} and {high}") + f", not {estimate!r}")
    return None


def unexplained(estimates: list[float], seen: Wire, points: int) -> list[str]:
    """[] when each estimate comes from a pipeline of its own that the judge saw; else what it saw instead."""
    if not seen.tallies:
        return ["no PULL socket received decisions from a PUSH over loopback TCP: " + summary(seen)]
    fits = [{t for t in seen.tallies if why_not(e, t, seen, points) is None} for e in estimates]
    if any(len(set(match)) == len(match) for match in itertools.product(*fits)):
        return []
    reasons = dict.fromkeys(f"tally's PULL at port {t[1]}: {why}" for e in estimates for t in seen.tallies
                            if (why := why_not(e, t, seen, points)))
    return [*list(reasons)[:4], summary(seen)]


def summary(seen: Wire) -> str:
    """What the judge saw, in a line: each bound socket, its type, and what crossed its connections."""
    servers: dict[Address, list[Talk]] = {}
    for t in seen.talks:
        servers.setdefault(t.server, []).append(t)
    parts = []
    for address, talks in list(servers.items())[:8]:
        kind, peers = talks[0].received.socket_type, "/".join(sorted({str(t.sent.socket_type) for t in talks}))
        size = f"{sum(t.size for t in talks):,} bytes"
        if kind is None:
            parts.append(f"port {address[1]}: {len(talks)} connection(s) speaking no ZMTP, {size}")
        else:
            out, into = (sum(len(t.received.messages) for t in talks), sum(len(t.sent.messages) for t in talks))
            parts.append(f"port {address[1]}: a {kind} with {len(talks)} connection(s) from {peers}, {out:,} "
                         f"messages out, {into:,} in ({size})")
    return "what crossed loopback TCP: " + ("; ".join(parts) or "nothing")
