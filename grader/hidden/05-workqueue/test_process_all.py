"""05-workqueue: the whole queue through process_all, with the judge's handle in the student process."""
from __future__ import annotations

import socket
import time

import pytest
from workqueue_peers import STUDENT_ERRORS

from grader.student_process import StudentCodeRaised, background

WORK = 0.020  # seconds each request takes in the throughput check
RATIO = 3.0  # four workers against one: at least this many times sooner
ATTEMPTS = 3  # a busy machine may spoil one measurement; a queue that does not spread work fails them all
STALL = 3.0  # seconds a stuck worker holds its request: beyond the client's 2 s timeout
GIVE_UP = 8.0  # seconds a client with the defaults waits before its TimeoutError: four tries of 2 s
FIXED_PORTS = (5555, 5556, 5557, 5558, 5559, 5560, 5570, 5571, 6700, 6701, 6702)  # the guide's, the book's


def payloads(count: int, tag: bytes = b"p") -> list[bytes]:
    return [tag + b"%d" % number for number in range(count)]


@pytest.mark.points(3)
def test_process_all_returns_the_replies_in_payload_order(workqueue, handles):
    """process_all shares the payloads among its clients and returns every reply, in payload order."""
    sent = payloads(30)
    replies = workqueue.process_all(sent, handles().live, workers=3, clients=3)
    assert replies == [p * 2 for p in sent], (
        f"process_all(30 payloads, workers=3, clients=3) returned {replies!r:.300}; handle(p) is p * 2, and the "
        "replies come back in the payloads' order")


@pytest.mark.points(4)
@pytest.mark.timeout(60)
def test_process_all_answers_every_request_when_a_worker_stops_mid_request(workqueue, handles):
    """A worker stuck in the middle of a request: its client's retry reaches another worker, and every request
    is answered, in order."""
    handle = handles(stall=(b"p3", STALL))
    sent = payloads(12)
    replies = workqueue.process_all(sent, handle.live, workers=3, clients=2)
    assert replies == [p * 2 for p in sent], f"process_all returned {replies!r:.300}"
    tries = [request for request, _ in handle.calls].count(b"p3")
    assert tries >= 2, (
        f"the worker handling b'p3' was stuck for {STALL:g} s, yet handle saw b'p3' {tries} time(s): its client "
        "should have given up on that worker after its 2 s timeout and sent b'p3' again, to another worker")


@pytest.mark.points(4)
@pytest.mark.timeout(90)
def test_process_all_with_four_workers_is_three_times_faster(workqueue, handles):
    """With a 20 ms handle and clients=4, four workers get a batch done at least three times sooner than one
    (from the first handle call to the last)."""
    sent = payloads(40)
    seen = []
    for attempt in range(ATTEMPTS):
        spans = {}
        for workers in 1, 4:
            handle = handles(f"handle-{attempt}-{workers}", sleep=WORK)
            replies = workqueue.process_all(sent, handle.live, workers=workers, clients=4)
            assert replies == [p * 2 for p in sent], f"process_all returned {replies!r:.200}"
            handle.requests(len(sent))
            spans[workers] = handle.span()
        seen.append(spans[1] / max(spans[4], 1e-6))
        if seen[-1] >= RATIO:
            return
    pytest.fail(f"four workers were only {', '.join(f'{r:.1f}' for r in seen)} times as fast as one ({ATTEMPTS} "
                f"tries; at least {RATIO:g} expected): are the payloads shared among the clients, and does every "
                "client have a request waiting while the workers work?", pytrace=False)


@pytest.mark.points(2)
def test_process_all_leaves_no_thread_behind(process, workqueue, handles):
    """When process_all returns, every thread it started (its nodes', ZeroMQ's own) has ended."""
    before = process.threads()
    workqueue.process_all(payloads(20), handles().live, workers=3, clients=2)
    deadline = time.monotonic() + 2.0
    while (after := process.threads()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after <= before, (
        f"the student process had {before} threads before process_all and {after} after it returned: "
        "terminate the context and join every thread you started")


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_process_all_uses_free_ports(workqueue, handles):
    """Two process_all at once, with the usual fixed ports taken: each finds free ports of its own."""
    taken = []
    for port in FIXED_PORTS:
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", port))
            listener.listen()
            taken.append(listener)
        except OSError:  # somebody else holds it: just as taken
            listener.close()
    try:
        runs = [background(workqueue.process_all, payloads(10, tag), handles(f"handle-{tag.decode()}").live, 2, 2)
                for tag in (b"a", b"b")]
        for run, tag in zip(runs, (b"a", b"b")):
            try:
                replies = run.result(timeout=30)
            except TimeoutError:
                pytest.fail("process_all was still running 30 s later, with ports 5555-5560 and 6700-6702 taken",
                            pytrace=False)
            except STUDENT_ERRORS as exc:
                pytest.fail(f"with ports 5555-5560 and 6700-6702 taken and another process_all running: {exc}",
                            pytrace=False)
            assert replies == [p * 2 for p in payloads(10, tag)], (
                f"two process_all at once got each other's replies: {replies!r:.200}")
    finally:
        for listener in taken:
            listener.close()


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_process_all_raises_the_timeout_error_of_a_client(workqueue, handles):
    """When a client gives up (its only worker stuck), process_all stops every node and raises its TimeoutError."""
    handle = handles(stall=(b"stuck", GIVE_UP + 1.0))
    try:
        replies = workqueue.process_all([b"stuck"], handle.live, workers=1, clients=1)
    except StudentCodeRaised as exc:
        assert exc.type_name == "TimeoutError", f"process_all should raise the client's TimeoutError, not: {exc}"
    else:
        pytest.fail(f"the only worker was stuck on b'stuck' for longer than the client's four tries of 2 s, yet "
                    f"process_all returned {replies!r} instead of raising TimeoutError", pytrace=False)
