"""Long-lived TCP connections that notice a dead peer: the course's keepalive demo, corrected.

Read the handout (README.md) first; the functions below are in the order it builds
them. Run it as a script in two terminals, and watch the probes with tcpdump:

    python keepalive.py server 1060              # prints whatever it receives
    python keepalive.py client 127.0.0.1 1060    # sends each line you type
"""
import socket
import sys

DEFAULT_PORT = 1060  # the book's habit for its examples
USAGE = "usage: python keepalive.py server [PORT] | python keepalive.py client HOST PORT"


def enable_keepalive(sock, idle: int = 5, interval: int = 10, count: int = 3) -> None:
    """Turn keepalive on for `sock`, with the given timings (seconds, seconds, probes).

    SO_KEEPALIVE (level SOL_SOCKET) turns it on. TCP_KEEPIDLE (silence before the
    first probe), TCP_KEEPINTVL (between probes) and TCP_KEEPCNT (unanswered probes
    before the connection is dead) are set at level IPPROTO_TCP, each where the
    platform defines it: the constants live on the socket *module*, and macOS calls
    the idle time TCP_KEEPALIVE.
    """
    raise NotImplementedError()


def listen(host: str = "127.0.0.1", port: int = 0, idle: int = 5,
           interval: int = 10, count: int = 3) -> socket.socket:
    """A bound, listening TCP socket on (host, port) with keepalive enabled as above.

    Connections it accepts inherit the options. Port 0 lets the system choose one.
    """
    raise NotImplementedError()


def receive(listener, on_data=None) -> bytes:
    """Accept one connection on `listener`; return every byte it sends, in order.

    Read in sensible chunks (not a byte at a time) until the peer closes the
    connection, or until it is found dead: keepalive gives up (TimeoutError) or the
    peer resets it (ConnectionResetError). A dead peer is not an error: return what
    arrived. Call on_data(chunk) for each chunk, when given. Close the connection.
    """
    raise NotImplementedError()


def send_lines(host: str, port: int, lines) -> int:
    """Connect to (host, port) with keepalive enabled and send each str of `lines`.

    Each line goes UTF-8 encoded with '\\n' appended, every byte of it, however long.
    Close the connection, and return the number of bytes sent.
    """
    raise NotImplementedError()


def main(argv: list[str]) -> None:
    """The course's demo, run as a script (argv without the program's name).

    `server [PORT]` listens on 127.0.0.1 (port DEFAULT_PORT when not given) and
    prints what each client sends as it arrives, one connection after another.
    `client HOST PORT` sends the lines typed on standard input, until end of file.
    Anything else: print USAGE and exit with status 2.
    """
    raise NotImplementedError()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
