"""05-workqueue: the whole queue through process_all, seen from workers of the judge's own and on the loopback.

process_all wires its queue on ports of its own choosing, inside the student process. The judge finds
them in the kernel's list of the process's listening sockets and joins the broker's backend with
workers of its own (JudgeWorkers): every request they get reaches the judge's own sockets, and every
reply they send is a value only the judge knows. Most tests run process_all with `workers=0` (the
contract allows it: the broker then waits for workers from outside), so that every payload must pass
through the judge; one runs the student's own workers beside the judge's. The client side is read on
the grading's loopback (`loopback_tap`: the kernel's copy of every packet, read as ZMTP): every payload
must have been asked by a REQ socket at the frontend, and its reply come back there (workqueue_wire.py).
"""
from __future__ import annotations

import socket
import time

import pytest
from loopback import connections
from workqueue_peers import STUDENT_ERRORS, JudgeWorkers, answer
from workqueue_wire import askings, client_problems, retried, shown

from grader.student_process import StudentCodeRaised, background

WORK = 0.020  # seconds each request takes the judge's workers in the concurrency check
TOGETHER = 3  # of the judge's four workers, how many must hold a request each at one moment
ATTEMPTS = 3  # a busy machine may keep the judge's worker from joining in time; a queue without a backend fails all
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


def watched(tap, call):
    """call(), the grading's loopback captured meanwhile: what it returned, and the capture."""
    tap.start()
    try:
        value = call()
    finally:
        captured = tap.stop()
    return value, captured


def reached_the_judge(sent: list[bytes], judge: JudgeWorkers, what: str) -> None:
    missing = [p for p in sent if p not in judge.payloads()]
    assert not missing, (
        f"{what}: {len(missing)} of the {len(sent)} payloads (the first: {shown(missing[0])}) never reached the "
        "workers of the judge's that had joined the broker's backend (with workers=0 every request waits there "
        "for a worker from outside): is there a broker, with a ROUTER bound on a loopback TCP port for the workers?")


def from_the_clients(captured, judge: JudgeWorkers, sent: list[bytes], replies: list[bytes], clients: int,
                     what: str):
    """The REQ connections to the frontend that the judge saw on the loopback; the test fails unless every payload
    was asked on one and its reply came back there, `clients` of them asking at least."""
    seen, besides = askings(connections(captured.segments), judge.backends)
    problems = client_problems(seen, sent, replies, clients)
    if problems and not captured.complete:
        pytest.skip(f"the judge's capture of loopback missed packets ({'; '.join(captured.missed)}): the machine "
                    "was too busy to watch; grade again")
    assert not problems, f"{what}: " + "; ".join(problems) + f" ({besides})"
    return seen


def through_the_judge(captured, sent: list[bytes], replies, judge: JudgeWorkers, clients: int, what: str):
    """Every payload went from a client's REQ socket through the frontend to a worker of the judge's, and its reply
    back, and process_all returned the judge's replies in payload order; the REQ connections seen."""
    reached_the_judge(sent, judge, what)
    expected = [answer(p, b"judge") for p in sent]
    assert replies == expected, (
        f"{what} returned {replies!r:.200}; the judge's workers answered each payload p with a reply only they "
        f"know, {expected[:2]!r:.100}..., and those replies, in payload order, are what process_all returns")
    return from_the_clients(captured, judge, sent, expected, clients, what)


@pytest.mark.points(3)
def test_process_all_returns_the_replies_in_payload_order(workqueue, handles, judge_workers, loopback_tap):
    """process_all shares the payloads among its clients, each request goes from a client's REQ socket through the
    broker to a worker, and every reply comes back, in payload order (workers=0: the judge's workers answer)."""
    sent, judge, what = payloads(30), judge_workers(count=2), "process_all(30 payloads, workers=0, clients=3)"
    replies, captured = watched(loopback_tap, lambda: outcome(
        background(workqueue.process_all, sent, handles().live, workers=0, clients=3), what))
    through_the_judge(captured, sent, replies, judge, 3, what)


@pytest.mark.points(4)
@pytest.mark.timeout(60)
def test_process_all_answers_every_request_when_a_worker_stops_mid_request(workqueue, handles, judge_workers,
                                                                          loopback_tap):
    """A worker stuck in the middle of a request: its client's retry, on a new socket, reaches another worker, and
    every request is answered, in order (the judge's two workers, one of which never answers its first request)."""
    sent, judge = payloads(12), judge_workers(count=2, hold="first")
    what = "process_all(12 payloads, workers=0, clients=2)"
    replies, captured = watched(loopback_tap, lambda: outcome(
        background(workqueue.process_all, sent, handles().live, workers=0, clients=2), what))
    stuck = next((t for t in judge.taken if t.worker.endswith(b"-1")), None)
    assert stuck is not None, "none of the 12 payloads reached the first of the judge's workers"
    answered = stuck.replied or float("inf")  # the held request's late answer, if process_all waited that long
    retries = [t for t in judge.taken if t.payload == stuck.payload and t is not stuck]
    assert retries and all(t.worker != stuck.worker and t.arrived < answered for t in retries), (
        f"a worker of the judge's took {shown(stuck.payload)} and answered only {judge.held_for:g} s later; that "
        "payload did not reach the other worker meanwhile: its client should give up on the first after its "
        "2 s timeout and send it again")
    seen = through_the_judge(captured, sent, replies, judge, 2, what)
    assert retried(seen, stuck.payload), (
        f"{shown(stuck.payload)} was asked at the frontend on one connection only: a client that gets no reply "
        "within its timeout closes its REQ socket and sends the payload again on a new one")


@pytest.mark.points(4)
@pytest.mark.timeout(60)
def test_process_all_keeps_several_workers_busy_at_once(workqueue, handles, judge_workers, loopback_tap):
    """With clients=4, the queue keeps its workers busy together: of four workers of the judge's, at some moment
    at least three hold a request each, different ones (the judge's workers answer nothing until then, for up to
    5 s; then 20 ms a request)."""
    sent, judge = payloads(40), judge_workers(count=4, work=WORK, together=TOGETHER)
    what = "process_all(40 payloads, workers=0, clients=4)"
    replies, captured = watched(loopback_tap, lambda: outcome(
        background(workqueue.process_all, sent, handles().live, workers=0, clients=4), what))
    reached_the_judge(sent, judge, what)
    assert judge.most_at_once >= TOGETHER, (
        f"four workers of the judge's, which answered nothing for {judge.patience:g} s, never held more than "
        f"{judge.most_at_once} different request(s) at once ({TOGETHER} expected): with clients=4 the payloads are "
        "shared among four clients, each with a request waiting while the workers work, and the broker hands each "
        "to an idle worker")
    through_the_judge(captured, sent, replies, judge, 4, what)


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_process_all_leaves_no_thread_behind(process, workqueue, handles, judge_workers, loopback_tap):
    """When process_all returns, every thread it started (its nodes', ZeroMQ's own) has ended (its own slow worker
    and a worker of the judge's shared the requests)."""
    sent, what = payloads(6), "process_all(6 payloads, workers=1, clients=2)"
    for attempt in range(ATTEMPTS):  # the judge's worker joins while the student's is busy: a stalled judge misses it
        before = process.threads()
        judge = judge_workers(beside=1)
        handle = handles(f"handle-{attempt}", sleep=0.1)
        replies, captured = watched(loopback_tap, lambda live=handle.live: outcome(
            background(workqueue.process_all, sent, live, workers=1, clients=2), what))
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
    from_the_clients(captured, judge, sent, expected, 2, what)
    deadline = time.monotonic() + 2.0
    while (after := process.threads()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after <= before, (
        f"the student process had {before} threads before process_all and {after} after it returned: "
        "terminate the context and join every thread you started")


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_process_all_uses_free_ports(workqueue, handles, judge_workers, loopback_tap):
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
        judge, sent = judge_workers(queues=2), {tag: payloads(10, tag) for tag in (b"a", b"b")}

        def both() -> dict:
            runs = {tag: background(workqueue.process_all, sent[tag], handles().live, 0, 2) for tag in sent}
            return {tag: outcome(run, "with ports 5555-5560 and 6700-6702 taken and another process_all running, "
                                      "process_all") for tag, run in runs.items()}

        replies, captured = watched(loopback_tap, both)
        for tag in sent:
            reached_the_judge(sent[tag], judge, f"of two process_all at once, the {tag.decode()!r} one")
            expected = [answer(p, b"judge") for p in sent[tag]]
            assert replies[tag] == expected, (
                f"of two process_all at once, the {tag.decode()!r} one returned {replies[tag]!r:.200}, not the "
                f"judge's replies in payload order, {expected[:2]!r:.100}...")
        everything = sent[b"a"] + sent[b"b"]
        from_the_clients(captured, judge, everything, [answer(p, b"judge") for p in everything], 4,
                         "two process_all(10 payloads, clients=2) at once")
        assert len(judge.backends) == 2, f"two process_all at once shared one backend port: {judge.backends}"
    finally:
        for listener in taken:
            listener.close()


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_process_all_raises_the_timeout_error_of_a_client(workqueue, handles, judge_workers, loopback_tap):
    """When a client gives up (its only worker stuck: the judge's, which never answers, while the client asks again
    on new sockets), process_all stops every node and raises its TimeoutError."""
    judge, what = judge_workers(hold="all"), "process_all([b'stuck'], workers=0, clients=1)"
    loopback_tap.start()
    try:
        run = background(workqueue.process_all, [b"stuck"], handles().live, workers=0, clients=1)
        replies = run.result(timeout=GIVE_UP + LIMIT)
    except StudentCodeRaised as exc:
        assert exc.type_name == "TimeoutError", f"process_all should raise the client's TimeoutError, not: {exc}"
    except TimeoutError:
        pytest.fail(f"process_all was still running {GIVE_UP + LIMIT:g} s later", pytrace=False)
    except STUDENT_ERRORS as exc:
        pytest.fail(str(exc), pytrace=False)
    else:
        pytest.fail(f"the only worker was stuck on b'stuck' for longer than the client's four tries of 2 s, yet "
                    f"process_all returned {replies!r:.200} instead of raising TimeoutError", pytrace=False)
    finally:
        captured = loopback_tap.stop()
    reached_the_judge([b"stuck"], judge, what)
    seen, besides = askings(connections(captured.segments), judge.backends)
    if not retried(seen, b"stuck"):
        if not captured.complete:
            pytest.skip(f"the judge's capture of loopback missed packets ({'; '.join(captured.missed)}): the "
                        "machine was too busy to watch; grade again")
        pytest.fail(f"b'stuck' was asked at the frontend on {sum(b'stuck' in a.asked for a in seen)} REQ "
                    "connection(s): the client tries again on a new socket after each timeout, before it gives up "
                    f"({besides})", pytrace=False)
