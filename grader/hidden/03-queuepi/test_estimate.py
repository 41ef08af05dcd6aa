"""03-queuepi: estimate_pi, the whole pipeline, each run in a fresh interpreter.

A fresh interpreter starts with no thread, socket or port of its own, so what is
left when estimate_pi returns is exactly what it left; and a run that hangs is
killed with its interpreter, costing only its test.
"""
from __future__ import annotations

import math

import pytest
from queuepi_peers import inside

# estimate = 4 * yes / N with yes ~ Binomial(N, pi / 4): its standard deviation is
# 4 * sqrt(p (1 - p) / N) = 1.642 / sqrt(N) (0.0164 for N = 10,000). A correct,
# unbiased estimate_pi is more than five of them from pi with probability
# 2 * (1 - Phi(5)) = 5.7e-7, below one in a million; the book's program run flat out
# loses most of judge's points and lands near 3.6 or above, dozens of them away.
SIGMA_AT_ONE_POINT = 4 * math.sqrt(math.pi / 4 * (1 - math.pi / 4))
BACKSTOP = 20  # seconds beyond a run's own limit for the fresh interpreter to start and report


def sigma(points: int) -> float:
    return SIGMA_AT_ONE_POINT / math.sqrt(points)


# -- run in the fresh interpreter --------------------------------------------------------------


def _leftovers(baseline: dict, grace: float = 1.0) -> list[str]:
    """What is running now that was not at `baseline`, after waiting up to `grace` seconds for it to end."""
    import time

    deadline = time.monotonic() + grace
    while True:
        now = _snapshot()
        left = []
        threads = sorted(set(now["python_threads"]) - set(baseline["python_threads"]))
        if threads:
            left.append(f"Python threads still running: {threads}")
        extra = now["os_threads"] - baseline["os_threads"] - len(threads)
        if extra > 0:
            left.append(f"{extra} more OS thread(s) than before (the I/O threads of a zmq.Context never terminated?)")
        if now["tcp"]:
            left.append(f"TCP sockets still open: {now['tcp'][:6]}")
        if now["children"]:
            left.append(f"child processes still running: {now['children']}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _snapshot() -> dict:
    import threading

    import psutil

    me = psutil.Process()
    connections = getattr(me, "net_connections", None) or me.connections
    return {"python_threads": [f"{t.name} ({t.ident})" for t in threading.enumerate()],
            "os_threads": me.num_threads(),
            "tcp": sorted(f"{c.laddr.ip}:{c.laddr.port} {c.status}" for c in connections("tcp")),
            "children": [p.pid for p in me.children(recursive=True)]}


def _run_all(calls: list, limit: float) -> list[tuple[str, object]]:
    """Run each (function, args) in a thread of its own, all at once; give each up to `limit` seconds.

    Each outcome is ("returned", value), ("raised", description) or ("hung", description).
    """
    import threading
    import time

    from queuepi_peers import describe_exception

    outcomes: list = [None] * len(calls)

    def run(i: int, function, args) -> None:
        try:
            outcomes[i] = ("returned", function(*args))
        except Exception as exc:  # noqa: BLE001 - reported to the student
            outcomes[i] = ("raised", describe_exception(exc))

    threads = [threading.Thread(target=run, args=(i, f, a), name="test-call", daemon=True)
               for i, (f, a) in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + limit
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [o or ("hung", f"did not return within {limit:.0f} s") for o in outcomes]


def estimate_in_a_fresh_interpreter(points: int, seed: int, limit: float) -> dict:
    """estimate_pi(points) with the global random seeded: its outcome, its time, and what it left."""
    import random
    import time

    import queuepi

    random.seed(seed)
    baseline = _snapshot()
    started = time.perf_counter()
    [outcome] = _run_all([(queuepi.estimate_pi, (points,))], limit)
    seconds = time.perf_counter() - started
    return {"outcome": outcome, "seconds": seconds, "left": _leftovers(baseline)}


def _recording_context_class():
    """A zmq.Context whose sockets keep a copy of every message they send and receive."""
    import zmq

    def plain(message) -> bytes:
        return message.bytes if isinstance(message, zmq.Frame) else bytes(message)

    class RecordingSocket(zmq.Socket):
        sent = received = None  # declared here, so that pyzmq does not take them for socket options

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.sent, self.received = [], []

        def send(self, data, *args, **kwargs):
            result = super().send(data, *args, **kwargs)
            self.sent.append(plain(data))
            return result

        def recv(self, *args, **kwargs):
            message = super().recv(*args, **kwargs)
            self.received.append(plain(message))
            return message

    class RecordingContext(zmq.Context):
        _socket_class = RecordingSocket
        made = None
        every: list = []

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.made = []
            RecordingContext.every.append(self)

        def socket(self, *args, **kwargs):
            zsock = super().socket(*args, **kwargs)
            self.made.append(zsock)
            return zsock

        def __class_getitem__(cls, item):  # pyzmq's own modules write zmq.Context[Socket]
            return real[item]

    real = zmq.Context
    return RecordingContext


def recorded_estimate_in_a_fresh_interpreter(points: int, seed: int, limit: float) -> dict:
    """estimate_pi(points, zcontext) on a recording context; every context the module makes records too."""
    import random

    import zmq

    recording = _recording_context_class()
    zmq.Context = recording  # before the student's module is imported: `from zmq import Context` records too
    import queuepi

    random.seed(seed)
    [outcome] = _run_all([(queuepi.estimate_pi, (points, recording()))], limit)
    contexts = [[(zmq.SocketType(s.socket_type).name, s.sent, s.received) for s in context.made]
                for context in recording.every]
    return {"outcome": outcome, "contexts": contexts}


def two_estimates_at_once(points: int, limit: float) -> dict:
    """Two estimate_pi(points) in two threads at once, with the book's ports 6700-6702 taken."""
    import socket

    import queuepi

    blockers = []
    for port in (6700, 6701, 6702):
        blocker = socket.socket()
        try:
            blocker.bind(("127.0.0.1", port))
            blocker.listen()
            blockers.append(blocker)
        except OSError:  # taken already: all the better
            blocker.close()
    return {"outcomes": _run_all([(queuepi.estimate_pi, (points,))] * 2, limit)}


# -- the tests ---------------------------------------------------------------------------------


def fresh(run_python, function, *args, limit: float) -> dict:
    """function(*args, limit) in a fresh interpreter, which has BACKSTOP seconds more to start and report."""
    return run_python(function, *args, limit, timeout=limit + BACKSTOP)


def returned(outcome: tuple[str, object], call: str) -> float:
    """The number `call` returned, or the test fails saying what happened instead."""
    how, value = outcome
    if how == "raised":
        pytest.fail(f"{call} raised {value}", pytrace=False)
    if how == "hung":
        pytest.fail(f"{call} {value}", pytrace=False)
    assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{call} returned {value!r}, not a number"
    return value


@pytest.mark.points(6)
@pytest.mark.timeout(60)
def test_estimate_pi_is_within_five_standard_deviations(run_python):
    """estimate_pi(10_000) is within five standard deviations of pi (sigma = 1.642 / sqrt(10,000) = 0.0164): no point lost, duplicated or over-represented; and it returns within 25 s."""
    points = 10_000
    result = fresh(run_python, estimate_in_a_fresh_interpreter, points, 2024, limit=25)
    estimate = returned(result["outcome"], f"estimate_pi({points})")
    off = abs(estimate - math.pi) / sigma(points)
    assert off <= 5, (
        f"estimate_pi({points}) returned {estimate} (in {result['seconds']:.1f} s), {off:.1f} standard deviations "
        f"from pi (one is {sigma(points):.4f}): biased. Toward 4, the judge branch lost points: a slow joiner, "
        "its high-water mark, or a count stopped while always_yes was ahead")


def counting_context(contexts: list, points: int):
    """The sockets of the run whose PULL sockets received exactly `points` decisions."""
    for sockets in reversed(contexts):
        decisions = [m for kind, _, received in sockets if kind == "PULL" for m in received]
        if len(decisions) == points:
            return sockets, decisions
    counts = [sum(len(received) for kind, _, received in sockets if kind == "PULL") for sockets in contexts]
    pytest.fail(f"estimate_pi({points}) never had tally count exactly {points} decisions: its PULL sockets "
                f"received {counts} (one entry per zmq.Context it used)", pytrace=False)


def fairness_problems(sockets: list, decisions: list[bytes], points: int, estimate: float) -> list[str]:
    """Are the counted decisions exactly those on `points` consecutive published points?"""
    published = [m.decode("ascii", "replace") for kind, sent, _ in sockets if kind in ("PUB", "XPUB") for m in sent]
    received = {m.decode("ascii", "replace") for kind, _, got in sockets if kind in ("SUB", "XSUB") for m in got}
    index = {bits: i for i, bits in enumerate(published)}
    starts = [index[bits] for bits in received if bits in index]
    if not starts:
        return ["no point published by a PUB socket reached a SUB socket"]
    first = min(starts)
    window = published[first:first + points]
    problems = []
    if len(window) < points:
        problems.append(f"only {len(window)} points were published from the first one a subscriber received")
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
    if abs(estimate - 4 * yes / points) > 1e-9:
        problems.append(f"estimate_pi returned {estimate}, but its tally counted {yes} 'Y' of {points}: "
                        f"4 * yes / total is {4 * yes / points}")
    return problems


@pytest.mark.points(5)
@pytest.mark.timeout(60)
def test_estimate_pi_counts_consecutive_points_exactly_once(run_python):
    """Watching every socket: tally counts exactly `points` decisions, and they are the decisions on `points` consecutive published points, each of which reached its subscriber (none lost, none counted twice, none over-represented)."""
    points = 3000
    result = fresh(run_python, recorded_estimate_in_a_fresh_interpreter, points, 7, limit=15)
    estimate = returned(result["outcome"], f"estimate_pi({points}, zcontext)")
    sockets, decisions = counting_context(result["contexts"], points)
    problems = fairness_problems(sockets, decisions, points, estimate)
    assert not problems, f"estimate_pi({points}, zcontext): " + "; ".join(problems)


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_estimate_pi_leaves_no_thread_socket_or_process_behind(run_python):
    """When estimate_pi returns, every node has stopped: no thread, zmq context, open TCP socket or child process of its making is left (a second's grace)."""
    result = fresh(run_python, estimate_in_a_fresh_interpreter, 2000, 1, limit=15)
    returned(result["outcome"], "estimate_pi(2000)")
    assert not result["left"], "when estimate_pi(2000) had returned: " + "; ".join(result["left"])


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_estimate_pi_uses_free_ports(run_python):
    """estimate_pi never uses fixed ports: two runs at once both return good estimates, even with the book's ports 6700-6702 taken."""
    points = 2000
    result = fresh(run_python, two_estimates_at_once, points, limit=20)
    for i, outcome in enumerate(result["outcomes"], start=1):
        if outcome[0] == "hung":
            pytest.fail(f"of two estimate_pi({points}) run at once, run {i} {outcome[1]} (do the runs share fixed "
                        "ports? The book's 6700-6702 were taken: let the kernel choose free ones)", pytrace=False)
        value = returned(outcome, f"of two estimate_pi({points}) run at once, run {i}")
        # six standard deviations: each run fails by chance with probability 2e-9
        assert abs(value - math.pi) <= 6 * sigma(points), (
            f"of two estimate_pi({points}) run at once, run {i} returned {value!r}, more than six standard "
            "deviations from pi")
