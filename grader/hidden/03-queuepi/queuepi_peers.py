"""The other end of every socket: the hidden tests play each node's peers over real TCP.

Each node under test runs in a thread of the student process (`Node`: a background
call), on a zmq.Context of its own built there, so that terminating that context
stops that node and nothing else. The judge's own sockets live on its own context
(`Peers`) and bind tcp://127.0.0.1:* wherever the node connects. Every verdict comes
from what arrives on those sockets, what the node returns, and how long it took, as
the judge measures it. Every wait is bounded, and a node that raised (one not written
yet, say) is reported, with its exception, at the next wait: at once.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
import zmq
from zmq_peers import QUIET, STOP_BOUND, WAIT, Peers, free_url

from grader.student_process import (
    Pending,
    StudentCodeRaised,
    StudentProcess,
    background,
    random_generator,
    zmq_context,
)

TICK = 0.05  # seconds between looks at a node while waiting for something else
TICK_MS = int(TICK * 1000)
_built = itertools.count(1)  # each description names a new object


def fresh_context():
    """A zmq.Context built in the student process, one per node (shown to the student as `zcontext`)."""
    return dataclasses.replace(zmq_context(f"zcontext-{next(_built)}"), label="zcontext")


def fresh_rng(seed: int):
    """A random.Random(seed) built afresh in the student process (shown to the student as `rng`)."""
    return dataclasses.replace(random_generator(seed, f"rng-{next(_built)}"), label="rng")


def student_error(exc: StudentCodeRaised) -> str:
    """What student code raised, in words for the student; a function still to write says so first."""
    return f"not written yet: {exc}" if exc.type_name == "NotImplementedError" else str(exc)


def outcome(pending: Pending):
    """The value a finished call returned; the test fails with what it raised instead."""
    try:
        return pending.result(0)
    except StudentCodeRaised as exc:
        pytest.fail(student_error(exc), pytrace=False)


def returned_within(pending: Pending, limit: float):
    """What the call returned, waiting at most `limit` seconds for it (the judge's own clock); one
    that raises (or is not written yet) ends the wait at once."""
    if not pending.done(limit):
        pytest.fail(f"{pending.text} did not return within {limit:.0f} s", pytrace=False)
    return outcome(pending)


def threads_left(process: StudentProcess, before: int, grace: float = 1.0) -> int:
    """How many threads the process has beyond `before` (the kernel's count, /proc), once `grace` seconds
    have let finishing ones end (the threads that ran calls for the judge end as soon as they have answered)."""
    deadline = time.monotonic() + grace
    while process.threads() > before and time.monotonic() < deadline:
        time.sleep(TICK)
    return process.threads() - before


@dataclass
class Stopped:
    """How a node took the termination of its context, as the judge timed it."""

    returned_after: float | None  # seconds from term() to the node's return; None: still running
    term_finished: bool  # term() itself returned: every socket was closed, nothing unsent held it
    error: StudentCodeRaised | None  # what the node raised instead of returning


class Node:
    """One node, queuepi.<name>(zcontext, *args, **kwargs), in a thread of the student process."""

    def __init__(self, process: StudentProcess, name: str, *args, **kwargs):
        self.process, self.name = process, name
        self.context = fresh_context()
        self.pending = background(getattr(process.module(), name), self.context, *args, **kwargs)
        self.stopped: Stopped | None = None
        self.silent = False  # a wait for it timed out

    @property
    def alive(self) -> bool:
        return not self.pending.done(0)

    @property
    def result(self):
        return outcome(self.pending)

    def describe_error(self) -> str:
        error = self.stopped.error if self.stopped else None
        return student_error(error) if error else ""

    def check(self) -> None:
        """Fail the test now if the node is no longer running (it should run until terminated)."""
        if not self.alive:
            outcome(self.pending)
            pytest.fail(f"{self.name} returned before its context was terminated", pytrace=False)

    def finish(self, within: float = WAIT) -> None:
        """Wait for a node that should return by itself (tally with points); fail if it raised."""
        if self.pending.done(within):
            outcome(self.pending)

    def stop(self, bound: float = STOP_BOUND) -> Stopped:
        """Terminate the node's context (in the background: term() may hang) and time how the node takes it."""
        if self.stopped is None:
            started = time.monotonic()
            terminator = background(self.process.handle(self.context).term)
            returned = self.pending.done(bound)
            returned_after = time.monotonic() - started if returned else None
            finished = terminator.done(max(0.0, bound - (time.monotonic() - started)))
            error = None
            if returned:
                try:
                    self.pending.result(0)
                except StudentCodeRaised as exc:
                    error = exc
            self.stopped = Stopped(returned_after, finished, error)
        return self.stopped


_FROZEN_SUBSCRIBER = """\
import sys, time, zmq
sub = zmq.Context().socket(zmq.SUB)
sub.rcvbuf = 4096
sub.connect(sys.argv[1])
sub.subscribe(b"")
sub.recv()
print("ready", flush=True)
time.sleep(3600)
"""


def frozen_subscriber(peers: Peers, url: str, node: Node) -> None:
    """A subscriber in a process of its own that receives one message and is then stopped (SIGSTOP):
    it reads nothing more, so the publisher's queue to it fills with messages it cannot deliver.
    (A zmq SUB socket cannot play this: when full it drops, and so keeps draining the connection.)"""
    process = subprocess.Popen([sys.executable, "-c", _FROZEN_SUBSCRIBER, url], stdout=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True)
    peers.processes.append(process)  # killed when the test ends
    ready = threading.Thread(target=process.stdout.readline, daemon=True)
    ready.start()
    deadline = time.monotonic() + WAIT + 5  # an interpreter to start, and one message from the node
    while ready.is_alive() and time.monotonic() < deadline:
        node.check()
        ready.join(TICK)
    if ready.is_alive():
        pytest.fail(f"a subscriber connected to {node.name}'s url {url} received nothing within {WAIT:.0f} s",
                    pytrace=False)
    os.kill(process.pid, signal.SIGSTOP)


def arrived(zsock: zmq.Socket, node: Node, wait: float = WAIT) -> bool:
    """Whether a message is waiting on zsock within `wait` seconds; looks at the node every TICK meanwhile."""
    deadline = time.monotonic() + wait
    while not zsock.poll(TICK_MS):
        node.check()
        if time.monotonic() > deadline:
            return False
    return True


def receive(zsock: zmq.Socket, node: Node, what: str, wait: float = WAIT) -> list[bytes]:
    """The next message on zsock, as its list of frames; fails the test after `wait` seconds.

    Once a wait has timed out, later waits on the same node fail at once (Hypothesis
    would otherwise spend `wait` on every example it shrinks through).
    """
    if node.silent:
        pytest.fail(f"{what}: {node.name} had already fallen silent earlier in this test", pytrace=False)
    if not arrived(zsock, node, wait):
        node.silent = True
        pytest.fail(f"{what}: nothing arrived within {wait:.0f} s", pytrace=False)
    return zsock.recv_multipart()


def drain(zsock: zmq.Socket, quiet: float = QUIET) -> list[list[bytes]]:
    """Every message that arrives until none has for `quiet` seconds."""
    found = []
    while zsock.poll(int(quiet * 1000)):
        found.append(zsock.recv_multipart())
    return found


def count_arrivals(zsock: zmq.Socket, node: Node, expected: int) -> int:
    """How many messages arrive: up to `expected` of them, each waited for as long as WAIT, then any
    more until none has come for QUIET seconds. A slow node is not miscounted; one too eager is."""
    count = 0
    while count < expected and arrived(zsock, node):
        zsock.recv_multipart()
        count += 1
    return count + len(drain(zsock))


def single_frame(frames: list[bytes], what: str) -> bytes:
    assert len(frames) == 1, f"{what} should be a single string, not a message of {len(frames)} frames: {frames!r}"
    return frames[0]


class Publisher:
    """The test's bitsource: an XPUB socket, so it sees exactly what each subscriber subscribes to."""

    def __init__(self, peers: Peers, **options):
        self.socket, self.url = peers.bind(zmq.XPUB, **options)
        self.topics: set[bytes] = set()

    def _read_subscriptions(self, wait_ms: int) -> bool:
        if not self.socket.poll(wait_ms):
            return False
        event = self.socket.recv()
        if event[:1] == b"\x01":
            self.topics.add(event[1:])
        elif event[:1] == b"\x00":
            self.topics.discard(event[1:])
        return True

    def covers(self, prefix: bytes) -> bool:
        """Would a message starting with `prefix` reach the subscriber now?"""
        return any(prefix.startswith(topic) for topic in self.topics)

    def wait_for(self, node: Node, prefixes, wait: float = WAIT) -> None:
        """Until messages with every one of `prefixes` would be delivered, then QUIET seconds more
        for any further subscriptions made in the same breath."""
        deadline = time.monotonic() + wait
        while not all(self.covers(p) for p in prefixes):
            self._read_subscriptions(TICK_MS)
            node.check()
            if time.monotonic() > deadline:
                missing = [p for p in prefixes if not self.covers(p)]
                pytest.fail(f"{node.name} never subscribed so as to receive points starting with "
                            f"{', '.join(map(repr, missing))} from {self.url} within {wait:.0f} s "
                            f"(its subscriptions: {sorted(self.topics)})", pytrace=False)
        while self._read_subscriptions(int(QUIET * 1000)):
            pass

    def publish(self, bits: str) -> None:
        self.socket.send_string(bits)


class Pythagoras:
    """The test's pythagoras: a REP socket that answers judge with sums the test chooses."""

    def __init__(self, peers: Peers):
        self.socket, self.url = peers.bind(zmq.REP)

    def answer(self, node: Node, reply=None, wait: float = WAIT) -> bytes:
        """Wait for one request and answer it with `reply` (by default the true sum of squares)."""
        request = single_frame(receive(self.socket, node, f"{node.name} sent pythagoras no request", wait),
                               "a request to pythagoras")
        if reply is None:
            try:
                reply = sum(n * n for n in json.loads(request))
            except (ValueError, TypeError):
                reply = 0
        self.socket.send_string(json.dumps(reply))
        return request

    def serve(self, node: Node, expected: int) -> list[bytes]:
        """Answer `expected` requests (each waited for as long as WAIT), then any more until none has
        come for QUIET seconds."""
        requests = []
        while len(requests) < expected and arrived(self.socket, node):
            requests.append(self.answer(node))
        while self.socket.poll(int(QUIET * 1000)):
            requests.append(self.answer(node))
        return requests


class Asker:
    """The test's judge: a REQ socket asking pythagoras, made afresh after a question left unanswered."""

    def __init__(self, peers: Peers, url: str, node: Node):
        self.peers, self.url, self.node = peers, url, node
        self.socket = peers.connect(zmq.REQ, url)

    def ask(self, payload: bytes) -> bytes:
        self.socket.send(payload)
        try:
            return single_frame(receive(self.socket, self.node, f"pythagoras did not answer {payload!r}"),
                                "pythagoras's answer")
        except BaseException:
            self.socket.close(linger=0)  # a REQ that got no answer cannot ask again
            self.socket = self.peers.connect(zmq.REQ, self.url)
            raise


# -- is it a fair coin? --------------------------------------------------------------

FALSE_ALARM = 1e-7  # the chance that a truly uniform source fails, all checks together


def allowed_deviation(n: int, checks: int) -> float:
    """Hoeffding: for n independent events, P(|count - n p| >= t) <= 2 exp(-2 t^2 / n); with
    t = sqrt(n ln(2 checks / FALSE_ALARM) / 2) each check fails a fair source with probability at
    most FALSE_ALARM / checks, so all of them together with at most FALSE_ALARM (1e-7 < 1e-6)."""
    return math.sqrt(n * math.log(2 * checks / FALSE_ALARM) / 2)


def uniformity_problems(samples: list[str]) -> list[str]:
    """What looks unlike fair coin flips in equal-length bit strings; [] when nothing does.

    - each position is '1' half the time (len(samples) events each);
    - neighbouring bits agree half the time (for independent fair bits the events
      b[i] == b[i+1] are independent and fair too: len(samples) * (length - 1) events);
    - the two-bit prefixes '00', '01', '10', '11' come a quarter of the time each.
    """
    n, length = len(samples), len(samples[0])
    checks = length + 1 + 4
    problems = []
    for position in range(length):
        ones = sum(s[position] == "1" for s in samples)
        if abs(ones - n / 2) > allowed_deviation(n, checks):
            problems.append(f"bit {position} was 1 in {ones} of {n} strings (a fair bit: about {n // 2})")
    pairs = n * (length - 1)
    agree = sum(s[i] == s[i + 1] for s in samples for i in range(length - 1))
    if abs(agree - pairs / 2) > allowed_deviation(pairs, checks):
        problems.append(f"neighbouring bits agreed {agree} times in {pairs} (independent bits: about {pairs // 2})")
    for prefix in ("00", "01", "10", "11"):
        count = sum(s.startswith(prefix) for s in samples)
        if abs(count - n / 4) > allowed_deviation(n, checks):
            problems.append(f"{count} of {n} strings started with {prefix!r} (about {n // 4} expected)")
    return problems


def inside(bits: str, b: int = 32) -> bool:
    """The book's decision for one point of 2 * b bits: always_yes's for '00', judge's for the rest."""
    if bits.startswith("00"):
        return True
    n, m = int(bits[::2], 2), int(bits[1::2], 2)
    return n * n + m * m < 2 ** (2 * b)


# -- the five nodes, joined through forwarders of the judge's --------------------------------------------------


@dataclass
class Forwarded:
    """What the judge's forwarders counted, message by message, between the student's five nodes."""

    points: list[str]  # the points passed on to always_yes and judge, in order
    yes_decisions: list[bytes]  # what always_yes pushed
    judge_decisions: list[bytes]  # what judge pushed
    questions: list[tuple[bytes, bytes]]  # judge's requests to pythagoras, and its answers
    estimate: object  # what tally returned


def forwarded_pipeline(nodes, peers: Peers, points: int, seed: int) -> Forwarded:
    """Run the student's bitsource, always_yes, judge, pythagoras and tally(points), each joined to the next by a
    forwarder of the judge's that counts every message: bitsource's points (the first `points` once both
    subscribers have subscribed, then bitsource is stopped), judge's questions and pythagoras's answers, and the
    decisions, each pusher on a socket of its own, passed on to tally. No forwarder drops a message."""
    source_url, pythagoras_url, tally_url = free_url(), free_url(), free_url()
    source = peers.connect(zmq.SUB, source_url)
    source.subscribe(b"")
    publisher = Publisher(peers, sndhwm=0)
    questions, questions_url = peers.bind(zmq.ROUTER)
    answers = peers.connect(zmq.DEALER, pythagoras_url)
    yes_sink, yes_url = peers.bind(zmq.PULL)
    judge_sink, judge_url = peers.bind(zmq.PULL)
    to_tally = peers.connect(zmq.PUSH, tally_url, sndhwm=0)
    tally = nodes("tally", tally_url, points)
    pythagoras = nodes("pythagoras", pythagoras_url)
    always_yes = nodes("always_yes", publisher.url, yes_url)
    judge = nodes("judge", publisher.url, questions_url, judge_url)
    publisher.wait_for(always_yes, [b"00"])
    publisher.wait_for(judge, [b"01", b"10", b"11"])
    bitsource = nodes("bitsource", source_url, fresh_rng(seed))
    seen = Forwarded([], [], [], [], None)
    asking, question = None, None
    poller = zmq.Poller()
    for zsock in source, questions, answers, yes_sink, judge_sink:
        poller.register(zsock, zmq.POLLIN)
    last = time.monotonic()
    while tally.alive and time.monotonic() - last < WAIT:
        for node in (bitsource, always_yes, judge, pythagoras) if len(seen.points) < points else ():
            node.check()
        for zsock, _ in poller.poll(TICK_MS):
            last = time.monotonic()
            if zsock is source:
                bits = zsock.recv()
                if len(seen.points) < points:
                    seen.points.append(bits.decode("ascii", "replace"))
                    publisher.socket.send(bits)
                    if len(seen.points) == points:
                        bitsource.stop()
            elif zsock is questions:
                frames = zsock.recv_multipart()
                asking, question = frames[0], frames[-1]
                answers.send_multipart([b"", question])
            elif zsock is answers:
                answer = zsock.recv_multipart()[-1]
                seen.questions.append((question, answer))
                questions.send_multipart([asking, b"", answer])
            else:
                decision = zsock.recv()
                (seen.yes_decisions if zsock is yes_sink else seen.judge_decisions).append(decision)
                to_tally.send(decision)
    tally.finish(0)
    for zsock, bucket in (yes_sink, seen.yes_decisions), (judge_sink, seen.judge_decisions):
        bucket += [frames[0] for frames in drain(zsock)]  # any decision more, for no point passed on
    seen.estimate = tally.result if not tally.alive else None
    return seen


def forwarding_problems(seen: Forwarded, points: int) -> list[str]:
    """What went wrong between the nodes, from what the judge's forwarders counted."""
    problems = []
    if len(seen.points) < points:
        return [f"bitsource's points stopped after {len(seen.points)} of {points} had been passed on"]
    bad = [p for p in seen.points if len(p) != 64 or set(p) - {"0", "1"}]
    if bad:
        return [f"bitsource published {bad[0][:80]!r}, not 64 characters of '0' and '1'"]
    ours = [p for p in seen.points if p.startswith("00")]
    theirs = [p for p in seen.points if not p.startswith("00")]
    if seen.yes_decisions != [b"Y"] * len(ours):
        problems.append(f"{len(ours)} of the points passed on started '00'; always_yes pushed "
                        f"{len(seen.yes_decisions)} decisions ({dict(Counter(seen.yes_decisions))}): a 'Y' for each")
    wrong = [(q, a) for q, a in seen.questions if not right_answer(q, a)]
    if wrong:
        problems.append(f"pythagoras answered {wrong[0][0][:60]!r} with {wrong[0][1][:40]!r}")
    expected = [b"Y" if inside(p) else b"N" for p in theirs]
    if seen.judge_decisions != expected:
        problems.append(f"{len(theirs)} of the points passed on did not start '00'; judge pushed "
                        f"{len(seen.judge_decisions)} decisions, {seen.judge_decisions.count(b'Y')} of them 'Y', where "
                        f"the contract's rule gives {len(expected)} with {expected.count(b'Y')} 'Y', in the same order")
    if len(seen.questions) != len(theirs):
        problems.append(f"judge asked pythagoras {len(seen.questions)} questions for {len(theirs)} points")
    counted = (seen.yes_decisions + seen.judge_decisions)[:points]
    yes = counted.count(b"Y")
    if seen.estimate is None:
        problems.append(f"tally(points={points}) had not returned {WAIT:.0f} s after the last decision reached it")
    elif not isinstance(seen.estimate, (int, float)) or abs(seen.estimate - 4 * yes / points) > 1e-9:
        problems.append(f"tally returned {seen.estimate!r} for the {points} decisions passed on to it, {yes} of "
                        f"them 'Y': 4 * yes / total is {4 * yes / points}")
    return problems


def right_answer(question: bytes, answer: bytes) -> bool:
    """Is `answer` the JSON sum of the squares of the JSON list of integers `question`?"""
    try:
        numbers, value = json.loads(question), json.loads(answer)
    except ValueError:
        return False
    return (isinstance(numbers, list) and all(type(n) is int for n in numbers) and type(value) is int
            and value == sum(n * n for n in numbers))
