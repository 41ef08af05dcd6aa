"""04-keepalive: enable_keepalive and listen, read back from the kernel with getsockopt."""
from __future__ import annotations

import socket

import pytest
from hypothesis import given, strategies as st

from peers import WAIT, Keepalive, keepalive_options

# Linux's own limits: TCP_KEEPIDLE and TCP_KEEPINTVL up to 32767 s, TCP_KEEPCNT up to 127.
SECONDS, PROBES = st.integers(1, 32767), st.integers(1, 127)
DEFAULTS = Keepalive(on=True, idle=5, interval=10, count=3)
TIMINGS = [(7, 3, 4), (1, 1, 1), (600, 60, 9)]

WHERE_TO_LOOK = ("SO_KEEPALIVE is an option of level SOL_SOCKET; TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT "
                 "are options of level IPPROTO_TCP, and their constants live on the socket module")


@pytest.fixture
def fresh_socket():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        yield sock


def expect(got: Keepalive, wanted: Keepalive, what: str) -> None:
    assert got == wanted, f"{what}: the kernel holds {got}; expected {wanted} ({WHERE_TO_LOOK})"


@pytest.mark.points(2)
@given(idle=SECONDS, interval=SECONDS, count=PROBES)
def test_enable_keepalive_sets_what_it_is_given(keepalive, idle, interval, count):
    """enable_keepalive(sock, idle, interval, count) turns SO_KEEPALIVE on and sets the three timings."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        keepalive.enable_keepalive(sock, idle, interval, count)
        expect(keepalive_options(sock), Keepalive(True, idle, interval, count),
               f"after enable_keepalive(sock, {idle}, {interval}, {count})")


@pytest.mark.points(1)
def test_enable_keepalive_defaults(keepalive, fresh_socket):
    """enable_keepalive(sock) uses idle=5, interval=10, count=3."""
    keepalive.enable_keepalive(fresh_socket)
    expect(keepalive_options(fresh_socket), DEFAULTS, "after enable_keepalive(sock)")


@pytest.mark.points(2)
def test_listener_has_keepalive_on(keepalive):
    """The socket listen() returns has SO_KEEPALIVE really on (level SOL_SOCKET), not just the timings set."""
    with keepalive.listen() as listener:
        on = listener.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    assert on, (f"listen() returned a socket whose SO_KEEPALIVE (level SOL_SOCKET) reads {on}: without it the "
                "TCP_KEEP* timings are never used, and a dead peer is never noticed")


@pytest.mark.points(1)
@pytest.mark.parametrize("timings", [None, *TIMINGS], ids=["defaults", *map(str, TIMINGS)])
def test_listener_has_the_given_timings(keepalive, timings):
    """listen(idle=..., interval=..., count=...) sets exactly those timings on the listener (5, 10, 3 by default)."""
    if timings is None:
        call, wanted = "listen()", DEFAULTS
        listener = keepalive.listen()
    else:
        idle, interval, count = timings
        call, wanted = f"listen(idle={idle}, interval={interval}, count={count})", Keepalive(True, *timings)
        listener = keepalive.listen(idle=idle, interval=interval, count=count)
    with listener:
        expect(keepalive_options(listener), wanted, f"the socket returned by {call}")


@pytest.mark.points(2)
def test_accepted_connection_inherits_keepalive(keepalive):
    """A connection accepted on the listener carries the same keepalive settings (that is where they act)."""
    with keepalive.listen(idle=11, interval=4, count=6) as listener:
        with socket.create_connection(listener.getsockname(), timeout=WAIT) as client:
            client.sendall(b"hello")
            listener.settimeout(WAIT)
            connection, _ = listener.accept()
            with connection:
                expect(keepalive_options(connection), Keepalive(True, 11, 4, 6),
                       "a connection accepted on listen(idle=11, interval=4, count=6)")


@pytest.mark.points(1)
def test_listen_returns_a_listening_socket(keepalive):
    """listen(host, port) is bound to that address and listening; port 0 lets the system choose."""
    with keepalive.listen() as listener:
        host, port = listener.getsockname()[:2]
        assert (listener.family, listener.type) == (socket.AF_INET, socket.SOCK_STREAM), (
            f"listen() returned a {listener.family!r} {listener.type!r} socket, not a TCP/IPv4 one")
        assert host == "127.0.0.1" and port != 0, f"listen() is bound to {(host, port)}; expected 127.0.0.1, any port"
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), "listen() returned a socket not listening"
    with keepalive.listen("127.0.0.1", port) as again:
        assert again.getsockname()[:2] == ("127.0.0.1", port), (
            f"listen('127.0.0.1', {port}) is bound to {again.getsockname()[:2]}")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT):
            pass
