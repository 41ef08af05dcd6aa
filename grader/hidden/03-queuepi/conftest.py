"""Fixtures for 03-queuepi: the student's queuepi module, its nodes in threads, and the test's peers."""
from __future__ import annotations

import pytest
import zmq
from queuepi_peers import Asker, NodeRun, Peers, Publisher, Pythagoras, free_url, receive, single_frame


@pytest.fixture(scope="session")
def queuepi(student):
    return student("queuepi")


@pytest.fixture
def peers():
    """The test's own sockets (on their own context), all closed when the test ends."""
    side = Peers()
    yield side
    side.close()


@pytest.fixture
def nodes(queuepi, peers):
    """start(name, *args, **kwargs) runs queuepi.<name>(context, *args, **kwargs) in a thread.

    Each node gets a fresh context. When the test ends every node still running is
    terminated; one that will not stop is contained (see NodeRun.reap) but not
    graded here: returning on termination has tests of its own.
    """
    runs: list[NodeRun] = []

    def start(name: str, *args, **kwargs) -> NodeRun:
        run = NodeRun(name, getattr(queuepi, name), args, kwargs)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()
        run.reap()


class JudgeRig:
    """A judge under test, with the test playing bitsource, pythagoras and tally around it."""

    def __init__(self, nodes, peers):
        self.publisher = Publisher(peers)
        self.pythagoras = Pythagoras(peers)
        self.sink, sink_url = peers.bind(zmq.PULL)
        self.node = nodes("judge", self.publisher.url, self.pythagoras.url, sink_url)
        self.publisher.wait_for(self.node, [b"01", b"10", b"11"])

    def decide(self, bits: str, reply=None) -> tuple[bytes, bytes]:
        """Publish one point; answer judge's request with `reply`; return (request, decision)."""
        self.publisher.publish(bits)
        request = self.pythagoras.answer(self.node, reply)
        decision = single_frame(receive(self.sink, self.node, f"judge pushed no decision for {bits!r}"),
                                "judge's decision")
        return request, decision


@pytest.fixture
def judge_rig(nodes, peers) -> JudgeRig:
    return JudgeRig(nodes, peers)


@pytest.fixture
def asker(nodes, peers) -> Asker:
    """A REQ socket connected to a running pythagoras."""
    url = free_url()
    return Asker(peers, url, nodes("pythagoras", url))
