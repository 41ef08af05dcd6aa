"""03-queuepi: estimate_pi, the whole pipeline, in a fresh student process per test.

A fresh student process has no socket, port or child of its own, and the judge
counts its threads before the call: what is left when estimate_pi returns is what
it left, as the judge sees it in /proc. While estimate_pi runs, the judge captures
the grading's loopback (`loopback_tap`: the kernel's copy of every packet) and reads
ZeroMQ's wire protocol on each connection: a returned estimate counts only if a
pipeline the judge saw there gives it (queuepi_wire.py), from the points a PUB
published, the questions a REP answered and the decisions that reached a PULL. A run
that hangs costs only its test: the process ends with it. Times are the judge's own.
"""
from __future__ import annotations

import math
import socket
import time

import psutil
import pytest
from loopback import connections
from queuepi_peers import (
    TICK,
    forwarded_pipeline,
    forwarding_problems,
    returned_within,
    student_error,
    threads_left,
)
from queuepi_wire import unexplained, wire

from grader.student_process import StudentCodeRaised, background, library

# estimate = 4 * yes / N with yes ~ Binomial(N, pi / 4): its standard deviation is
# 4 * sqrt(p (1 - p) / N) = 1.642 / sqrt(N) (0.0164 for N = 10,000). A correct,
# unbiased estimate_pi is more than five of them from pi with probability
# 2 * (1 - Phi(5)) = 5.7e-7, below one in a million; the book's program run flat out
# loses most of judge's points and lands near 3.6 or above, dozens of them away.
SIGMA_AT_ONE_POINT = 4 * math.sqrt(math.pi / 4 * (1 - math.pi / 4))
LOOKS = 3  # calls at the most, when a capture that missed packets did not show the pipeline


def sigma(points: int) -> float:
    return SIGMA_AT_ONE_POINT / math.sqrt(points)


def number(value, call: str) -> float:
    assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{call} returned {value!r}, not a number"
    return value


def watched(tap, call, points: int) -> tuple[list[float], float, list[str]]:
    """call() (which returns estimates), the grading's loopback captured meanwhile; what it returned, how long it
    took, and why no pipeline the judge saw gives those estimates ([]: each has one of its own). A call whose
    capture missed packets and did not show the pipelines is made again, LOOKS times in all: what the judge
    did not see cannot fail a correct run."""
    for _ in range(LOOKS):
        tap.start()
        try:
            started = time.monotonic()
            values = call()
            ended = time.monotonic()
        finally:
            captured = tap.stop()
        problems = unexplained(values, wire(connections(captured.segments)), points)
        if not problems or captured.complete:
            return values, ended - started, problems
    pytest.skip(f"the judge's capture of loopback missed packets in {LOOKS} runs ({'; '.join(captured.missed)}): "
                "the machine was too busy to watch; grade again")


def estimate(queuepi, process, tap, points: int, limit: float, seed: int = 0) -> tuple[float, float]:
    """estimate_pi(points) with the global random seeded, loopback captured meanwhile: what it returned, in how
    many seconds; the test fails unless a pipeline the judge saw cross loopback TCP gives that estimate."""
    text = f"estimate_pi({points})"

    def call() -> list[float]:
        process.handle(library("random")).seed(seed)
        return [number(returned_within(background(queuepi.estimate_pi, points), limit), text)]

    values, seconds, problems = watched(tap, call, points)
    assert not problems, (f"{text} returned {values[0]!r}, but no pipeline of the five nodes that the judge saw "
                          "cross loopback TCP gives it: " + "; ".join(problems))
    return values[0], seconds


@pytest.mark.points(6)
@pytest.mark.timeout(60)
def test_estimate_pi_is_within_five_standard_deviations(queuepi, process, loopback_tap):
    """estimate_pi(10_000) is within five standard deviations of pi (sigma = 1.642 / sqrt(10,000) = 0.0164): no point
    lost, duplicated or over-represented; and it returns within 25 s."""
    points = 10_000
    value, seconds = estimate(queuepi, process, loopback_tap, points, 25, seed=2024)
    off = abs(value - math.pi) / sigma(points)
    assert off <= 5, (
        f"estimate_pi({points}) returned {value} (in {seconds:.1f} s), {off:.1f} standard deviations "
        f"from pi (one is {sigma(points):.4f}): biased. Toward 4, the judge branch lost points: a slow joiner, "
        "its high-water mark, or a count stopped while always_yes was ahead")


# -- the nodes at volume, joined through the judge's forwarders --------------------------------------------------
#
# Which of estimate_pi's points reached which node happens inside the student process, where the judge has no
# socket: only the student side could tell, and it is never taken on trust. What the judge can see is the
# same counting done by the student's own nodes when each is joined to the next through a forwarder of the
# judge's that counts every message: no point lost, none counted twice, every decision right.


@pytest.mark.points(5)
@pytest.mark.timeout(60)
def test_nodes_joined_through_the_judges_forwarders_count_every_point_once(queuepi, nodes, peers):
    """The five nodes, each joined to the next by a forwarder of the judge's that counts every message: of 2,000 points
    bitsource published, always_yes answers exactly those starting '00' with 'Y', judge asks pythagoras about each
    of the others and decides it by the contract's rule, pythagoras answers each question right, and
    tally(points=2000) returns 4 * yes / 2000 for exactly those decisions."""
    points = 2000
    seen = forwarded_pipeline(nodes, peers, points, seed=7)
    problems = forwarding_problems(seen, points)
    assert not problems, f"the nodes joined through the judge's forwarders, {points} points: " + "; ".join(problems)


# -- what is left --------------------------------------------------------------------------


def zmq_threads(pid: int) -> int:
    """How many of the process's threads are libzmq's own (named ZMQbg/...), as the kernel names them."""
    names = []
    for task in psutil.Process(pid).threads():
        try:
            with open(f"/proc/{pid}/task/{task.id}/comm") as comm:
                names.append(comm.read())
        except OSError:
            pass
    return sum(name.startswith("ZMQbg") for name in names)


def leftovers(process, threads_before: int, grace: float = 1.0) -> list[str]:
    """What the student process runs or holds now that it did not before, after `grace` seconds for it to end."""
    deadline = time.monotonic() + grace
    while True:
        me, left = psutil.Process(process.pid), []
        extra = threads_left(process, threads_before, grace=0)
        if extra > 0:
            zmq = zmq_threads(process.pid)
            left.append(f"{extra} more thread(s) than before it was called ({zmq} of them libzmq's own: a "
                        "zmq.Context never terminated)" if zmq else
                        f"{extra} more thread(s) than before it was called (a node still running?)")
        tcp = sorted(f"{c.laddr.ip}:{c.laddr.port} {c.status}" for c in me.net_connections("tcp"))
        if tcp:
            left.append(f"TCP sockets still open: {tcp[:6]}")
        children = [p.pid for p in me.children(recursive=True)]
        if children:
            left.append(f"child processes still running: {children}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(TICK)


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_estimate_pi_leaves_no_thread_socket_or_process_behind(queuepi, process, loopback_tap):
    """When estimate_pi returns, every node has stopped: no thread, zmq context, open TCP socket or child process of
    its making is left (a second's grace)."""
    before = process.threads()
    estimate(queuepi, process, loopback_tap, 2000, 15, seed=1)
    left = leftovers(process, before)
    assert not left, "when estimate_pi(2000) had returned: " + "; ".join(left)


@pytest.fixture
def book_ports_taken():
    """The book's ports 6700-6702, bound and listening in the judge (any already taken: all the better)."""
    blockers = []
    for port in (6700, 6701, 6702):
        blocker = socket.socket()
        try:
            blocker.bind(("127.0.0.1", port))
            blocker.listen()
            blockers.append(blocker)
        except OSError:
            blocker.close()
    yield
    for blocker in blockers:
        blocker.close()


def run_at_once(run, i: int, points: int, deadline: float) -> float:
    """What run `i` of two estimate_pi(points) at once returned by `deadline` (the judge's clock): a good estimate."""
    if not run.done(max(0.0, deadline - time.monotonic())):
        pytest.fail(f"of two estimate_pi({points}) run at once, run {i} did not return in time (do the runs share "
                    "fixed ports? The book's 6700-6702 were taken: let the kernel choose free ones)", pytrace=False)
    try:
        value = run.result(0)
    except StudentCodeRaised as exc:
        pytest.fail(f"of two estimate_pi({points}) run at once, run {i}: {student_error(exc)}", pytrace=False)
    number(value, f"of two estimate_pi({points}) run at once, run {i}")
    # six standard deviations: each run fails by chance with probability 2e-9
    assert abs(value - math.pi) <= 6 * sigma(points), (
        f"of two estimate_pi({points}) run at once, run {i} returned {value!r}, more than six standard "
        "deviations from pi")
    return value


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_estimate_pi_uses_free_ports(queuepi, process, book_ports_taken, loopback_tap):
    """estimate_pi never uses fixed ports: two runs at once both return good estimates, each from a pipeline of its own
    over loopback TCP, even with the book's ports 6700-6702 taken."""
    points, limit = 2000, 20

    def two_at_once() -> list[float]:
        runs = [background(queuepi.estimate_pi, points) for _ in range(2)]
        deadline = time.monotonic() + limit
        return [run_at_once(run, i, points, deadline) for i, run in enumerate(runs, start=1)]

    values, _, problems = watched(loopback_tap, two_at_once, points)
    assert not problems, (f"two estimate_pi({points}) run at once returned {values}, but the judge did not see "
                          "each come from a pipeline of its own over loopback TCP: " + "; ".join(problems))
