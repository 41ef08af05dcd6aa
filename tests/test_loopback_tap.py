"""The judge's view of loopback TCP (grader/hidden/loopback.py) and of ZeroMQ on it (zmtp.py): every message of
real ZeroMQ sockets read back from the capture, with the socket types their handshakes announced; a capture
that lost packets says so; the pure parts on hand-made bytes.

The captures run in a forked child moved into a network namespace of its own (as grading does), so that
nothing else on this machine's loopback is seen, and nothing of theirs by anyone else.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import threading

import pytest

from grader import course, lockdown

sys.path.insert(0, str(course.HIDDEN))
from loopback import Connection, LoopbackTap, Segment, connections  # noqa: E402
from zmtp import decode  # noqa: E402

APART = pytest.mark.skipif(not lockdown.may_have_own_network(), reason="needs root, or unprivileged user namespaces")


def in_a_network_of_its_own(function):
    """function()'s result (plain data), run in a forked child in a network namespace of its own."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            os.close(read)
            problem = lockdown.own_network()
            reply = {"problem": problem} if problem else {"result": function()}
            with os.fdopen(write, "w") as out:
                json.dump(reply, out)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as reading:
        text = reading.read()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, "the child failed"
    reply = json.loads(text)
    assert "problem" not in reply, reply
    return reply["result"]


def zeromq_talk() -> list:
    """A PUSH sends a PULL 3,000 two-frame messages (one of them longer than a short frame holds), then a REQ
    asks a REP 50 questions, all captured; what each connection's two ends said, decoded from the capture."""
    import zmq

    tap = LoopbackTap(lockdown.packet_socket())
    tap.start()
    context = zmq.Context()
    pull, rep = context.socket(zmq.PULL), context.socket(zmq.REP)
    pull_port, rep_port = pull.bind_to_random_port("tcp://127.0.0.1"), rep.bind_to_random_port("tcp://127.0.0.1")
    push, req = context.socket(zmq.PUSH), context.socket(zmq.REQ)
    push.connect(f"tcp://127.0.0.1:{pull_port}")
    req.connect(f"tcp://127.0.0.1:{rep_port}")
    for i in range(3000):
        push.send_multipart([b"%d" % i, b"x" * 300])
    for _ in range(3000):
        pull.recv_multipart()
    for i in range(50):
        req.send(b"q%d" % i)
        rep.send(rep.recv() + b"!")
        req.recv()
    captured = tap.stop()
    context.destroy(linger=0)
    tap.close()
    talks = []
    for c in connections(captured.segments):
        client, server = decode(c.sent), decode(c.received)
        talks.append([c.server[1] == pull_port, client.socket_type, server.socket_type,
                      [[f.decode() for f in m] for m in client.messages],
                      [[f.decode() for f in m] for m in server.messages]])
    return [captured.missed, talks]


@APART
def test_every_zeromq_message_is_read_back_from_the_capture_with_its_socket_types():
    missed, talks = in_a_network_of_its_own(zeromq_talk)
    assert missed == []
    assert len(talks) == 2
    pushed = next(t for t in talks if t[0])
    assert pushed[1:3] == ["PUSH", "PULL"]
    assert pushed[3] == [[str(i), "x" * 300] for i in range(3000)] and pushed[4] == []
    asked = next(t for t in talks if not t[0])
    assert asked[1:3] == ["REQ", "REP"]
    assert asked[3] == [["", f"q{i}"] for i in range(50)]  # REQ's empty delimiter frame, then the body
    assert asked[4] == [["", f"q{i}!"] for i in range(50)]


class StalledTap(LoopbackTap):
    """A tap whose reader never gets to run: the judge's thread kept from its work on a busy machine."""

    def _run(self) -> None:
        self._stop.wait()


def flood_a_small_ring() -> list:
    """4 MiB over one connection into a ring of two 256 KiB blocks that nobody empties."""
    import socket

    tap = StalledTap(lockdown.packet_socket(), blocks=2)
    tap.start()
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    sender = threading.Thread(target=client.sendall, args=(b"0" * (4 << 20),))
    sender.start()
    got = 0
    while got < 4 << 20:
        got += len(server.recv(1 << 20))
    sender.join()
    captured = tap.stop()
    tap.close()
    for end in client, server, listener:
        end.close()
    return [captured.missed, sum(len(c.sent) for c in connections(captured.segments))]


@APART
def test_a_capture_that_lost_packets_says_so():
    missed, kept = in_a_network_of_its_own(flood_a_small_ring)
    assert any("no room" in why for why in missed), missed
    assert kept < 4 << 20


# -- the pure parts, on hand-made bytes ---------------------------------------------------------------------


def frame(body: bytes, more: bool = False, command: bool = False) -> bytes:
    flags = (1 if more else 0) | (4 if command else 0)
    if len(body) > 255:
        return bytes([flags | 2]) + struct.pack("!Q", len(body)) + body
    return bytes([flags, len(body)]) + body


GREETING = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31
READY_SUB = b"\x05READY" + b"\x0bSocket-Type" + struct.pack("!I", 3) + b"SUB"


def test_zmtp_gives_the_socket_type_subscriptions_and_messages_and_stops_at_a_frame_cut_short():
    data = (GREETING + frame(READY_SUB, command=True) + frame(b"\x09SUBSCRIBE00", command=True)
            + frame(b"a", more=True) + frame(b"b" * 300) + frame(b"\x04PING\0\0", command=True) + frame(b"c")
            + frame(b"cut short")[:-3])
    said = decode(data)
    assert said.socket_type == "SUB" and said.subscriptions == [b"00"] and said.problem == ""
    assert said.messages == [(b"a", b"b" * 300), (b"c",)]


@pytest.mark.parametrize("data, problem", [
    (b"GET / HTTP/1.1\r\n" * 5, "not a ZMTP 3 greeting"),
    (GREETING[:12] + b"CURVE".ljust(20, b"\0") + GREETING[32:], "the CURVE security mechanism, not NULL"),
    (GREETING[:40], "40 bytes, short of a ZMTP greeting"),
])
def test_zmtp_says_why_it_could_not_read_a_stream(data, problem):
    said = decode(data)
    assert said.problem == problem and said.socket_type is None and said.messages == []


def test_connections_put_segments_back_in_order_and_stop_at_one_missing():
    a, b = ("127.0.0.1", 40000), ("127.0.0.1", 5555)
    segments = [Segment(a, b, 0xFFFFFFF0, 2, b""), Segment(b, a, 100, 18, b""),  # SYN, SYN-ACK (seq wraps)
                Segment(a, b, 0xFFFFFFF1 + 6, 16, b"world"), Segment(a, b, 0xFFFFFFF1, 16, b"hello "),
                Segment(a, b, 0xFFFFFFF1, 16, b"hello "),  # again: a retransmission
                Segment(b, a, 101, 16, b"ok"), Segment(b, a, 111, 16, b"after a hole")]
    assert connections(segments) == [Connection(a, b, b"hello world", b"ok")]
    assert connections(segments[2:]) == []  # its opening was not seen: nothing to put in order
