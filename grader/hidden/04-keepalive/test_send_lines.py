"""04-keepalive: send_lines, against a plain listener of the test's own."""
from __future__ import annotations

import socket

import pytest
from hypothesis import given, strategies as st

from peers import OneConnection, keepalive_options

LINES = st.lists(st.text(max_size=300), max_size=20)  # any unicode but lone surrogates; empty lines too


def wire_form(lines) -> bytes:
    return b"".join(line.encode("utf-8") + b"\n" for line in lines)


def send_to_a_listener_of_ours(keepalive, lines, rcvbuf=None) -> tuple[int, bytes]:
    """send_lines to our listener: what it returned, and what arrived."""
    with OneConnection(rcvbuf) as server:
        count = keepalive.send_lines(*server.address, lines)
        return count, server.received()


@pytest.mark.points(3)
@given(lines=LINES)
def test_send_lines_sends_each_line_with_a_newline(keepalive, lines):
    """Each str goes UTF-8 encoded with '\\n' appended, in order (empty lines too); it returns the bytes sent."""
    count, received = send_to_a_listener_of_ours(keepalive, lines)
    expected = wire_form(lines)
    assert received == expected, (f"send_lines(host, port, {lines!r}) delivered {received[:200]!r}; expected "
                                  f"{expected[:200]!r} (each line UTF-8 encoded, then b'\\n')")
    assert count == len(expected), (
        f"send_lines(host, port, {lines!r}) returned {count!r}; it sent {len(expected)} bytes")


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_send_lines_sends_large_lines_whole(keepalive):
    """Lines of megabytes arrive whole, even on a socket with a timeout (where send() may send only part)."""
    # Linux's send buffer holds at most 4 MiB (tcp_wmem), and our small receive
    # window drains it slowly: one send() of the 24 MiB line cannot take it all.
    lines = ["x" * (24 << 20), "", "\u00fc" * (1 << 20), "end"]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # as an application may; socket.send() then sends what fits, and says how much
    try:
        count, received = send_to_a_listener_of_ours(keepalive, lines, rcvbuf=1 << 16)
    finally:
        socket.setdefaulttimeout(previous)
    expected = wire_form(lines)
    assert received == expected, (
        f"send_lines with lines of 24 MiB, 0 B, 2 MiB and 3 B delivered {len(received):,} bytes of "
        f"{len(expected):,}{' (altered)' if len(received) == len(expected) else ''}: socket.send() may send "
        "only part of what it is given (it returns how much); sendall() sends every byte")
    assert count == len(expected), f"send_lines returned {count!r} but sent {len(expected):,} bytes"


@pytest.fixture
def sockets_seen(monkeypatch):
    """Keepalive settings of every socket that sends or closes, read from the kernel at that moment.

    Wraps socket.socket's send, sendall and close (create_connection, makefile and a
    `with` block all go through them); yields a list of (peer address, Keepalive).
    """
    seen: list = []

    def spying(name):
        original = getattr(socket.socket, name)

        def method(self, *args, **kwargs):
            try:
                seen.append((self.getpeername(), keepalive_options(self)))
            except OSError:
                pass  # not connected (or already closed): nothing to see
            return original(self, *args, **kwargs)

        return method

    for name in ("send", "sendall", "close"):
        monkeypatch.setattr(socket.socket, name, spying(name))
    return seen


@pytest.mark.points(2)
def test_send_lines_turns_keepalive_on(keepalive, sockets_seen):
    """send_lines connects with keepalive enabled (SO_KEEPALIVE on) before it sends."""
    with OneConnection() as server:
        keepalive.send_lines(*server.address, ["are you still there?"])
        server.received()
    ours = [options for peer, options in sockets_seen if peer[:2] == server.address[:2]]
    assert ours, "send_lines never sent anything on a connection to the test's listener"
    assert all(options.on for options in ours), (
        f"send_lines sent with {ours[0]}: keepalive must be enabled on the connection (enable_keepalive)")
