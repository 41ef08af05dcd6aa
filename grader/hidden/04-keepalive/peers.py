"""The judge's side of each connection: plain, correct peers on the socket module alone.

The student's code runs in a student process; everything here runs in the judge.

- `options_of` reads a student socket's keepalive settings from the kernel, through
  a duplicate of it (pidfd_getfd), `student_end_of` finds the student's end of
  a connection to one of our listeners (`student_end`, of any connection), and
  `connection_of` reads what the kernel holds for it (alive, probed, ended);
- `OneConnection` is a listener of ours that reads one connection to its end;
- `send_and_close` is a client of ours that ends with a FIN or a reset;
- `cpu_reading` measures the CPU time a reader spends on a payload: our own plain
  reader in a thread of ours, or the student's `receive` in its process;
- `NamespacePeer` enters the network namespace of a student process (made for it by
  the zygote) to connect from there and to take its loopback down: a peer that
  vanishes. Run as a script, `python peers.py vanishing-peer PID IDLE INTERVAL COUNT`
  is that peer (see `vanishing_peer`).
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import queue
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass
from typing import Callable

from grader.student_process import Remote, duplicate_socket

WAIT = 10.0  # seconds: the bound on every wait for a peer that should be quick
POLL = 0.05  # seconds between looks at a call still running in the student process
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


def duplicate(process, sock) -> socket.socket:
    """Our duplicate of a socket of the student process (a kept result, or one built there).

    Only its number is asked of the student process; what it holds is read from the kernel.
    A duplicate shares the socket's state: never change its blocking mode or timeout.
    """
    handle = sock if isinstance(sock, Remote) else process.handle(sock)
    return duplicate_socket(process.pid, handle.fileno())


def options_of(process, sock) -> Keepalive:
    with duplicate(process, sock) as ours:
        return keepalive_options(ours)


def student_end_of(pid: int, connection: socket.socket) -> socket.socket | None:
    """The student process's end of our `connection`, duplicated: the socket whose addresses mirror ours."""
    return student_end(pid, connection.getpeername(), connection.getsockname())


def student_end(pid: int, local: tuple, remote: tuple) -> socket.socket | None:
    """The student process's IPv4 TCP socket from `local` to `remote`, duplicated; None while it has none."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                continue
            theirs = duplicate_socket(pid, int(fd))
        except OSError:
            continue
        try:
            if theirs.family == socket.AF_INET and (theirs.getsockname(), theirs.getpeername()) == (local, remote):
                return theirs
        except OSError:
            pass
        theirs.close()
    return None


TCP_CLOSE = 7  # tcpi_state of a connection the kernel has ended (include/net/tcp_states.h)


@dataclass(frozen=True)
class Connection:
    """What the kernel holds for one end of a TCP connection (struct tcp_info, read through a duplicate)."""

    state: int  # tcpi_state: 1 established, 7 closed
    probes: int  # keepalive (or zero-window) probes sent and not answered
    heard: float  # seconds since the other end last acknowledged anything (a keepalive probe's answer included)
    retransmitted: int  # segments sent again for want of an acknowledgement
    sent: int  # bytes of data sent

    @property
    def dead_by_keepalive(self) -> bool:
        """Ended by the kernel after unanswered probes, having sent nothing: keepalive gave up on it."""
        return self.state == TCP_CLOSE and self.probes > 0 and self.retransmitted == 0 and self.sent == 0

    def describe(self) -> str:
        state = {1: "established", TCP_CLOSE: "closed"}.get(self.state, f"TCP state {self.state}")
        return (f"{state}, {self.probes} probe(s) unanswered, {self.retransmitted} segment(s) retransmitted, "
                f"{self.sent} byte(s) sent")


def connection_of(sock: socket.socket) -> Connection:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return Connection(state=info[0], probes=info[3], heard=struct.unpack_from("I", info, 56)[0] / 1000,
                      retransmitted=struct.unpack_from("I", info, 100)[0],
                      sent=struct.unpack_from("Q", info, 200)[0])


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
    the kernel megabytes at once. `hold`: accept, then read nothing until `release()`
    (a sender of more than the buffers hold is stuck in its send meanwhile);
    `accepted()` gives our end of the connection.
    """

    def __init__(self, rcvbuf: int | None = None, hold: bool = False):
        self.listener = plain_listener()
        if rcvbuf is not None:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # accepted connections inherit it
        self.address = self.listener.getsockname()
        self._outcome: dict = {}
        self._connected, self._released = threading.Event(), threading.Event()
        if not hold:
            self._released.set()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.listener.settimeout(WAIT)
            connection, _ = self.listener.accept()
            with connection:
                self._outcome["connection"] = connection
                self._connected.set()
                self._released.wait(WAIT)
                connection.settimeout(WAIT)
                self._outcome["data"] = read_all(connection)
        except OSError as exc:
            self._outcome["error"] = exc
        self._connected.set()

    def accepted(self, limit: float = WAIT) -> socket.socket | None:
        self._connected.wait(limit)
        return self._outcome.get("connection")

    def release(self) -> None:
        self._released.set()

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
        self._released.set()
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


def in_background(function: Callable, *args) -> threading.Thread:
    """function(*args) in a daemon thread of ours; what it raises ends only that thread (a peer gone
    because the student's side gave up is the student's failure, which the test reports)."""

    def run():
        try:
            function(*args)
        except OSError:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def connect_when_listening(address, script, limit: float = WAIT) -> socket.socket:
    """A connection to a server that the student's `script` is starting; AssertionError if it exits or never listens."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return socket.create_connection(address, timeout=WAIT)
        except OSError:
            if script.wait(0):
                raise AssertionError(f"the server exited ({script.end()}) before listening") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listened on {address} within {limit:.0f} s") from None
            time.sleep(POLL)


# -- what reading costs -------------------------------------------------------------


def plain_reader(listener: socket.socket) -> bytes:
    """Accept one connection and read it to the end, in 64 KiB chunks: the baseline reader."""
    connection, _ = listener.accept()
    with connection:
        return read_all(connection)


def cpu_of_plain_reading(payload: bytes) -> float:
    """CPU seconds of a thread of ours reading `payload` with plain_reader, while another sends it."""
    listener = plain_listener()
    spent: dict = {}

    def read():
        started = time.thread_time()
        spent["data"] = plain_reader(listener)
        spent["cpu"] = time.thread_time() - started

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        send_and_close(listener.getsockname(), [payload])
        reader.join(WAIT)
    finally:
        stop_listening(listener)
    assert spent.get("data") == payload, "the test's own plain reader did not read the payload"
    return spent["cpu"]


# -- a peer in the student process's own network namespace ------------------------------

CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def enter_network_of(pid: int) -> None:
    """Make this (single-threaded) process a member of the network namespace of `pid`.

    As root, its network namespace alone; without root, the zygote made a user
    namespace first (the grader's user, mapped to itself), which we join to act there.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    kinds = [("net", CLONE_NEWNET)] if os.geteuid() == 0 else [("user", CLONE_NEWUSER), ("net", CLONE_NEWNET)]
    for name, kind in kinds:
        fd = os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY)
        try:
            if libc.setns(fd, kind) != 0:
                error = ctypes.get_errno()
                raise OSError(error, f"setns into the {name} namespace of process {pid}: {os.strerror(error)}")
        finally:
            os.close(fd)


def set_loopback(up: bool) -> None:
    """`ip link set lo up|down`, in the namespace we are in (SIOCSIFFLAGS on a struct ifreq)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        flags = flags | IFF_UP if up else flags & ~IFF_UP
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags))


def control_pair(idle: int, interval: int, count: int) -> tuple[socket.socket, socket.socket]:
    """Our control connection (client end, accepted end with our keepalive settings).

    The accepted end is the one whose peer is our client: a connection the student's
    code might make to our listener first is refused a part in it.
    """
    with plain_listener() as listener:
        turn_keepalive_on(listener, idle, interval, count)
        listener.settimeout(WAIT)
        client = socket.create_connection(listener.getsockname(), timeout=WAIT)
        while True:
            accepted, address = listener.accept()
            if address == client.getsockname():
                accepted.settimeout(None)
                return client, accepted
            accepted.close()


def _read_until_dead(connection: socket.socket) -> bytes:
    """Our control: read until the connection ends, however it ends."""
    chunks = []
    with connection:
        try:
            while chunk := connection.recv(CHUNK):
                chunks.append(chunk)
        except OSError:
            pass
    return b"".join(chunks)


def vanishing_peer(pid: int, idle: int, interval: int, count: int) -> None:
    """The peer, in the network namespace of student process `pid`, told what to do on stdin.

    Brings the loopback up and says `up`; reads the port the student's listener has;
    makes a control connection of ours with the same keepalive settings; connects to
    the student's listener; sends LAST_WORDS on both, waits until they are
    acknowledged and says `ready PORT` (the port of its end); on `down`, takes the
    loopback down and says `down TIME`; says `control TIME` when our control
    connection notices; then sits still until killed.
    """

    def say(text: str) -> None:
        print(text, flush=True)

    enter_network_of(pid)
    set_loopback(up=True)
    say("up")
    port = int(sys.stdin.readline())
    control_client, control_end = control_pair(idle, interval, count)

    def control():
        _read_until_dead(control_end)
        say(f"control {time.monotonic()!r}")

    threading.Thread(target=control, daemon=True).start()
    connections = [socket.create_connection(("127.0.0.1", port), timeout=WAIT), control_client]
    for connection in connections:
        connection.sendall(LAST_WORDS)
    for connection in connections:
        wait_until_acknowledged(connection)
    say(f"ready {connections[0].getsockname()[1]}")
    if sys.stdin.readline().strip() == "down":
        set_loopback(up=False)
        say(f"down {time.monotonic()!r}")
    sys.stdin.read()  # until killed


class NamespacePeer:
    """Drives `vanishing_peer` in a process of ours (root when grading as root, never the student's user)."""

    def __init__(self, pid: int, idle: int, interval: int, count: int):
        self.process = subprocess.Popen([sys.executable, __file__, "vanishing-peer", str(pid), str(idle),
                                         str(interval), str(count)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def tell(self, text) -> None:
        self.process.stdin.write(f"{text}\n")
        self.process.stdin.flush()

    def said(self, word: str, limit: float = WAIT, must: bool = True) -> str | None:
        """The rest of the first line starting with `word`, within `limit` seconds; RuntimeError (or None)
        when it does not come."""
        deadline = time.monotonic() + limit
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line.split(" ")[0] == word:
                return line[len(word):].strip()
        if not must:
            return None
        self.process.kill()
        errors = self.process.stderr.read().strip().splitlines()
        raise RuntimeError(f"the test's own peer did not say {word!r} within {limit:.0f} s: "
                           f"{(errors or ['(nothing on its stderr)'])[-1]}")

    def __enter__(self) -> NamespacePeer:
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.wait()


if __name__ == "__main__" and sys.argv[1:2] == ["vanishing-peer"]:
    vanishing_peer(*map(int, sys.argv[2:6]))
