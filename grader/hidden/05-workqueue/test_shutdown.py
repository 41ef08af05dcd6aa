"""05-workqueue: every node returns within a second of its context's termination, whatever it was doing,
with nothing unsent holding term() up."""
from __future__ import annotations

import pytest
import zmq
from workqueue_peers import FakeClient, FakeWorker, receive
from zmq_peers import QUIET, STOP_BOUND, free_url


def still_running(node):
    """A node the judge cannot talk to: it must still be at work a moment after it started."""
    if node.pending.done(timeout=QUIET):
        pytest.fail(f"{node.name} ended by itself, before its context was terminated: {node.ended()}",
                    pytrace=False)
    return node


def server_between_requests(nodes, peers, handles):
    url = free_url()
    node = nodes("server", url, handles().live)
    asker = peers.connect(zmq.REQ, url)
    asker.send(b"one")
    receive(asker, "the server's reply", node)
    return node


def client_with_nobody_there(nodes, peers, handles):
    """Its request cannot leave: nothing listens at the url."""
    return still_running(nodes("client", free_url(), [b"into the void"], timeout=30.0))


def client_waiting_for_a_reply(nodes, peers, handles):
    router, url = peers.bind(zmq.ROUTER)
    node = nodes("client", url, [b"never answered"], timeout=30.0)
    receive(router, "the client's request", node)
    return node


def worker_with_no_broker(nodes, peers, handles):
    """Its READY cannot leave: nothing listens at the url."""
    return still_running(nodes("worker", free_url(), handles().live))


def worker_waiting_for_work(nodes, peers, handles):
    router, url = peers.bind(zmq.ROUTER)
    node = nodes("worker", url, handles().live)
    receive(router, "the worker's READY", node)
    return node


def broker_with_a_request_waiting(nodes, peers, handles):
    """Its only worker is busy with one request, and a second request waits."""
    frontend, backend = free_url(), free_url()
    node = nodes("broker", frontend, backend)
    worker = FakeWorker(peers, backend, b"w1", node)
    worker.ready()
    FakeClient(peers, frontend, "c1", node).send(b"first")
    worker.take()
    FakeClient(peers, frontend, "c2", node).send(b"is anybody there?")
    return node


SITUATIONS = [server_between_requests, client_with_nobody_there, client_waiting_for_a_reply, worker_with_no_broker,
              worker_waiting_for_work, broker_with_a_request_waiting]


@pytest.mark.points(1)
@pytest.mark.parametrize("situation", SITUATIONS, ids=[s.__name__ for s in SITUATIONS])
def test_node_returns_within_a_second_of_termination(nodes, peers, handles, situation):
    """Terminating a node's context makes it return (or, for the client, raise) within a second, its sockets
    closed with LINGER 0, so that term() itself returns too."""
    node = situation(nodes, peers, handles)
    where = situation.__name__.replace("_", " ")
    assert node.ended() is None, f"{where}: {node.name} ended before its context was terminated: {node.ended()}"
    stopped = node.stop()
    assert stopped.returned_after is not None, (
        f"{where}: {node.name} was still running {STOP_BOUND:g} s after its context was terminated "
        "(does it catch zmq.ContextTerminated and return?)")
    assert node.name == "client" or stopped.raised is None, (
        f"{where}: {node.name} should return when its context is terminated; it raised: {stopped.raised}")
    assert stopped.term_finished, (
        f"{where}: {node.name} returned, but term() was still waiting {STOP_BOUND:g} s later: a socket was left "
        "open, or closed with unsent messages and LINGER not 0 (set zsock.linger = 0 when you make it)")
