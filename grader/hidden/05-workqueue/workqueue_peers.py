"""The other end of every socket: the hidden tests play each node's peers over real TCP.

The node under test runs in the student process, as a background call on a
zmq.Context built there for it alone (`Node`), so that terminating that context
stops that node and nothing else. The judge's own sockets live on the judge's own
context (`Peers`), bind tcp://127.0.0.1:* wherever the node connects, and speak
the contract's frames. Every wait is bounded; a node that returned or raised when
it should still be running is reported, with what it did, at the next wait.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import pytest
import zmq
from zmq_peers import QUIET, STOP_BOUND, WAIT, Peers

from grader.student_process import (NotPlainData, StudentCodeRaised, StudentProcess, StudentProcessEnded,
                                    background, stand_in, zmq_context)

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


class Handle:
    """A handle built in the student process: replies request * 2, reports each call (its request, when)."""

    def __init__(self, process: StudentProcess, name: str, sleep: float = 0.0, stall: tuple | None = None):
        self.live = stand_in(name, ("times", 2), sleep, stall)
        self.calls: list[tuple[bytes, float]] = []
        self._arrived = threading.Condition()
        process.listen(name, self._called)

    def _called(self, args: tuple) -> None:
        with self._arrived:
            self.calls.append((args[0] if args else None, time.monotonic()))
            self._arrived.notify_all()

    def requests(self, count: int = 0, seconds: float = WAIT) -> list[bytes]:
        """The requests handle was called with, once there are `count` of them (or `seconds` went by)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.calls) >= count, seconds)
            return [request for request, _ in self.calls]

    def span(self) -> float:
        """Seconds from the first call to the last, as the judge saw them arrive."""
        return self.calls[-1][1] - self.calls[0][1] if self.calls else 0.0


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
