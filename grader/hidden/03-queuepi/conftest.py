"""Fixtures for 03-queuepi, graded through a student process.

The judge never imports queuepi.py: `queuepi` is the module in a fresh student
process, each node runs there in a thread of its own (a background call) on a
zmq.Context built there, and the judge plays the node's peers with its own sockets
over real TCP (queuepi_peers.py). Verdicts come from what reaches those sockets,
what the nodes return, and the judge's own clock and look at the process.
"""
from __future__ import annotations

import functools

import pytest
import zmq
from queuepi_peers import Asker, Node, Publisher, Pythagoras, receive, single_frame
from zmq_peers import free_url


@pytest.fixture
def queuepi(process):
    """The student's queuepi module, in its student process."""
    return process.module()


@pytest.fixture
def nodes(process):
    """nodes(name, *args, **kwargs) runs queuepi.<name>(zcontext, *args, **kwargs) in the student process.

    Each node gets a fresh context there. Nodes still running when the test ends
    stop with their process: returning on termination has tests of its own.
    """
    return functools.partial(Node, process)


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
