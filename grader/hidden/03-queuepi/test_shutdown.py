"""03-queuepi: every node returns within a second once its context is terminated, even with
messages it could not deliver, and leaves nothing running.

The judge times the return itself, and counts the student process's threads as the
kernel does (/proc), before the node starts and after it has returned.
"""
from __future__ import annotations

import time

import pytest
import zmq
from queuepi_peers import Publisher, frozen_subscriber, receive, threads_left
from zmq_peers import STOP_BOUND, free_url


def stuck_bitsource(nodes, peers):
    """A subscriber that joined and then froze: bitsource's queue to it fills with points it cannot deliver."""
    url = free_url()
    node = nodes("bitsource", url)
    frozen_subscriber(peers, url, node)
    node.check()
    time.sleep(1.0)  # flat out, a second fills the kernel's buffers and the high-water mark many times over
    return node


def stuck_always_yes(nodes, peers):
    """Nobody listens at out_url: the 'Y's always_yes pushes cannot be delivered."""
    publisher = Publisher(peers)
    node = nodes("always_yes", publisher.url, free_url())
    publisher.wait_for(node, [b"00"])
    for _ in range(20):
        publisher.publish("00" * 32)
    time.sleep(0.3)
    return node


def stuck_judge(nodes, peers):
    """Nobody listens at pythagoras_url: judge's request waits, unsent, for an answer that never comes."""
    publisher = Publisher(peers)
    sink, sink_url = peers.bind(zmq.PULL)
    node = nodes("judge", publisher.url, free_url(), sink_url)
    publisher.wait_for(node, [b"01", b"10", b"11"])
    publisher.publish("01" * 32)
    time.sleep(0.3)
    return node


def stuck_pythagoras(nodes, peers):
    """pythagoras has answered once and waits for the next question."""
    pythagoras_url = free_url()
    node = nodes("pythagoras", pythagoras_url)
    asker = peers.connect(zmq.REQ, pythagoras_url)
    asker.send(b"[3, 4]")
    receive(asker, node, "pythagoras did not answer [3, 4]")
    return node


def stuck_tally(nodes, peers):
    """tally (points=None) has counted a few decisions and waits for more."""
    url = free_url()
    node = nodes("tally", url)
    pusher = peers.connect(zmq.PUSH, url)
    for decision in "YNY":
        pusher.send_string(decision)
    time.sleep(0.3)
    return node


SCENARIOS = {"bitsource": stuck_bitsource, "always_yes": stuck_always_yes, "judge": stuck_judge,
             "pythagoras": stuck_pythagoras, "tally": stuck_tally}


@pytest.mark.points(2)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_node_returns_within_a_second_of_termination(queuepi, process, nodes, peers, name):
    """Once its context is terminated the node returns (catching zmq.ContextTerminated) within a second, its sockets
    closed with linger 0 even with messages unsent, and no thread of its own left running."""
    before = process.threads()
    node = SCENARIOS[name](nodes, peers)
    node.check()
    stopped = node.stop()
    assert stopped.returned_after is not None, (
        f"{name} was still running {STOP_BOUND:.0f} s after its context was terminated "
        "(does it catch zmq.ContextTerminated and return, or does it loop on?)")
    assert stopped.error is None, f"{node.describe_error()}: it should catch zmq.ContextTerminated and return"
    assert stopped.term_finished, (
        f"{name} returned, but zcontext.term() was still waiting {STOP_BOUND:.0f} s later: a socket was left "
        "open, or closed with the default linger while holding messages it could not deliver (set linger = 0 "
        "when you make each socket: once the context is terminated, close(linger=0) can no longer set it)")
    left = threads_left(process, before)
    assert left <= 0, (f"{name} returned but left {left} thread(s) running beyond those it started with "
                       "(a thread of its own, or a zmq.Context of its own never terminated?)")
