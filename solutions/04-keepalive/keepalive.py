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
    ### BEGIN SOLUTION
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle_option = "TCP_KEEPIDLE" if hasattr(socket, "TCP_KEEPIDLE") else "TCP_KEEPALIVE"
    for name, value in ((idle_option, idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", count)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    ### END SOLUTION


def listen(host: str = "127.0.0.1", port: int = 0, idle: int = 5,
           interval: int = 10, count: int = 3) -> socket.socket:
    """A bound, listening TCP socket on (host, port) with keepalive enabled as above.

    Connections it accepts inherit the options. Port 0 lets the system choose one.
    """
    ### BEGIN SOLUTION
    listener = socket.create_server((host, port))
    enable_keepalive(listener, idle, interval, count)
    return listener
    ### END SOLUTION


def receive(listener, on_data=None) -> bytes:
    """Accept one connection on `listener`; return every byte it sends, in order.

    Read in sensible chunks (not a byte at a time) until the peer closes the
    connection, or until it is found dead: keepalive gives up (TimeoutError) or the
    peer resets it (ConnectionResetError). A dead peer is not an error: return what
    arrived. Call on_data(chunk) for each chunk, when given. Close the connection.
    """
    ### BEGIN SOLUTION
    connection, _ = listener.accept()
    chunks = []
    with connection:
        while True:
            try:
                chunk = connection.recv(65536)
            except OSError:  # keepalive gave up, or the peer reset: it is gone
                break
            if not chunk:  # the peer closed the connection
                break
            chunks.append(chunk)
            if on_data is not None:
                on_data(chunk)
    return b"".join(chunks)
    ### END SOLUTION


def send_lines(host: str, port: int, lines) -> int:
    """Connect to (host, port) with keepalive enabled and send each str of `lines`.

    Each line goes UTF-8 encoded with '\\n' appended, every byte of it, however long.
    Close the connection, and return the number of bytes sent.
    """
    ### BEGIN SOLUTION
    sent = 0
    with socket.create_connection((host, port)) as connection:
        enable_keepalive(connection)
        for line in lines:
            data = line.encode("utf-8") + b"\n"
            connection.sendall(data)
            sent += len(data)
    return sent
    ### END SOLUTION


def main(argv: list[str]) -> None:
    """The course's demo, run as a script (argv without the program's name).

    `server [PORT]` listens on 127.0.0.1 (port DEFAULT_PORT when not given) and
    prints what each client sends as it arrives, one connection after another.
    `client HOST PORT` sends the lines typed on standard input, until end of file.
    Anything else: print USAGE and exit with status 2.
    """
    ### BEGIN SOLUTION
    if argv[:1] == ["server"] and len(argv) <= 2:
        port = int(argv[1]) if len(argv) == 2 else DEFAULT_PORT
        listener = listen(port=port)
        print(f"listening on {listener.getsockname()}", file=sys.stderr)

        def show(chunk):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

        while True:
            got = receive(listener, on_data=show)
            print(f"-- connection over after {len(got)} bytes", file=sys.stderr)
    elif argv[:1] == ["client"] and len(argv) == 3:
        sent = send_lines(argv[1], int(argv[2]), (line.rstrip("\n") for line in sys.stdin))
        print(f"-- sent {sent} bytes", file=sys.stderr)
    else:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    ### END SOLUTION


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
