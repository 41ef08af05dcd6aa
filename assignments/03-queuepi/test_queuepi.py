"""A first feel for 03-queuepi: run `pytest` in this folder.

These few tests are only a start; the grade comes from more thorough hidden tests
of every clause of the handout, which play each node's peers over real TCP. Here
each node runs in a thread (`running` below) on a context of its own, and is
stopped by terminating that context, as estimate_pi stops it.
"""
import contextlib
import random
import threading

import queuepi
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


def receive(zsock, raised, seconds=5.0):
    """The next message on zsock; fails after `seconds`, or at once if the node raised."""
    for _ in range(int(seconds * 20)):
        assert not raised, f"the node raised {raised[0]!r}"
        if zsock.poll(50):
            return zsock.recv()
    raise AssertionError(f"nothing arrived within {seconds} s")


def test_ones_and_zeros_gives_64_bits():
    bits = queuepi.ones_and_zeros(64, random.Random(1))
    assert len(bits) == 64 and set(bits) <= {"0", "1"}
    assert bits == queuepi.ones_and_zeros(64, random.Random(1))


def test_pythagoras_answers_3_4_with_25():
    url = queuepi.loopback_url()
    with running(queuepi.pythagoras, url) as raised, zmq.Context() as context:
        with context.socket(zmq.REQ) as asker:
            asker.linger = 0
            asker.connect(url)
            asker.send_json([3, 4])
            assert receive(asker, raised) == b"25"


def test_tally_counts_four_times_the_fraction_of_yes():
    url = queuepi.loopback_url()
    with zmq.Context() as context, context.socket(zmq.PUSH) as pusher:
        pusher.linger = 0
        pusher.connect(url)
        for decision in "YYN":
            pusher.send_string(decision)
        estimate = queuepi.tally(context, url, 3)
    assert abs(estimate - 4 * 2 / 3) < 1e-9


def test_estimate_pi_is_near_pi():
    estimate = queuepi.estimate_pi(2000)
    assert abs(estimate - 3.14159) < 0.2  # six standard deviations at 2,000 points
