"""The hidden tests' side of each connection: plain, correct peers on the socket module alone.

- `keepalive_options` reads a socket's keepalive settings back with getsockopt;
- `OneConnection` is a listener of ours that reads one connection to its end;
- `send_and_close` is a client of ours that ends with a FIN or a reset;
- `Call` runs student code in a thread, so that every wait on it is bounded;
- `time_reading` measures the CPU time a reader spends on a payload;
- `private_network` finds how this machine makes a network namespace, and
  `dead_peer` (run inside one) makes a peer vanish under the student's `receive`.

Run as a script, `python peers.py vanishing-peer PORT...` is that peer: it connects
to each port, sends `LAST_WORDS`, waits until they are acknowledged, prints `ready`
and then sits still until it is killed.
"""
from __future__ import annotations

import fcntl
import importlib
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass
from typing import Callable

WAIT = 10.0  # seconds: the bound on every wait for a peer that should be quick
CHUNK = 65536
LAST_WORDS = b"the last line before the silence\n" * 64


# -- options ------------------------------------------------------------------


@dataclass(frozen=True)
class Keepalive:
    on: bool
    idle: int
    interval: int
    count: int

    def __str__(self) -> str:
        return (f"SO_KEEPALIVE {'on' if self.on else 'off'}, TCP_KEEPIDLE {self.idle}, "
                f"TCP_KEEPINTVL {self.interval}, TCP_KEEPCNT {self.count}")


def keepalive_options(sock: socket.socket) -> Keepalive:
    """What the kernel holds for `sock`, each option read at its own level."""
    tcp = socket.IPPROTO_TCP
    return Keepalive(on=sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0,
                     idle=sock.getsockopt(tcp, socket.TCP_KEEPIDLE),
                     interval=sock.getsockopt(tcp, socket.TCP_KEEPINTVL),
                     count=sock.getsockopt(tcp, socket.TCP_KEEPCNT))


def turn_keepalive_on(sock: socket.socket, idle: int, interval: int, count: int) -> None:
    """Our own, known-good settings (for the control connection)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)


# -- plain peers ----------------------------------------------------------------


def plain_listener() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0))


def stop_listening(listener: socket.socket) -> None:
    """Close a listener, waking a thread blocked in accept() (close alone does not, on Linux)."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()


def read_all(connection: socket.socket) -> bytes:
    """A plain buffered reader: large recv() calls until the peer closes."""
    return b"".join(iter(lambda: connection.recv(CHUNK), b""))


class OneConnection:
    """A listener of ours: accepts one connection in a thread and reads it to the end.

    Use it as a context manager; `received()` waits (bounded) for what was read.
    A small `rcvbuf` keeps the connection's window small, so a sender cannot hand
    the kernel megabytes at once.
    """

    def __init__(self, rcvbuf: int | None = None):
        self.listener = plain_listener()
        if rcvbuf is not None:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # accepted connections inherit it
        self.address = self.listener.getsockname()
        self._outcome: dict = {}
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.listener.settimeout(WAIT)
            connection, _ = self.listener.accept()
            with connection:
                connection.settimeout(WAIT)
                self._outcome["data"] = read_all(connection)
        except OSError as exc:
            self._outcome["error"] = exc

    def received(self, limit: float = 2 * WAIT) -> bytes:
        """Every byte the connection carried; AssertionError when none came, or it never ended."""
        self._thread.join(limit)
        if "data" in self._outcome:
            return self._outcome["data"]
        why = self._outcome.get("error", "still reading")
        raise AssertionError(f"no complete connection reached the test's listener at {self.address} ({why})")

    def __enter__(self) -> OneConnection:
        return self

    def __exit__(self, *exc) -> None:
        stop_listening(self.listener)


def wait_until_acknowledged(sock: socket.socket, limit: float = WAIT) -> None:
    """Until the peer's kernel has acknowledged everything sent (nothing left in our send queue)."""
    deadline = time.monotonic() + limit
    while struct.unpack("i", fcntl.ioctl(sock, termios.TIOCOUTQ, b"\0" * 4))[0]:
        if time.monotonic() > deadline:
            raise TimeoutError("the peer did not acknowledge what was sent")
        time.sleep(0.01)


def send_and_close(address, chunks, reset: bool = False) -> None:
    """Connect, send every chunk, then close with a FIN, or (reset=True) with a reset once all is acknowledged."""
    with socket.create_connection(address, timeout=WAIT) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        if reset:
            wait_until_acknowledged(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def connect_when_listening(address, process: subprocess.Popen, limit: float = WAIT) -> socket.socket:
    """A connection to a server that `process` is starting; AssertionError if it exits or never listens."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return socket.create_connection(address, timeout=WAIT)
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with status {process.returncode} before listening")
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listened on {address} within {limit:.0f} s")
            time.sleep(0.05)


# -- student code in a thread ------------------------------------------------------


class Call:
    """function(*args) in a daemon thread, with its CPU time; `wait` is bounded."""

    def __init__(self, function: Callable, *args, **kwargs):
        self.value = self.error = None
        self.cpu = self.returned_at = None
        self._thread = threading.Thread(target=self._run, args=(function, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, function, args, kwargs) -> None:
        started = time.thread_time()
        try:
            self.value = function(*args, **kwargs)
        except BaseException as exc:  # reported to the test, never lost in a thread
            self.error = exc
        self.cpu = time.thread_time() - started
        self.returned_at = time.monotonic()

    def wait(self, limit: float = WAIT) -> bool:
        """True when the call ended (returned or raised) within `limit` seconds."""
        self._thread.join(limit)
        return not self._thread.is_alive()

    def result(self, what: str, limit: float = WAIT):
        """The value returned; AssertionError naming `what` if it raised or did not end in time."""
        if not self.wait(limit):
            raise AssertionError(f"{what} had not returned after {limit:.0f} s")
        if self.error is not None:
            detail = f": {self.error}" if str(self.error) else ""
            raise AssertionError(f"{what} raised {type(self.error).__name__}{detail}") from self.error
        return self.value


# -- what reading costs -------------------------------------------------------------


def plain_reader(listener: socket.socket) -> bytes:
    """Accept one connection and read it to the end, in 64 KiB chunks: the baseline reader."""
    connection, _ = listener.accept()
    with connection:
        return read_all(connection)


def time_reading(reader: Callable, payload: bytes) -> tuple[float, bytes]:
    """(CPU seconds of the reading thread, bytes read) while a thread of ours sends `payload` and closes."""
    listener = plain_listener()
    sender = threading.Thread(target=send_and_close, args=(listener.getsockname(), [payload]), daemon=True)
    try:
        call = Call(reader, listener)
        sender.start()
        got = call.result("reading a few megabytes", limit=120)
    finally:
        stop_listening(listener)
        sender.join(WAIT)
    return call.cpu, got


# -- a private network where a peer can vanish ----------------------------------------

_SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])


@dataclass(frozen=True)
class PrivateNetwork:
    prefix: tuple[str, ...]  # runs a command in a new network namespace
    ip: str  # iproute2's ip, by its full path


def private_network() -> PrivateNetwork | str:
    """How to run a program in a network namespace of its own here, or why it cannot be done.

    As root: `unshare --net`. Otherwise an unprivileged user namespace
    (`unshare --user --map-root-user --net`), else passwordless sudo. A way counts
    only once `ip link set lo up` has worked through it.
    """
    unshare, ip = shutil.which("unshare", path=_SEARCH), shutil.which("ip", path=_SEARCH)
    if unshare is None or ip is None:
        missing = "unshare (util-linux)" if unshare is None else "ip (iproute2)"
        return f"the {missing} command is missing on the grading machine"
    ways = [(unshare, "--net")] if os.geteuid() == 0 else []
    ways.append((unshare, "--user", "--map-root-user", "--net"))
    if os.geteuid() != 0 and shutil.which("sudo", path=_SEARCH):
        ways.append(("sudo", "-n", unshare, "--net"))
    failures = []
    for prefix in ways:
        try:
            done = subprocess.run([*prefix, ip, "link", "set", "lo", "up"], capture_output=True, text=True,
                                  timeout=WAIT, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            failures.append(f"{' '.join(prefix)}: {exc}")
            continue
        if done.returncode == 0:
            return PrivateNetwork(tuple(prefix), ip)
        failures.append(f"{' '.join(prefix)}: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
    return ("this machine cannot make a network namespace (" + "; ".join(failures) + "); grade as root, "
            "with passwordless sudo, or where unprivileged user namespaces are allowed")


@dataclass
class Vanishing:
    """What happened after the peer vanished, seen from inside the namespace."""

    returned: bool  # the student's receive ended (returned or raised) before the deadline
    raised: str | None  # repr of what it raised, if it did
    data: bytes | None  # what it returned
    seconds: float | None  # from the vanishing to receive's end
    control: float | None  # the same for our own, correctly configured connection (None: it never noticed)
    waited: float  # how long we waited for both


def _line_within(stream, limit: float) -> bytes:
    ready, _, _ = select.select([stream], [], [], limit)
    return stream.readline() if ready else b""


def dead_peer(idle: int, interval: int, count: int, margin: float, ip: str) -> Vanishing:
    """Inside a fresh network namespace: a peer sends LAST_WORDS, then vanishes (loopback down).

    The student's `receive` reads from a `listen(idle=..., interval=..., count=...)`
    listener; beside it, a control connection of ours with the same settings shows
    when a correct socket notices. Every wait is bounded by idle + interval * count
    + margin after the vanishing; the peer process is killed before returning.
    """
    subprocess.run([ip, "link", "set", "lo", "up"], check=True, timeout=WAIT)
    keepalive = importlib.import_module("keepalive")
    listener = keepalive.listen(host="127.0.0.1", port=0, idle=idle, interval=interval, count=count)
    control_listener = plain_listener()
    turn_keepalive_on(control_listener, idle, interval, count)
    student = Call(keepalive.receive, listener)
    control = Call(_read_until_dead, control_listener)
    ports = [str(s.getsockname()[1]) for s in (listener, control_listener)]
    peer = subprocess.Popen([sys.executable, __file__, "vanishing-peer", *ports],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if _line_within(peer.stdout, WAIT).strip() != b"ready":
            raise RuntimeError(f"the peer could not connect and send: {peer.stderr.read1(2000)!r}")
        subprocess.run([ip, "link", "set", "lo", "down"], check=True, timeout=WAIT)
        vanished = time.monotonic()
        waited = idle + interval * count + margin
        student.wait(waited)
        control.wait(max(0.0, vanished + waited - time.monotonic()))
    finally:
        peer.kill()
        peer.wait()
    ended = student.returned_at is not None
    return Vanishing(returned=ended, raised=None if student.error is None else repr(student.error),
                     data=student.value if isinstance(student.value, (bytes, str, type(None))) else repr(student.value),
                     seconds=student.returned_at - vanished if ended else None,
                     control=control.returned_at - vanished if control.returned_at is not None else None,
                     waited=waited)


def _read_until_dead(listener: socket.socket) -> bytes:
    """Our control: read until the connection ends, however it ends."""
    connection, _ = listener.accept()
    chunks = []
    with connection:
        try:
            while chunk := connection.recv(CHUNK):
                chunks.append(chunk)
        except OSError:
            pass
    return b"".join(chunks)


def vanishing_peer(ports: list[int]) -> None:
    """Connect to each port, send LAST_WORDS, wait for the acknowledgements, say so, then sit still."""
    connections = [socket.create_connection(("127.0.0.1", port), timeout=WAIT) for port in ports]
    for connection in connections:
        connection.sendall(LAST_WORDS)
    for connection in connections:
        wait_until_acknowledged(connection)
    print("ready", flush=True)
    sys.stdin.read()  # until killed


if __name__ == "__main__" and sys.argv[1:2] == ["vanishing-peer"]:
    vanishing_peer([int(port) for port in sys.argv[2:]])
