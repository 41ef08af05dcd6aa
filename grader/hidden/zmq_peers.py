"""The judge's side of a ZeroMQ assignment (03, 05): its own sockets, on its own context.

The node under test runs in the student process on a context built there; the
judge's sockets (`Peers`) bind tcp://127.0.0.1:* wherever a node connects, or
connect wherever a node was told to bind (`free_url`). Each assignment's own
peers module (queuepi_peers, workqueue_peers) builds its nodes' peers from these.
"""
from __future__ import annotations

import subprocess

import zmq

from grader.harness import free_port

WAIT = 5.0  # seconds any one message may take to arrive
QUIET = 0.3  # seconds of silence after which no more messages are expected
STOP_BOUND = 2.0  # the contract's second for a node to return after term(), doubled for a busy machine


def free_url() -> str:
    """A tcp:// URL on a free loopback port, for a node that binds (it has to be told where)."""
    return f"tcp://127.0.0.1:{free_port()}"


class Peers:
    """The judge's sockets on a context of its own, LINGER 0, and any helper process it started; all
    closed (killed) when the test ends."""

    def __init__(self):
        self.context = zmq.Context()
        self.sockets: list[zmq.Socket] = []
        self.processes: list[subprocess.Popen] = []

    def socket(self, kind: int, **options) -> zmq.Socket:
        """Options by pyzmq's attribute names (identity=b"w1", rcvhwm=1); None leaves one unset."""
        zsock = self.context.socket(kind)
        zsock.linger = 0
        for name, value in options.items():
            if value is not None:
                setattr(zsock, name, value)
        self.sockets.append(zsock)
        return zsock

    def bind(self, kind: int, **options) -> tuple[zmq.Socket, str]:
        """A socket bound to a loopback port of the kernel's choosing, and its URL."""
        zsock = self.socket(kind, **options)
        zsock.bind("tcp://127.0.0.1:*")
        return zsock, zsock.last_endpoint.decode()

    def connect(self, kind: int, url: str, **options) -> zmq.Socket:
        zsock = self.socket(kind, reconnect_ivl=10, **options)  # a node that binds late is found at once
        zsock.connect(url)
        return zsock

    def close(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()
        for zsock in self.sockets:
            zsock.close(linger=0)
        self.context.term()
