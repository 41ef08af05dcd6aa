"""05-workqueue: the Lazy Pirate client, alone, against a server of the judge's that answers, swallows
requests or never answers (a ROUTER, so the judge sees which socket each request came from)."""
from __future__ import annotations

import time

import pytest
import zmq
from workqueue_peers import envelope, quiet, receive
from zmq_peers import WAIT

from grader.student_process import StudentCodeRaised


def next_request(router, what, node) -> tuple[bytes, bytes, float]:
    """(the asking socket's identity, the payload, when it arrived) of the next request at the judge's server."""
    frames = receive(router, what, node)
    arrived = time.monotonic()
    if len(frames) != 3:
        pytest.fail(f"the server got {frames!r}: a REQ socket's request is [identity, b'', payload]", pytrace=False)
    identity, payload = frames[0], envelope(frames[1:], 2, "the server")[0]
    return identity, payload, arrived


@pytest.mark.points(3)
def test_client_returns_the_replies_in_payload_order(nodes, peers):
    """client sends the payloads one after another, and returns each payload's reply, in payload order."""
    router, url = peers.bind(zmq.ROUTER)
    payloads = [b"first", b"", b"\x00\x01\x02", b"last" * 500]
    node = nodes("client", url, payloads)
    for payload in payloads:
        identity, got, _ = next_request(router, f"the request for {payload[:20]!r}", node)
        assert got == payload, f"expected the payload {payload[:20]!r} next, the client sent {got[:20]!r}"
        router.send_multipart([identity, b"", payload[::-1] + b"!"])
    replies = node.result()
    assert replies == [p[::-1] + b"!" for p in payloads], (
        f"client returned {replies!r:.200}; the server answered each payload p with p[::-1] + b'!'")


@pytest.mark.points(4)
def test_client_retries_on_a_new_socket_after_a_timeout(nodes, peers):
    """When no reply comes within `timeout`, client closes that REQ socket and sends the same payload on a new one."""
    router, url = peers.bind(zmq.ROUTER)
    node = nodes("client", url, [b"warm-up", b"lost once", b"after"], timeout=0.5, retries=2)
    identity, _, _ = next_request(router, "the first request", node)
    router.send_multipart([identity, b"", b"warmed"])
    first, payload, _ = next_request(router, "the request for b'lost once'", node)
    assert payload == b"lost once"
    second, payload, _ = next_request(router, "the retry of b'lost once', the server having said nothing", node)
    assert payload == b"lost once", f"after a timeout the client sent {payload!r}, not the same payload again"
    assert second != first, ("the retry came from the socket that timed out (the same identity): a REQ socket "
                             "still waiting for its reply must be closed, and a new one opened")
    router.send_multipart([second, b"", b"found"])
    identity, payload, _ = next_request(router, "the request for b'after'", node)
    router.send_multipart([identity, b"", b"done"])
    replies = node.result()
    assert replies == [b"warmed", b"found", b"done"], f"client returned {replies!r}"


@pytest.mark.points(4)
def test_client_gives_up_after_retries_naming_the_payload(nodes, peers):
    """With retries=2 and no answer, client tries 3 times in all, each on a new socket, then raises TimeoutError
    naming the payload."""
    router, url = peers.bind(zmq.ROUTER)
    node = nodes("client", url, [b"job-17"], timeout=0.2, retries=2)
    tries = []
    deadline = time.monotonic() + WAIT
    while node.ended() is None and time.monotonic() < deadline:
        if router.poll(20):
            tries.append(router.recv_multipart())
    tries += quiet(router)
    try:
        replies = node.pending.result(timeout=0)
    except StudentCodeRaised as exc:
        assert exc.type_name == "TimeoutError", f"client should raise TimeoutError when no reply comes, not: {exc}"
        assert "job-17" in exc.message, f"the TimeoutError should name the payload b'job-17': {exc}"
    except TimeoutError:
        pytest.fail(f"client was still running {WAIT:g} s after the server stopped answering "
                    "(timeout=0.2, retries=2)", pytrace=False)
    else:
        pytest.fail(f"client should raise TimeoutError when no reply comes; it returned {replies!r}", pytrace=False)
    payloads = [frames[-1] for frames in tries]
    assert payloads == [b"job-17"] * 3, (
        f"with retries=2 the server should get the payload 3 times (the first try and 2 retries), "
        f"it got {payloads!r}")
    assert len({frames[0] for frames in tries}) == 3, "each retry must come from a new REQ socket"


@pytest.mark.points(2)
def test_client_waits_timeout_before_each_retry(nodes, peers):
    """client waits `timeout` seconds (not milliseconds) for a reply before it sends the payload again."""
    router, url = peers.bind(zmq.ROUTER)
    timeout = 1.0
    node = nodes("client", url, [b"warm-up", b"slow"], timeout=timeout, retries=1)
    identity, _, _ = next_request(router, "the first request", node)
    router.send_multipart([identity, b"", b"ok"])
    _, _, first = next_request(router, "the request for b'slow'", node)
    identity, _, again = next_request(router, "the retry of b'slow'", node)
    router.send_multipart([identity, b"", b"ok"])
    waited = again - first
    assert waited >= timeout / 2, (  # half: room for a busy judge, and still far above milliseconds
        f"with timeout={timeout} the retry came {waited * 1000:.0f} ms after the first try: timeout is in seconds "
        "(zsock.poll takes milliseconds)")
    node.result()
