"""05-workqueue: the course's server, alone, with the judge's REQ sockets asking it."""
from __future__ import annotations

import pytest
import zmq
from workqueue_peers import answer, quiet, receive
from zmq_peers import STOP_BOUND, free_url


@pytest.mark.points(3)
def test_server_replies_handle_of_each_request(nodes, peers, handles):
    """server binds a REP socket at `url` and answers every request with handle(request), whoever asks."""
    requests = [b"hello", b"", b"\x00\xff binary", b"again" * 1000]
    handle, url = handles(), free_url()
    node = nodes("server", url, handle.live)
    askers = [peers.connect(zmq.REQ, url) for _ in range(2)]
    for number, request in enumerate(requests):
        askers[number % 2].send(request)
        reply = receive(askers[number % 2], f"the reply to {request[:20]!r}", node)
        assert reply == [answer(request)], (
            f"the server answered {request[:20]!r} with {reply!r:.80}; handle({request[:20]!r}) returned "
            f"{answer(request)!r} (each reply is handle(request), as one frame)")
    called = handle.requests(len(requests))
    assert called == requests, f"handle was called with {called!r:.200}; expected each request once, in order"


@pytest.mark.points(2)
def test_server_returns_after_exactly_requests_requests(nodes, peers, handles):
    """With requests=3, server answers three requests, then returns 3 (and answers no fourth)."""
    handle, url = handles(), free_url()
    node = nodes("server", url, handle.live, requests=3)
    asker = peers.connect(zmq.REQ, url)
    for number in range(3):
        asker.send(b"request %d" % number)
        reply = receive(asker, f"the reply to request {number + 1} of 3", node)
        assert reply == [answer(b"request %d" % number)], (
            f"reply {number + 1} was {reply!r}, not handle(request): {answer(b'request %d' % number)!r}")
    served = node.result(doing=" after answering its 3 requests (requests=3)")
    assert served == 3, f"server(..., requests=3) answered three requests and returned {served!r}, not 3"
    asker.send(b"one too many")
    assert quiet(asker) == [], "the server answered a fourth request after returning"


@pytest.mark.points(2)
def test_server_returns_its_count_when_terminated(nodes, peers, handles):
    """With requests=None, server serves until its context is terminated, then returns how many it served."""
    handle, url = handles(), free_url()
    node = nodes("server", url, handle.live)
    asker = peers.connect(zmq.REQ, url)
    for request in b"one", b"two":
        asker.send(request)
        receive(asker, f"the reply to {request!r}", node)
    stopped = node.stop()
    assert stopped.returned_after is not None, f"the server did not return within {STOP_BOUND:g} s of term()"
    served = node.result()
    assert served == 2, f"the server answered two requests, then its context was terminated: it returned {served!r}"
