"""ZeroMQ's wire protocol, ZMTP 3 (rfc.zeromq.org/spec/23 and /37), read from one direction of a TCP connection.

Pure: bytes in, what the sending socket said out: the socket type it announced in its handshake (the READY
command's Socket-Type), the messages it sent (each a tuple of frames), and the subscriptions it sent as
ZMTP 3.1's SUBSCRIBE commands (a 3.0 SUB sends them as messages instead: b'\\x01' + prefix). Only the NULL
security mechanism, ZeroMQ's default, is readable: the others encrypt, or say nothing of the socket type.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

GREETING = 64  # signature (10), version (2), mechanism (20), as-server (1), filler (31)
MESSAGES = 250_000  # read at most, each way (25 for each of 10,000 points): a flood is not read to its end
MORE, LONG, COMMAND = 1, 2, 4


@dataclass
class Said:
    """What one ZeroMQ socket sent over one connection."""

    socket_type: str | None = None  # from READY: 'PUB', 'SUB', 'REQ', ... (None: no handshake seen)
    messages: list[tuple[bytes, ...]] = field(default_factory=list)
    subscriptions: list[bytes] = field(default_factory=list)
    problem: str = ""  # why decoding stopped early; '' when every byte was read (a last frame cut short aside)


def _properties(data: bytes) -> dict[str, bytes]:
    found, at = {}, 0
    while at < len(data):
        size = data[at]
        name = data[at + 1:at + 1 + size].decode("ascii", "replace")
        (length,) = struct.unpack_from("!I", data, at + 1 + size)
        start = at + 5 + size
        found[name.lower()] = data[start:start + length]
        at = start + length
    return found


def decode(data: bytes) -> Said:
    """What the socket at one end of a connection sent, from the bytes it sent in order."""
    said = Said()
    if len(data) < GREETING:
        said.problem = f"{len(data)} bytes, short of a ZMTP greeting" if data else ""
        return said
    if data[0] != 0xFF or data[9] != 0x7F or data[10] < 3:
        said.problem = "not a ZMTP 3 greeting"
        return said
    mechanism = data[12:32].rstrip(b"\0")
    if mechanism != b"NULL":
        said.problem = f"the {mechanism.decode('ascii', 'replace')} security mechanism, not NULL"
        return said
    at, frames = GREETING, []
    while at + 2 <= len(data):
        flags = data[at]
        if flags & LONG:
            if at + 9 > len(data):
                break
            size, start = struct.unpack_from("!Q", data, at + 1)[0], at + 9
        else:
            size, start = data[at + 1], at + 2
        if start + size > len(data):
            break  # the last frame, cut short where the capture (or the connection) ended
        body, at = data[start:start + size], start + size
        if flags & COMMAND:
            _command(said, body)
            continue
        frames.append(body)
        if not flags & MORE:
            said.messages.append(tuple(frames))
            frames = []
            if len(said.messages) == MESSAGES:
                said.problem = f"more than {MESSAGES:,} messages: the rest were not read"
                break
    return said


def _command(said: Said, body: bytes) -> None:
    name = body[1:1 + body[0]] if body else b""
    data = body[1 + len(name):]
    if name == b"READY":
        try:
            said.socket_type = _properties(data).get("socket-type", b"").decode("ascii", "replace") or None
        except (IndexError, struct.error):
            said.problem = "a READY command that does not parse"
    elif name == b"SUBSCRIBE":
        said.subscriptions.append(data)
