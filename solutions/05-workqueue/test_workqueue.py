"""A first feel for 05-workqueue: run `pytest` in this folder.

These few tests are only a start; the grade comes from more thorough hidden tests
of every clause of the handout, which play each node's peers over real TCP (a
server that never answers, a broker that hands out work, workers that vanish).
Here each node runs in a thread (`running` below) on a context of its own, and is
stopped by terminating that context.
"""
import contextlib
import threading

import pytest
import workqueue
import zmq


@contextlib.contextmanager
def running(node, *args):
    """Run node(context, *args) in a thread; afterwards terminate its context and expect it to return."""
    context = zmq.Context()
    raised = []

    def target():
        try:
            node(context, *args)
        except Exception as exc:
            raised.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    yield raised
    stopper = threading.Thread(target=context.term, daemon=True)
    stopper.start()
    thread.join(2)
    assert not thread.is_alive(), f"{node.__name__} did not return within 2 s of its context's termination"
    assert not raised, f"{node.__name__} raised {raised[0]!r}"


@contextlib.contextmanager
def peer(kind, url, bind=False):
    """A socket of our own, playing the node's neighbour; LINGER 0, so nothing waits on it."""
    with zmq.Context() as context, context.socket(kind) as zsock:
        zsock.linger = 0
        zsock.bind(url) if bind else zsock.connect(url)
        yield zsock


def receive(zsock, raised, seconds=5.0):
    """The next multipart message on zsock; fails after `seconds`, or at once if the node raised."""
    for _ in range(int(seconds * 20)):
        assert not raised, f"the node raised {raised[0]!r}"
        if zsock.poll(50):
            return zsock.recv_multipart()
    raise AssertionError(f"nothing arrived within {seconds} s")


def test_server_replies_with_handle_of_each_request():
    url = workqueue.loopback_url()
    with running(workqueue.server, url, bytes.upper) as raised, peer(zmq.REQ, url) as asker:
        for word in b"hello", b"world":
            asker.send(word)
            assert receive(asker, raised) == [word.upper()]


def test_client_sends_each_payload_and_returns_the_replies_in_order():
    url = workqueue.loopback_url()
    replies, raised = [], []
    with peer(zmq.REP, url, bind=True) as server, zmq.Context() as context:

        def ask():
            try:
                replies.extend(workqueue.client(context, url, [b"abc", b"xy", b""]))
            except Exception as exc:
                raised.append(exc)

        asking = threading.Thread(target=ask, daemon=True)
        asking.start()
        for _ in range(3):
            (request,) = receive(server, raised)
            server.send(request[::-1])  # this server answers each payload reversed
        asking.join(5)
    assert not raised, f"client raised {raised[0]!r}"
    assert replies == [b"cba", b"yx", b""]


def test_client_gives_up_with_timeout_error_when_nobody_answers():
    url = workqueue.loopback_url()
    with peer(zmq.REP, url, bind=True), zmq.Context() as context:  # it takes requests, never replies
        with pytest.raises(TimeoutError, match="ping"):
            workqueue.client(context, url, [b"ping"], timeout=0.2, retries=1)


def test_worker_says_ready_then_answers_the_envelope():
    url = workqueue.loopback_url()
    with peer(zmq.ROUTER, url, bind=True) as broker, running(workqueue.worker, url, bytes.upper) as raised:
        worker_id, empty, ready = receive(broker, raised)
        assert (empty, ready) == (b"", b"READY")
        broker.send_multipart([worker_id, b"", b"client-7", b"", b"work"])
        assert receive(broker, raised) == [worker_id, b"", b"client-7", b"", b"WORK"]


def test_broker_hands_a_request_to_a_worker_and_the_reply_back():
    frontend, backend = workqueue.loopback_url(), workqueue.loopback_url()
    with running(workqueue.broker, frontend, backend) as raised, \
            peer(zmq.REQ, backend) as worker, peer(zmq.REQ, frontend) as asker:
        worker.send(b"READY")
        asker.send(b"question")
        client_id, empty, request = receive(worker, raised)
        assert (empty, request) == (b"", b"question")
        worker.send_multipart([client_id, b"", b"answer"])
        assert receive(asker, raised) == [b"answer"]


def test_process_all_returns_the_replies_in_payload_order():
    payloads = [b"payload %d" % i for i in range(20)]
    assert workqueue.process_all(payloads, bytes.upper, workers=3, clients=2) == [p.upper() for p in payloads]
