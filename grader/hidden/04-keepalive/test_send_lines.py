"""04-keepalive: send_lines, in the student process, against a plain listener of the judge's own."""
from __future__ import annotations

import select
import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from peers import POLL, WAIT, OneConnection, keepalive_options, student_end_of

from grader.student_process import background, library, repeated

# Any unicode but lone surrogates (which UTF-8 cannot encode), empty lines too. The same
# characters as st.text()'s default codec="utf-8", which costs seconds to tabulate per grading.
LINES = st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=300), max_size=20)


def wire_form(lines) -> bytes:
    return b"".join(line.encode("utf-8") + b"\n" for line in lines)


@pytest.mark.points(3)
@given(lines=LINES)
def test_send_lines_sends_each_line_with_a_newline(keepalive, lines):
    """Each str goes UTF-8 encoded with '\\n' appended, in order (empty lines too); it returns the bytes sent."""
    with OneConnection() as server:
        count = keepalive.send_lines(*server.address, lines)
        received = server.received()
    expected = wire_form(lines)
    assert received == expected, (f"send_lines(host, port, {lines!r}) delivered {received[:200]!r}; expected "
                                  f"{expected[:200]!r} (each line UTF-8 encoded, then b'\\n')")
    assert count == len(expected), (
        f"send_lines(host, port, {lines!r}) returned {count!r}; it sent {len(expected)} bytes")


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_send_lines_sends_large_lines_whole(keepalive, process):
    """Lines of megabytes arrive whole, even on a socket with a timeout (where send() may send only part)."""
    # Linux's send buffer holds at most 4 MiB (tcp_wmem), and our small receive
    # window drains it slowly: one send() of the 24 MiB line cannot take it all.
    parts = [("x", 24 << 20), ("", 1), ("\u00fc", 1 << 20), ("end", 1)]
    # As an application may: socket.send() then sends what fits, and says how much.
    process.handle(library("socket")).setdefaulttimeout(30)
    with OneConnection(rcvbuf=1 << 16) as server:
        count = keepalive.send_lines(*server.address, repeated(parts))
        received = server.received()
    expected = wire_form(text * times for text, times in parts)
    assert received == expected, (
        f"send_lines with lines of 24 MiB, 0 B, 2 MiB and 3 B delivered {len(received):,} bytes of "
        f"{len(expected):,}{' (altered)' if len(received) == len(expected) else ''}: socket.send() may send "
        "only part of what it is given (it returns how much); sendall() sends every byte")
    assert count == len(expected), f"send_lines returned {count!r} but sent {len(expected):,} bytes"


def sending_end(process, server: OneConnection, call) -> socket.socket | None:
    """The student's end of the connection to `server` (duplicated), once something has arrived on it;
    None when send_lines ends first (or nothing comes within WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    ours = None
    while time.monotonic() < deadline and not call.done(0):
        if ours is None:
            ours = server.accepted(POLL)
        elif select.select([ours], [], [], POLL)[0]:  # it has sent: its options are set by now
            return student_end_of(process.pid, ours)
    return None


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_send_lines_turns_keepalive_on(keepalive, process):
    """send_lines connects with keepalive enabled (SO_KEEPALIVE on) before it sends.

    The judge holds the connection without reading, so that a line of 8 MiB keeps
    send_lines sending, and reads the options of the student's end of it meanwhile.
    """
    with OneConnection(rcvbuf=1 << 16, hold=True) as server:
        call = background(keepalive.send_lines, *server.address, repeated([("x", 8 << 20)], "['xxx...']"))
        theirs = sending_end(process, server, call)
        options = None if theirs is None else keepalive_options(theirs)
        if theirs is not None:
            theirs.close()
        server.release()
        call.result(WAIT)  # what it raised, if it did
    assert options is not None, "send_lines never sent anything on a connection to the test's listener"
    assert options.on, (
        f"send_lines sent with {options}: keepalive must be enabled on the connection (enable_keepalive)")
