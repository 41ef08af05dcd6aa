"""03-queuepi: estimate_pi, the whole pipeline, in a fresh student process per test.

A fresh student process has no socket, port or child of its own, and the judge
counts its threads before the call: what is left when estimate_pi returns is what
it left, as the judge sees it in /proc. A run that hangs costs only its test: the
process ends with it. Times are the judge's own.
"""
from __future__ import annotations

import math
import socket
import time

import psutil
import pytest
from queuepi_peers import TICK, inside, returned_within, student_error, threads_left

from grader.student_process import StudentCodeRaised, background, library, recording_zmq_context

# estimate = 4 * yes / N with yes ~ Binomial(N, pi / 4): its standard deviation is
# 4 * sqrt(p (1 - p) / N) = 1.642 / sqrt(N) (0.0164 for N = 10,000). A correct,
# unbiased estimate_pi is more than five of them from pi with probability
# 2 * (1 - Phi(5)) = 5.7e-7, below one in a million; the book's program run flat out
# loses most of judge's points and lands near 3.6 or above, dozens of them away.
SIGMA_AT_ONE_POINT = 4 * math.sqrt(math.pi / 4 * (1 - math.pi / 4))
NODES = ("bitsource", "always_yes", "judge", "pythagoras", "tally")  # the contract's names


def sigma(points: int) -> float:
    return SIGMA_AT_ONE_POINT / math.sqrt(points)


def number(value, call: str) -> float:
    assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{call} returned {value!r}, not a number"
    return value


def estimate(queuepi, process, points: int, limit: float, *args, seed: int = 0) -> tuple[float, float]:
    """estimate_pi(points, *args) with the global random seeded: what it returned, and in how many seconds."""
    process.handle(library("random")).seed(seed)
    started = time.monotonic()
    pending = background(queuepi.estimate_pi, points, *args)
    value = returned_within(pending, limit)
    return number(value, pending.text), time.monotonic() - started


@pytest.mark.points(6)
@pytest.mark.timeout(60)
def test_estimate_pi_is_within_five_standard_deviations(queuepi, process):
    """estimate_pi(10_000) is within five standard deviations of pi (sigma = 1.642 / sqrt(10,000) = 0.0164): no point lost, duplicated or over-represented; and it returns within 25 s."""
    points = 10_000
    value, seconds = estimate(queuepi, process, points, 25, seed=2024)
    off = abs(value - math.pi) / sigma(points)
    assert off <= 5, (
        f"estimate_pi({points}) returned {value} (in {seconds:.1f} s), {off:.1f} standard deviations "
        f"from pi (one is {sigma(points):.4f}): biased. Toward 4, the judge branch lost points: a slow joiner, "
        "its high-water mark, or a count stopped while always_yes was ahead")


# -- which point reached which node --------------------------------------------------------
#
# No socket of the judge's is in this pipeline, so what each node's sockets sent and
# received is recorded on the student's side (recording_zmq_context). Only the sockets
# the contract names count: bitsource's PUB, the SUBs of always_yes and judge, tally's
# PULL; a socket of the student's own (credits sent back to bitsource, say) is not one.


def node_of(record: dict) -> str | None:
    """The contract's node a socket was made in: the innermost of the student's functions named so."""
    return next((name for name in record["made_in"] if name in NODES), None)


def sockets_of(records: list[dict], nodes: tuple[str, ...], kinds: tuple[str, ...]) -> list[dict]:
    return [r for r in records if r["kind"] in kinds and node_of(r) in nodes]


def counting_run(records: list[dict], points: int) -> tuple[list[dict], list[bytes]]:
    """The sockets of the run (one zmq.Context) whose tally received exactly `points` decisions, and those."""
    runs: dict[int, list[dict]] = {}
    for record in records:
        runs.setdefault(record["context"], []).append(record)
    for sockets in reversed(list(runs.values())):
        decisions = [m for r in sockets_of(sockets, ("tally",), ("PULL",)) for m in r["received"]]
        if len(decisions) == points:
            return sockets, decisions
    counts = [sum(r["received_count"] for r in sockets_of(sockets, ("tally",), ("PULL",))) for sockets in runs.values()]
    if not any(sockets_of(records, ("tally",), ("PULL",))):
        pytest.fail(f"estimate_pi({points}, zcontext) never ran tally: no PULL socket was made in queuepi.tally "
                    "(estimate_pi wires the contract's five nodes)", pytrace=False)
    pytest.fail(f"estimate_pi({points}, zcontext) never had tally count exactly {points} decisions: tally's PULL "
                f"socket received {counts} (one entry per zmq.Context it used)", pytrace=False)


def fairness_problems(sockets: list[dict], decisions: list[bytes], points: int, value: float) -> list[str]:
    """Are the counted decisions exactly those on `points` consecutive points bitsource published?"""
    publishers = sockets_of(sockets, ("bitsource",), ("PUB", "XPUB"))
    published = [m.decode("ascii", "replace") for r in publishers for m in r["sent"]]
    received = {m.decode("ascii", "replace") for r in sockets_of(sockets, ("always_yes", "judge"), ("SUB", "XSUB"))
                for m in r["received"]}
    index = {bits: i for i, bits in enumerate(published)}
    starts = [index[bits] for bits in received if bits in index]
    if not starts:
        return [f"no point bitsource published (of the first {len(published):,} recorded) reached the SUB socket "
                "of always_yes or judge"]
    first = min(starts)
    window = published[first:first + points]
    problems = []
    if len(window) < points:
        more = " (or more than were recorded)" if any(r["sent_count"] > len(r["sent"]) for r in publishers) else ""
        problems.append(f"only {len(window)} points were published{more} from the first one a subscriber received")
    missing = [i - first for i in range(first, first + len(window)) if published[i] not in received]
    if missing:
        problems.append(f"{len(missing)} of the {points} points published from the first one a subscriber received "
                        f"never reached a subscriber (the first: #{missing[0] + 1}): lost to a slow joiner or to "
                        "a high-water mark")
    yes = decisions.count(b"Y")
    should = sum(inside(bits) for bits in window)
    if yes != should:
        problems.append(f"tally counted {yes} 'Y' among its {points} decisions, but those {points} consecutive "
                        f"points hold {should} inside the circle by the contract's rule: either judge decides "
                        "differently, or some points were counted and others not (the count stopped with "
                        "always_yes ahead of judge?)")
    if abs(value - 4 * yes / points) > 1e-9:
        problems.append(f"estimate_pi returned {value}, but its tally counted {yes} 'Y' of {points}: "
                        f"4 * yes / total is {4 * yes / points}")
    return problems


@pytest.mark.points(5)
@pytest.mark.timeout(60)
def test_estimate_pi_counts_consecutive_points_exactly_once(queuepi, process):
    """Watching the sockets the contract names: tally counts exactly `points` decisions, and they are the decisions on `points` consecutive points bitsource published, each of which reached its subscriber (none lost, none counted twice, none over-represented)."""
    points = 3000
    zcontext = recording_zmq_context("zcontext")
    value, _ = estimate(queuepi, process, points, 15, zcontext, seed=7)
    sockets, decisions = counting_run(process.handle(zcontext).recording(), points)
    problems = fairness_problems(sockets, decisions, points, value)
    assert not problems, f"estimate_pi({points}, zcontext): " + "; ".join(problems)


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
def test_estimate_pi_leaves_no_thread_socket_or_process_behind(queuepi, process):
    """When estimate_pi returns, every node has stopped: no thread, zmq context, open TCP socket or child process of its making is left (a second's grace)."""
    before = process.threads()
    estimate(queuepi, process, 2000, 15, seed=1)
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


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_estimate_pi_uses_free_ports(queuepi, process, book_ports_taken):
    """estimate_pi never uses fixed ports: two runs at once both return good estimates, even with the book's ports 6700-6702 taken."""
    points, limit = 2000, 20
    runs = [background(queuepi.estimate_pi, points) for _ in range(2)]
    deadline = time.monotonic() + limit
    for i, run in enumerate(runs, start=1):
        if not run.done(max(0.0, deadline - time.monotonic())):
            pytest.fail(f"of two estimate_pi({points}) run at once, run {i} did not return within {limit} s (do the "
                        "runs share fixed ports? The book's 6700-6702 were taken: let the kernel choose free ones)",
                        pytrace=False)
        try:
            value = run.result(0)
        except StudentCodeRaised as exc:
            pytest.fail(f"of two estimate_pi({points}) run at once, run {i}: {student_error(exc)}", pytrace=False)
        number(value, f"of two estimate_pi({points}) run at once, run {i}")
        # six standard deviations: each run fails by chance with probability 2e-9
        assert abs(value - math.pi) <= 6 * sigma(points), (
            f"of two estimate_pi({points}) run at once, run {i} returned {value!r}, more than six standard "
            "deviations from pi")
