"""05-workqueue: a worker, alone, with the judge playing the broker (a ROUTER it connects to)."""
from __future__ import annotations

import pytest
import zmq
from workqueue_peers import answer, quiet, receive
from zmq_peers import STOP_BOUND

CLIENTS = [b"client-a", b"\x00k\x8bEg", b"client-a"]  # a ROUTER's own ids look like the second


def ready_from(router, node) -> bytes:
    """The worker's READY, [worker_id, b'', b'READY']; its worker_id."""
    frames = receive(router, "the worker's READY", node)
    if len(frames) != 3 or frames[1:] != [b"", b"READY"]:
        pytest.fail(f"the broker got {frames!r} first: a worker's READY arrives as [worker_id, b'', b'READY']",
                    pytrace=False)
    return frames[0]


def serve(router, node, worker_id: bytes, requests) -> None:
    """Hand the worker each request in turn, as the broker does, and check each reply's envelope."""
    for client_id, request in zip(CLIENTS * len(requests), requests):
        router.send_multipart([worker_id, b"", client_id, b"", request])
        frames = receive(router, f"the reply to {request!r}", node)
        assert frames == [worker_id, b"", client_id, b"", answer(request)], (
            f"handed [{client_id!r}, b'', {request!r}], the worker sent back {frames[1:]!r}; expected "
            f"[{client_id!r}, b'', {answer(request)!r}]: the client's id, the delimiter, handle(request)")


@pytest.mark.points(4)
def test_worker_says_ready_once_then_answers_each_envelope(nodes, peers, handles):
    """worker sends b'READY' once, then answers each [client_id, b'', request] with
    [client_id, b'', handle(request)]."""
    handle = handles()
    router, url = peers.bind(zmq.ROUTER)
    node = nodes("worker", url, handle.live)
    worker_id = ready_from(router, node)
    serve(router, node, worker_id, [b"first", b"", b"third"])
    assert quiet(router) == [], "the worker sent something more than READY and one reply per request"
    assert handle.requests(3) == [b"first", b"", b"third"]


@pytest.mark.points(2)
def test_worker_uses_the_identity_it_is_given(nodes, peers, handles):
    """With identity=b'worker-7', the broker sees the worker as b'worker-7' (zmq.IDENTITY, set before connect)."""
    router, url = peers.bind(zmq.ROUTER)
    node = nodes("worker", url, handles().live, identity=b"worker-7")
    worker_id = ready_from(router, node)
    assert worker_id == b"worker-7", (
        f"the broker saw the worker's READY come from {worker_id!r}, not b'worker-7': set zmq.IDENTITY before "
        "connect (it applies to connections made after it is set)")
    serve(router, node, worker_id, [b"work"])


@pytest.mark.points(2)
def test_worker_returns_how_many_requests_it_served(nodes, peers, handles):
    """Once its context is terminated, worker returns the number of requests it served (READY is not one)."""
    router, url = peers.bind(zmq.ROUTER)
    node = nodes("worker", url, handles().live)
    serve(router, node, ready_from(router, node), [b"one", b"two", b"three"])
    stopped = node.stop()
    assert stopped.returned_after is not None, f"the worker did not return within {STOP_BOUND:g} s of term()"
    served = node.result()
    assert served == 3, f"the worker answered three requests, then its context was terminated: it returned {served!r}"
