"""Estimating pi with five ZeroMQ nodes: the book's queuepi.py, made unbiased and stoppable.

Foundations of Python Network Programming, chapter 8 ("Message Queues"). Read the
handout (README.md) first: it explains each node, each socket pair, and the traps
that estimate_pi must avoid to count every point exactly once.

    bitsource --PUB/SUB '00'--------------> always_yes --PUSH/PULL--> tally
              --PUB/SUB '01' '10' '11'---> judge --------PUSH/PULL--> tally
                                             judge --REQ/REP--> pythagoras

Run it as a script to estimate pi and see how fast the pipeline goes:

    python queuepi.py              # 10,000 points
    python queuepi.py 100000
"""
import random
import socket
import sys
import threading
import time
from itertools import repeat

import zmq
from zmq.utils.monitor import recv_monitor_message

B = 32  # bits per coordinate: a point is 2 * B random bits
SETTLE_SECONDS = 0.05  # after a subscriber's handshake, for its subscription to reach the publisher
STALL_SECONDS = 3.0  # a run whose tally hears nothing for this long has lost a point
ATTEMPTS = 3


def ones_and_zeros(digits: int, rng: random.Random | None = None) -> str:
    """Exactly `digits` characters of '0' and '1', uniformly random bits (drawn from `rng` when given)."""
    ### BEGIN SOLUTION
    if digits == 0:
        return ""
    bits = (rng or random).getrandbits(digits)
    return format(bits, "b").zfill(digits)
    ### END SOLUTION


def open_socket(zcontext: zmq.Context, kind: int) -> zmq.Socket:
    """A new socket of `kind` that drops its unsent messages when closed (LINGER 0), so term() never waits.

    Set LINGER now: once the context is terminated, setting an option fails (and
    close(linger=0) ignores that failure), so the default, wait forever, would stay.
    """
    ### BEGIN SOLUTION
    zsock = zcontext.socket(kind)
    zsock.linger = 0
    return zsock
    ### END SOLUTION


def close_sockets(*sockets: zmq.Socket) -> None:
    """Close each socket (made by open_socket: nothing unsent holds term() up)."""
    ### BEGIN SOLUTION
    for zsock in sockets:
        zsock.close()
    ### END SOLUTION


def wait_for_subscribers(monitor: zmq.Socket, count: int) -> None:
    """Block until the monitored socket has completed `count` handshakes (EVENT_HANDSHAKE_SUCCEEDED)."""
    ### BEGIN SOLUTION
    joined = 0
    while joined < count:
        if recv_monitor_message(monitor)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            joined += 1
    ### END SOLUTION


def bitsource(zcontext: zmq.Context, url: str, rng: random.Random | None = None,
              count: int | None = None, subscribers: int = 0) -> None:
    """Produce random points in the unit square: a PUB socket that binds `url`.

    Publishes ones_and_zeros(2 * B, rng) as a UTF-8 string, again and again; or
    `count` times, queued without a high-water mark, then waits to be terminated.
    With `subscribers`, it first waits for that many to join (the slow joiner).
    Returns within a second once zcontext is terminated.
    """
    ### BEGIN SOLUTION
    zsock = open_socket(zcontext, zmq.PUB)
    monitor = zsock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    monitor.linger = 0
    try:
        if count is not None:
            zsock.sndhwm = 0  # a batch that ends: queue all of it rather than drop points for the slow judge
        zsock.bind(url)
        if subscribers:
            wait_for_subscribers(monitor, subscribers)
            time.sleep(SETTLE_SECONDS)  # their subscriptions follow the handshake on the same connection
        for _ in repeat(None) if count is None else range(count):
            zsock.send_string(ones_and_zeros(2 * B, rng))
        zsock.poll()  # a PUB never has input: this waits, until term() raises ContextTerminated
    except zmq.ContextTerminated:
        pass
    finally:
        close_sockets(zsock, monitor)
    ### END SOLUTION


def always_yes(zcontext: zmq.Context, in_url: str, out_url: str) -> None:
    """Coordinates in the lower-left quadrant are inside the unit circle.

    SUB connects to in_url, subscribed to b'00' only; PUSH connects to out_url and
    sends 'Y' for each message. Returns within a second once zcontext is terminated.
    """
    ### BEGIN SOLUTION
    isock = open_socket(zcontext, zmq.SUB)
    osock = open_socket(zcontext, zmq.PUSH)
    try:
        isock.connect(in_url)
        isock.subscribe(b"00")
        osock.connect(out_url)
        while True:
            isock.recv_string()
            osock.send_string("Y")
    except zmq.ContextTerminated:
        pass
    finally:
        close_sockets(isock, osock)
    ### END SOLUTION


def judge(zcontext: zmq.Context, in_url: str, pythagoras_url: str, out_url: str) -> None:
    """Determine whether each input coordinate is inside the unit circle.

    SUB connects to in_url, subscribed to b'01', b'10' and b'11' only; REQ connects
    to pythagoras_url; PUSH connects to out_url. For bits s it asks pythagoras about
    the JSON array [int(s[::2], 2), int(s[1::2], 2)] and pushes 'Y' if the answer is
    below 2 ** (2 * B), else 'N'. Returns within a second once zcontext is terminated.
    """
    ### BEGIN SOLUTION
    isock = open_socket(zcontext, zmq.SUB)
    psock = open_socket(zcontext, zmq.REQ)
    osock = open_socket(zcontext, zmq.PUSH)
    unit = 2 ** (2 * B)  # the radius is 2 ** B, so inside means n*n + m*m below its square
    try:
        isock.connect(in_url)
        for prefix in b"01", b"10", b"11":
            isock.subscribe(prefix)
        psock.connect(pythagoras_url)
        osock.connect(out_url)
        while True:
            bits = isock.recv_string()
            n, m = int(bits[::2], 2), int(bits[1::2], 2)
            psock.send_json([n, m])
            sumsquares = psock.recv_json()
            osock.send_string("Y" if sumsquares < unit else "N")
    except zmq.ContextTerminated:
        pass
    finally:
        close_sockets(isock, psock, osock)
    ### END SOLUTION


def pythagoras(zcontext: zmq.Context, url: str) -> None:
    """Return the sum-of-squares of number sequences: a REP socket that binds `url`.

    Replies to each JSON array of integers with the JSON sum of their squares.
    Returns within a second once zcontext is terminated.
    """
    ### BEGIN SOLUTION
    zsock = open_socket(zcontext, zmq.REP)
    try:
        zsock.bind(url)
        while True:
            numbers = zsock.recv_json()
            zsock.send_json(sum(n * n for n in numbers))
    except zmq.ContextTerminated:
        pass
    finally:
        close_sockets(zsock)
    ### END SOLUTION


def tally(zcontext: zmq.Context, url: str, points: int | None = None, out=None) -> float | None:
    """Tally how many points fall within the unit circle, and print pi: a PULL socket that binds `url`.

    After each decision the estimate is 4 * yes / total; with `out` (a text stream)
    it writes one line per decision as the book prints, e.g. 'Y 3.1416'. Returns the
    estimate after `points` decisions, or, with points=None, the latest estimate once
    zcontext is terminated (None before the first decision).
    """
    ### BEGIN SOLUTION
    zsock = open_socket(zcontext, zmq.PULL)
    p = q = 0
    estimate = None
    try:
        zsock.bind(url)
        while points is None or q < points:
            decision = zsock.recv_string()
            q += 1
            if decision == "Y":
                p += 4
            estimate = p / q
            if out is not None:
                print(decision, estimate, file=out)
    except zmq.ContextTerminated:
        pass
    finally:
        close_sockets(zsock)
    return estimate
    ### END SOLUTION


def start_thread(function, *args) -> threading.Thread:
    """Given (not your work): run function(*args) in a thread of its own, as the book does."""
    thread = threading.Thread(target=function, args=args, daemon=True)
    thread.start()
    return thread


class Progress:
    """Given: a text stream for tally's lines that counts them and remembers when the last one came."""

    def __init__(self):
        self.lines = 0
        self.last = time.monotonic()

    def write(self, text: str) -> None:
        self.lines += text.count("\n")
        self.last = time.monotonic()

    def flush(self) -> None:
        pass

    def stalled(self) -> bool:
        return time.monotonic() - self.last > STALL_SECONDS


def loopback_url() -> str:
    """Given: a tcp:// URL on a loopback port that is free right now (the kernel picks it), never a fixed one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "tcp://127.0.0.1:%d" % probe.getsockname()[1]


def count_points(zcontext: zmq.Context, points: int) -> float | None:
    """One run of the five nodes, until tally has counted `points` decisions; terminates zcontext.

    Returns the estimate, or None when the run stalled: a point went missing (or a
    port was taken), so that tally would never reach `points`.
    """
    ### BEGIN SOLUTION
    pubsub, reqrep, pushpull = loopback_url(), loopback_url(), loopback_url()
    progress = Progress()
    counted = []
    nodes = [start_thread(lambda: counted.append(tally(zcontext, pushpull, points, progress))),
             start_thread(pythagoras, zcontext, reqrep),
             start_thread(bitsource, zcontext, pubsub, None, points, 2),
             start_thread(always_yes, zcontext, pubsub, pushpull),
             start_thread(judge, zcontext, pubsub, reqrep, pushpull)]
    while nodes[0].is_alive() and not progress.stalled():
        nodes[0].join(0.1)
    zcontext.term()  # every node returns, its sockets closed
    for node in nodes:
        node.join(1.0)
    return counted[0] if counted and progress.lines == points else None
    ### END SOLUTION


def estimate_pi(points: int, zcontext: zmq.Context | None = None) -> float:
    """Estimate pi from exactly `points` points, each counted once: unbiased.

    Wires the five nodes on free loopback ports, runs them until tally has counted
    `points` decisions, stops them all (terminating the context, a given one too),
    and returns the estimate. Nothing is left running when it returns.
    """
    ### BEGIN SOLUTION
    context = zcontext if zcontext is not None else zmq.Context()
    for _ in range(ATTEMPTS):
        estimate = count_points(context, points)
        if estimate is not None:
            return estimate
        context = zmq.Context()  # the stalled run's context is terminated: start afresh
    raise RuntimeError(f"the pipeline stalled {ATTEMPTS} times: no decision came for {STALL_SECONDS} s")
    ### END SOLUTION


def main():
    """Given: estimate pi from POINTS points (10,000 by default) and say how fast it went."""
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    started = time.perf_counter()
    estimate = estimate_pi(points)
    seconds = time.perf_counter() - started
    print(f"pi is about {estimate:.5f} from {points:,} points, in {seconds:.2f} s ({points / seconds:,.0f} points/s)")


if __name__ == "__main__":
    main()
