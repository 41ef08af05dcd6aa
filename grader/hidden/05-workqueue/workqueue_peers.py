"""The other end of every socket: the hidden tests play each node's peers over real TCP.

The node under test runs in the student process, as a background call on a
zmq.Context built there for it alone (`Node`), so that terminating that context
stops that node and nothing else. The judge's own sockets live on the judge's own
context (`Peers`), bind tcp://127.0.0.1:* wherever the node connects, and speak
the contract's frames. Every wait is bounded; a node that returned or raised when
it should still be running is reported, with what it did, at the next wait.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import threading
import time
from dataclasses import dataclass, field

import psutil
import pytest
import zmq
from zmq_peers import QUIET, STOP_BOUND, WAIT, Peers

from grader.student_process import (
    NotPlainData,
    StudentCodeRaised,
    StudentProcess,
    StudentProcessEnded,
    background,
    stand_in,
    zmq_context,
)

TICK_MS = 20
STUDENT_ERRORS = (StudentCodeRaised, NotPlainData, StudentProcessEnded)


@dataclass
class Stopped:
    """How a node took the termination of its context."""

    returned_after: float | None  # seconds from term() to the node's return (or raise); None: still running
    term_finished: bool  # term() itself returned: every socket was closed, nothing unsent held it up
    raised: str | None  # what it raised instead of returning


class Node:
    """workqueue.<name>(zcontext, *args, **kwargs), running in the student process on a context of its own."""

    _numbers = itertools.count(1)

    def __init__(self, process: StudentProcess, name: str, *args, **kwargs):
        self.process, self.name = process, name
        self.context = zmq_context(f"{name}'s context #{next(self._numbers)}")
        self.pending = background(getattr(process.module(), name), self.context, *args, **kwargs)

    def ended(self) -> str | None:
        """None while it runs; otherwise what it did: 'returned 3', or what it raised."""
        if not self.pending.done():
            return None
        try:
            return f"returned {self.pending.result()!r}"
        except STUDENT_ERRORS as exc:
            return str(exc)

    def result(self, seconds: float = WAIT, doing: str = ""):
        """What it returned; the test fails, saying so, when it raised or is still running after `seconds`."""
        try:
            return self.pending.result(timeout=seconds)
        except TimeoutError:
            pytest.fail(f"{self.pending.text} was still running {seconds:g} s later{doing}", pytrace=False)
        except STUDENT_ERRORS as exc:
            pytest.fail(str(exc), pytrace=False)

    def stop(self) -> Stopped:
        """Terminate its context, as the one that started it would, and see how it takes it."""
        started = time.monotonic()
        term = background(self.process.handle(self.context).term)
        returned = self.pending.done(timeout=STOP_BOUND)
        after = time.monotonic() - started if returned else None
        finished = term.done(timeout=max(0.05, STOP_BOUND - (time.monotonic() - started)))
        raised = None
        if returned:
            try:
                self.pending.result()
            except STUDENT_ERRORS as exc:
                raised = str(exc)
        return Stopped(after, finished, raised)


def receive(zsock: zmq.Socket, what: str, node: Node | None = None, seconds: float = WAIT) -> list[bytes]:
    """The next message on the judge's socket; the test fails if none comes (or the node ended first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if zsock.poll(TICK_MS):
            return zsock.recv_multipart()
        if node is not None and (ended := node.ended()) is not None:
            pytest.fail(f"waiting for {what}, {node.name} had already ended: {ended}", pytrace=False)
    pytest.fail(f"{what} never came (waited {seconds:g} s)", pytrace=False)


def quiet(zsock: zmq.Socket, seconds: float = QUIET) -> list[list[bytes]]:
    """Every message that arrives on the judge's socket within `seconds` (none, as a rule)."""
    arrived = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if zsock.poll(max(1, int(left * 1000))):
            arrived.append(zsock.recv_multipart())
    return arrived


def envelope(frames: list[bytes], parts: int, where: str) -> list[bytes]:
    """The frames after each empty delimiter, checked to be `parts` of them in the contract's shape."""
    shape = {2: "[b'', x]", 4: "[b'', client_id, b'', request]"}[parts]
    if len(frames) != parts or frames[0::2] != [b""] * (parts // 2):
        pytest.fail(f"{where} got {frames!r}: expected frames {shape}", pytrace=False)
    return frames[1::2]


SECRET = os.urandom(16)  # drawn afresh for every grading: no answer can be worked out from the tests' source


def answer(request: bytes, by: bytes = b"handle") -> bytes:
    """What the judge's handle (`by`: or a worker of the judge's) answers to `request`: a value only the judge
    knows, so that a reply not obtained from that handle (or worker) is wrong."""
    return b"%s:%s" % (by, hashlib.blake2b(request, key=SECRET + by, digest_size=6).hexdigest().encode())


class Handle:
    """A handle built in the student process whose every call the judge answers at the moment of the call, with
    answer(request): no answer exists on the student's side before its call, and the judge sees each call itself.
    `sleep`: the judge takes that long to answer (the work)."""

    def __init__(self, process: StudentProcess, name: str = "handle", sleep: float = 0.0):
        self.live = stand_in(name, ("ask",))
        self.sleep = sleep
        self.calls: list[bytes] = []
        self._arrived = threading.Condition()
        process.answer(name, self._answer)

    def _answer(self, args: tuple) -> bytes:
        request = args[0] if len(args) == 1 else None
        with self._arrived:
            self.calls.append(request)
            self._arrived.notify_all()
        if type(request) is not bytes:
            raise TypeError(f"handle takes one bytes argument, the request, not {args!r:.80}")
        if self.sleep:
            time.sleep(self.sleep)
        return answer(request)

    def requests(self, count: int = 0, seconds: float = WAIT) -> list[bytes]:
        """The requests handle was called with, once there are `count` of them (or `seconds` went by)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.calls) >= count, seconds)
            return list(self.calls)


class FakeWorker:
    """A worker of the judge's, on the broker's backend: a DEALER that shows every frame the broker sends."""

    def __init__(self, peers: Peers, url: str, name: bytes, node: Node):
        self.name, self.node = name, node
        self.sock = peers.connect(zmq.DEALER, url, identity=name)

    def ready(self) -> None:
        self.sock.send_multipart([b"", b"READY"])

    def take(self, what: str = "a request") -> tuple[bytes, bytes]:
        """The next request the broker hands this worker: (client_id, request)."""
        frames = receive(self.sock, f"{what} at worker {self.name.decode()}", self.node)
        client_id, request = envelope(frames, 4, f"worker {self.name.decode()}")
        return client_id, request

    def reply(self, client_id: bytes, reply: bytes) -> None:
        self.sock.send_multipart([b"", client_id, b"", reply])

    def vanish(self) -> None:
        self.sock.close()


class FakeClient:
    """A client of the judge's, on the broker's frontend: a DEALER, so it may send before a reply comes."""

    def __init__(self, peers: Peers, url: str, name: str, node: Node):
        self.name, self.node, self.peers, self.url = name, node, peers, url
        self.sock = peers.connect(zmq.DEALER, url)

    def send(self, request: bytes) -> None:
        self.sock.send_multipart([b"", request])

    def receive(self, what: str = "its reply") -> bytes:
        (reply,) = envelope(receive(self.sock, f"{what} at client {self.name}", self.node), 2, f"client {self.name}")
        return reply

    def new_socket(self) -> None:
        """What the Lazy Pirate does after a timeout: a new socket, so a new identity at the broker."""
        self.sock.close()
        self.sock = self.peers.connect(zmq.DEALER, self.url)


def first_to_receive(workers: list[FakeWorker], what: str, node: Node) -> tuple[FakeWorker, bytes, bytes]:
    """The worker the broker hands the next request to, and that request: (worker, client_id, request)."""
    poller = zmq.Poller()
    for worker in workers:
        poller.register(worker.sock, zmq.POLLIN)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        ready = dict(poller.poll(TICK_MS))
        for worker in workers:
            if worker.sock in ready:
                return (worker, *worker.take(what))
        if (ended := node.ended()) is not None:
            pytest.fail(f"waiting for {what}, the broker had already ended: {ended}", pytrace=False)
    pytest.fail(f"{what} never reached any worker (waited {WAIT:g} s)", pytrace=False)


# -- process_all, seen from the judge's own workers ----------------------------------------------------------

SCAN = 0.01  # seconds between looks at the student process's listening sockets, until a backend answers


def listeners_with(pid: int, connected: int = 0) -> set[int]:
    """The loopback TCP ports the student process listens on with exactly `connected` of its own sockets
    connected to them, as the kernel lists them: the broker's backend has the process's `workers` (none
    with `workers=0`), its frontend its clients."""
    try:
        connections = psutil.Process(pid).net_connections("tcp")
    except psutil.Error:
        return set()
    listening = {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}
    users = [c.raddr.port for c in connections if c.raddr and c.status != psutil.CONN_LISTEN]
    return {port for port in listening if users.count(port) == connected}


@dataclass
class Taken:
    """One request as it reached a worker of the judge's, and what became of it."""

    worker: bytes
    client_id: bytes
    payload: bytes
    arrived: float  # the judge's clock
    replied: float | None = None  # when the judge sent its reply; None: held, never answered


@dataclass
class JudgeWorkers:
    """Workers of the judge's own that join the backend of a process_all running in the student process.

    A thread of the judge's finds the ports the student process listens on (the kernel's list), connects
    `count` DEALERs to each that has `beside` of the process's own sockets connected (its own workers), and
    says READY, as a worker does.
    Every request the broker hands them is recorded, with the judge's clock; each worker answers its requests
    in turn, `work` seconds each, with answer(payload, b"judge"): a value only the judge knows, so that a
    reply of process_all that did not come through this worker is wrong. `hold`: a worker stuck in the middle
    of a request (`"first"`: the first worker, on its first request, answers it only `held_for` seconds later,
    long after a client should have given up on it; `"all"`: every worker, everything, never). `together`:
    no worker answers anything until that many of them hold a request each, different ones, at one moment (or
    `patience` seconds have gone by since the first arrived): the concurrency of the queue, seen at the judge's
    own sockets, whatever the machine's load. A READY that went to a frontend (the judge cannot tell the two
    ports apart before the clients have connected) is a request there: it is answered at once when a worker of
    the judge's gets it, its reply ignored, and neither is counted.
    """

    pid: int
    context: zmq.Context
    count: int = 1
    work: float = 0.0
    hold: str = ""
    held_for: float = 5.0
    together: int = 0
    patience: float = WAIT
    queues: int = 1  # how many process_all run at once: the judge looks for as many backends
    beside: int = 0  # how many workers of the student's own the backend has (process_all's `workers`)
    taken: list[Taken] = field(default_factory=list)
    backends: set[int] = field(default_factory=set)  # the ports from which requests came
    most_at_once: int = 0  # the most workers that held a request each, different ones, at one moment

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="judge-workers", daemon=True)
        self._thread.start()

    def _gated(self, now: float) -> bool:
        """Is every answer still held back, until enough workers hold a request at once?"""
        first = self.taken[0].arrived if self.taken else now
        return self.together > self.most_at_once and now - first < self.patience

    def _run(self) -> None:
        sockets: dict[zmq.Socket, tuple[bytes, int]] = {}  # each DEALER: its name, the port it joined
        queued: dict[zmq.Socket, list[Taken]] = {}  # requests each worker has yet to answer, in order
        busy_until: dict[zmq.Socket, float] = {}
        poller, joined, held, names = zmq.Poller(), set(), False, set()
        try:
            while not self._stop.is_set():
                if len(self.backends) < self.queues:
                    for port in sorted(listeners_with(self.pid, self.beside) - joined):
                        joined.add(port)
                        for number in range(self.count):
                            name = b"judge-%d-%d" % (port, number + 1)
                            sock = self.context.socket(zmq.DEALER)
                            sock.linger, sock.identity = 0, name
                            sock.connect(f"tcp://127.0.0.1:{port}")
                            sock.send_multipart([b"", b"READY"])
                            sockets[sock], queued[sock], busy_until[sock] = (name, port), [], 0.0
                            names.add(name)
                            poller.register(sock, zmq.POLLIN)
                now = time.monotonic()
                gated = self._gated(now)
                due = [busy_until[s] for s, waiting in queued.items() if waiting and waiting[0].replied is None
                       and busy_until[s] > now and not gated]
                wait = min([SCAN if len(self.backends) < self.queues or gated else 0.05, *(d - now for d in due)])
                for sock, _ in poller.poll(max(0, int(wait * 1000)) if wait > 0 else 0):
                    frames = sock.recv_multipart()
                    if len(frames) != 4 or frames[0] or frames[2]:
                        continue  # a READY that went to a frontend, answered: not a request
                    name, port = sockets[sock]
                    if frames[1] in names:  # our own READY, sent to a frontend: not the queue's work
                        sock.send_multipart([b"", frames[1], b"", b"not a request"])
                        continue
                    taken = Taken(name, frames[1], frames[3], time.monotonic())
                    self.taken.append(taken)
                    self.backends.add(port)
                    if self.hold == "all":
                        continue
                    work = self.work
                    if self.hold == "first" and not held and name.endswith(b"-1"):
                        held, work = True, self.held_for
                    if not queued[sock]:
                        busy_until[sock] = taken.arrived + work
                    queued[sock].append(taken)
                holding = {waiting[0].payload for waiting in queued.values() if waiting}
                self.most_at_once = max(self.most_at_once, len(holding))
                now = time.monotonic()
                if self._gated(now):
                    continue
                for sock, waiting in queued.items():
                    while waiting and busy_until[sock] <= now:
                        taken = waiting.pop(0)
                        sock.send_multipart([b"", taken.client_id, b"", answer(taken.payload, b"judge")])
                        taken.replied = time.monotonic()
                        if waiting:
                            busy_until[sock] = max(now, taken.replied) + self.work
        finally:
            for sock in sockets:
                sock.close(linger=0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def payloads(self) -> list[bytes]:
        return [t.payload for t in self.taken]
