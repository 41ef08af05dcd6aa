"""05-workqueue: the whole queue through process_all, seen from workers of the judge's own.

process_all wires its queue on ports of its own choosing, inside the student process. The judge finds
them in the kernel's list of the process's listening sockets and joins the broker's backend with
workers of its own (JudgeWorkers): every request they get reaches the judge's own sockets, and every
reply they send is a value only the judge knows. Most tests run process_all with `workers=0` (the
contract allows it: the broker then waits for workers from outside), so that every payload must pass
through the judge; one runs the student's own workers beside the judge's.
"""
from __future__ import annotations

import socket
import time

import pytest
from workqueue_peers import STUDENT_ERRORS, JudgeWorkers, answer

from grader.student_process import StudentCodeRaised, background

WORK = 0.020  # seconds each request takes the judge's workers in the throughput check
RATIO = 3.0  # four workers against one: at least this many times sooner
ATTEMPTS = 3  # a busy machine may spoil one measurement; a queue that does not spread work fails them all
GIVE_UP = 8.0  # seconds a client with the defaults waits before its TimeoutError: four tries of 2 s
LIMIT = 30.0  # seconds any one process_all may take here
FIXED_PORTS = (5555, 5556, 5557, 5558, 5559, 5560, 5570, 5571, 6700, 6701, 6702)  # the guide's, the book's


def payloads(count: int, tag: bytes = b"p") -> list[bytes]:
    return [tag + b"%d" % number for number in range(count)]


@pytest.fixture
def judge_workers(process, peers):
    """judge_workers(**options) -> JudgeWorkers joining the process_all about to run; stopped at the end."""
    started = []

    def start(**options) -> JudgeWorkers:
        started.append(JudgeWorkers(process.pid, peers.context, **options))
        return started[-1]

    yield start
    for workers in started:
        workers.stop()


def outcome(run, what: str):
    """What a process_all run in the background returned; the test fails when it raised or ran on."""
    try:
        return run.result(timeout=LIMIT)
    except TimeoutError:
        pytest.fail(f"{what} was still running {LIMIT:g} s later", pytrace=False)
    except STUDENT_ERRORS as exc:
        pytest.fail(f"{what}: {exc}", pytrace=False)


def through_the_judge(sent: list[bytes], replies, judge: JudgeWorkers, what: str) -> None:
    """Every payload reached a worker of the judge's, and process_all returned the judge's replies in order."""
    missing = [p for p in sent if p not in judge.payloads()]
    assert not missing, (
        f"{what}: {len(missing)} of the {len(sent)} payloads (the first: {missing[0]!r}) never reached the workers "
        "of the judge's that had joined the broker's backend (with workers=0 every request waits there for a "
        "worker from outside): is there a broker, with a ROUTER bound on a loopback TCP port for the workers?")
    expected = [answer(p, b"judge") for p in sent]
    assert replies == expected, (
        f"{what} returned {replies!r:.200}; the judge's workers answered each payload p with a reply only they "
        f"know, {expected[:2]!r:.100}..., and those replies, in payload order, are what process_all returns")


@pytest.mark.points(3)
def test_process_all_returns_the_replies_in_payload_order(workqueue, handles, judge_workers):
    """process_all shares the payloads among its clients, each request goes through the broker to a worker, and
    every reply comes back, in payload order (workers=0: the judge's workers answer)."""
    sent, judge = payloads(30), judge_workers(count=2)
    replies = outcome(background(workqueue.process_all, sent, handles().live, workers=0, clients=3),
                      "process_all(30 payloads, workers=0, clients=3)")
    through_the_judge(sent, replies, judge, "process_all(30 payloads, workers=0, clients=3)")
    asking = {t.client_id for t in judge.taken if t.payload in sent}
    assert len(asking) >= 3, (
        f"the judge's workers got the 30 payloads from {len(asking)} client socket(s): with clients=3 the "
        "payloads are shared among three clients, each with a REQ socket of its own")


@pytest.mark.points(4)
@pytest.mark.timeout(60)
def test_process_all_answers_every_request_when_a_worker_stops_mid_request(workqueue, handles, judge_workers):
    """A worker stuck in the middle of a request: its client's retry reaches another worker, and every request
    is answered, in order (the judge's two workers, one of which never answers its first request)."""
    sent, judge = payloads(12), judge_workers(count=2, hold="first")
    replies = outcome(background(workqueue.process_all, sent, handles().live, workers=0, clients=2),
                      "process_all(12 payloads, workers=0, clients=2)")
    stuck = next((t for t in judge.taken if t.worker.endswith(b"-1")), None)
    assert stuck is not None, "none of the 12 payloads reached the first of the judge's workers"
    answered = stuck.replied or float("inf")  # the held request's late answer, if process_all waited that long
    retries = [t for t in judge.taken if t.payload == stuck.payload and t is not stuck]
    assert retries and all(t.worker != stuck.worker and t.arrived < answered for t in retries), (
        f"a worker of the judge's took {stuck.payload!r} and answered only {judge.held_for:g} s later; that "
        "payload did not reach the other worker meanwhile: its client should give up on the first after its "
        "2 s timeout and send it again")
    through_the_judge(sent, replies, judge, "process_all(12 payloads, workers=0, clients=2)")


@pytest.mark.points(4)
@pytest.mark.timeout(90)
def test_process_all_with_four_workers_is_three_times_faster(workqueue, handles, judge_workers):
    """With workers that take 20 ms a request and clients=4, four workers get a batch done at least three times
    sooner than one (the judge's own workers, timed on its own clock from the first request to the last reply)."""
    sent = payloads(40)
    seen = []
    for _ in range(ATTEMPTS):
        spans = {}
        for count in 1, 4:
            judge = judge_workers(count=count, work=WORK)
            replies = outcome(background(workqueue.process_all, sent, handles().live, workers=0, clients=4),
                              f"process_all(40 payloads, workers=0, clients=4) with {count} worker(s) of the judge's")
            judge.stop()
            through_the_judge(sent, replies, judge, f"process_all with {count} worker(s) of the judge's")
            spans[count] = judge.span()
        seen.append(spans[1] / max(spans[4], 1e-6))
        if seen[-1] >= RATIO:
            return
    pytest.fail(f"four workers were only {', '.join(f'{r:.1f}' for r in seen)} times as fast as one ({ATTEMPTS} "
                f"tries; at least {RATIO:g} expected): are the payloads shared among the clients, and does every "
                "client have a request waiting while the workers work?", pytrace=False)


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_process_all_leaves_no_thread_behind(process, workqueue, handles, judge_workers):
    """When process_all returns, every thread it started (its nodes', ZeroMQ's own) has ended (its own slow worker
    and a worker of the judge's shared the requests)."""
    sent = payloads(6)
    for attempt in range(ATTEMPTS):  # the judge's worker joins while the student's is busy: a stalled judge misses it
        before = process.threads()
        judge = judge_workers(beside=1)
        handle = handles(f"handle-{attempt}", sleep=0.1, requests=sent)
        replies = outcome(background(workqueue.process_all, sent, handle.live, workers=1, clients=2),
                          "process_all(6 payloads, workers=1, clients=2)")
        judge.stop()
        if judge.taken:
            break
    else:
        pytest.fail("a worker of the judge's joined the broker's backend (the port the student's one worker "
                    f"connected to) while requests waited, {ATTEMPTS} times, and never got one", pytrace=False)
    by_judge = {t.payload for t in judge.taken}
    expected = [answer(p, b"judge") if p in by_judge else answer(p) for p in sent]
    assert replies == expected, (
        f"process_all returned {replies!r:.200}; each reply is the answer of the worker that took the request "
        f"(the judge's worker took {sorted(by_judge)!r})")
    deadline = time.monotonic() + 2.0
    while (after := process.threads()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after <= before, (
        f"the student process had {before} threads before process_all and {after} after it returned: "
        "terminate the context and join every thread you started")


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_process_all_uses_free_ports(workqueue, handles, judge_workers):
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
        judge = judge_workers(queues=2)
        runs = {tag: background(workqueue.process_all, payloads(10, tag), handles().live, 0, 2) for tag in (b"a", b"b")}
        for tag, run in runs.items():
            replies = outcome(run, "with ports 5555-5560 and 6700-6702 taken and another process_all running, "
                                   "process_all")
            through_the_judge(payloads(10, tag), replies, judge,
                              f"of two process_all at once, the {tag.decode()!r} one")
        assert len(judge.backends) == 2, f"two process_all at once shared one backend port: {judge.backends}"
    finally:
        for listener in taken:
            listener.close()


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_process_all_raises_the_timeout_error_of_a_client(workqueue, handles, judge_workers):
    """When a client gives up (its only worker stuck: the judge's, which never answers), process_all stops every
    node and raises its TimeoutError."""
    judge = judge_workers(hold="all")
    run = background(workqueue.process_all, [b"stuck"], handles().live, workers=0, clients=1)
    try:
        replies = run.result(timeout=GIVE_UP + LIMIT)
    except StudentCodeRaised as exc:
        assert exc.type_name == "TimeoutError", f"process_all should raise the client's TimeoutError, not: {exc}"
    except TimeoutError:
        pytest.fail(f"process_all was still running {GIVE_UP + LIMIT:g} s later", pytrace=False)
    except STUDENT_ERRORS as exc:
        pytest.fail(str(exc), pytrace=False)
    else:
        pytest.fail(f"the only worker was stuck on b'stuck' for longer than the client's four tries of 2 s, yet "
                    f"process_all returned {replies!r} instead of raising TimeoutError", pytrace=False)
    assert b"stuck" in judge.payloads(), (
        "b'stuck' never reached the worker of the judge's that had joined the broker's backend: process_all "
        "raised TimeoutError without its request ever going through a broker")
