"""04-keepalive: enable_keepalive and listen, read back by the judge from the kernel with getsockopt.

The sockets are the student process's own; the judge reads each one's options
through a duplicate of it (pidfd_getfd), never from what the student's code says.
"""
from __future__ import annotations

import select
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from peers import WAIT, Keepalive, duplicate, keepalive_options, options_of

from grader.student_process import keep, tcp_socket

# Linux's own limits: TCP_KEEPIDLE and TCP_KEEPINTVL up to 32767 s, TCP_KEEPCNT up to 127.
SECONDS, PROBES = st.integers(1, 32767), st.integers(1, 127)
DEFAULTS = Keepalive(on=True, idle=5, interval=10, count=3)
TIMINGS = [(7, 3, 4), (1, 1, 1), (600, 60, 9)]

WHERE_TO_LOOK = ("SO_KEEPALIVE is an option of level SOL_SOCKET; TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT "
                 "are options of level IPPROTO_TCP, and their constants live on the socket module")


def expect(got: Keepalive, wanted: Keepalive, what: str) -> None:
    assert got == wanted, f"{what}: the kernel holds {got}; expected {wanted} ({WHERE_TO_LOOK})"


@pytest.mark.points(2)
@given(idle=SECONDS, interval=SECONDS, count=PROBES)
def test_enable_keepalive_sets_what_it_is_given(keepalive, process, idle, interval, count):
    """enable_keepalive(sock, idle, interval, count) turns SO_KEEPALIVE on and sets the three timings."""
    sock = tcp_socket("sock")
    try:
        keepalive.enable_keepalive(sock, idle, interval, count)
        expect(options_of(process, sock), Keepalive(True, idle, interval, count),
               f"after enable_keepalive(sock, {idle}, {interval}, {count})")
    finally:
        process.handle(sock).close()


@pytest.mark.points(1)
def test_enable_keepalive_defaults(keepalive, process):
    """enable_keepalive(sock) uses idle=5, interval=10, count=3."""
    sock = tcp_socket("sock")
    keepalive.enable_keepalive(sock)
    expect(options_of(process, sock), DEFAULTS, "after enable_keepalive(sock)")


@pytest.mark.points(2)
def test_listener_has_keepalive_on(keepalive, process):
    """The socket listen() returns has SO_KEEPALIVE really on (level SOL_SOCKET), not just the timings set."""
    with duplicate(process, keep(keepalive.listen)) as listener:
        on = listener.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    assert on, (f"listen() returned a socket whose SO_KEEPALIVE (level SOL_SOCKET) reads {on}: without it the "
                "TCP_KEEP* timings are never used, and a dead peer is never noticed")


@pytest.mark.points(1)
@pytest.mark.parametrize("timings", [None, *TIMINGS], ids=["defaults", *map(str, TIMINGS)])
def test_listener_has_the_given_timings(keepalive, process, timings):
    """listen(idle=..., interval=..., count=...) sets exactly those timings on the listener (5, 10, 3 by default)."""
    if timings is None:
        call, wanted = "listen()", DEFAULTS
        listener = keep(keepalive.listen)
    else:
        idle, interval, count = timings
        call, wanted = f"listen(idle={idle}, interval={interval}, count={count})", Keepalive(True, *timings)
        listener = keep(keepalive.listen, idle=idle, interval=interval, count=count)
    expect(options_of(process, listener), wanted, f"the socket returned by {call}")


@pytest.mark.points(2)
def test_accepted_connection_inherits_keepalive(keepalive, process):
    """A connection accepted on the listener carries the same keepalive settings (that is where they act)."""
    with duplicate(process, keep(keepalive.listen, idle=11, interval=4, count=6)) as listener:
        with socket.create_connection(listener.getsockname(), timeout=WAIT) as client:
            client.sendall(b"hello")
            assert select.select([listener], [], [], WAIT)[0], "listen(...) returned a socket that never accepted"
            connection, _ = listener.accept()  # on our duplicate: the kernel makes the connection as for theirs
            with connection:
                expect(keepalive_options(connection), Keepalive(True, 11, 4, 6),
                       "a connection accepted on listen(idle=11, interval=4, count=6)")


@pytest.mark.points(1)
def test_listen_returns_a_listening_socket(keepalive, process):
    """listen(host, port) is bound to that address and listening; port 0 lets the system choose."""
    listener = keep(keepalive.listen)
    with duplicate(process, listener) as ours:
        host, port = ours.getsockname()[:2]
        assert (ours.family, ours.type) == (socket.AF_INET, socket.SOCK_STREAM), (
            f"listen() returned a {ours.family!r} {ours.type!r} socket, not a TCP/IPv4 one")
        assert host == "127.0.0.1" and port != 0, f"listen() is bound to {(host, port)}; expected 127.0.0.1, any port"
        assert ours.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), "listen() returned a socket not listening"
    listener.close()
    with duplicate(process, keep(keepalive.listen, "127.0.0.1", port)) as again:
        assert again.getsockname()[:2] == ("127.0.0.1", port), (
            f"listen('127.0.0.1', {port}) is bound to {again.getsockname()[:2]}")
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT):
        pass
