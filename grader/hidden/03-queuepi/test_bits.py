"""03-queuepi: ones_and_zeros, and bitsource publishing its points to a subscriber the judge plays.

Each `rng` is a random.Random(seed) built afresh in the student process; the judge
compares what comes back for the seeds it chose, and what reaches its own SUB socket.
"""
from __future__ import annotations

import re

import pytest
import zmq
from hypothesis import example, given
from hypothesis import strategies as st
from queuepi_peers import fresh_rng, receive, single_frame, uniformity_problems
from zmq_peers import free_url

from grader.student_process import library, repeat

POINT_BITS = 64  # 2 * B
BITS = re.compile(rb"[01]{64}")
TWIN_BATCH = 20_000  # draws of the twin generator per call into the student process
TWIN_DRAWS = 1_000_000  # how far into the twin's sequence the first point received may lie


@pytest.mark.points(2)
@given(digits=st.integers(min_value=1, max_value=600), seed=st.integers(min_value=0, max_value=2 ** 64))
@example(digits=1, seed=0)
@example(digits=64, seed=0)
def test_ones_and_zeros_is_exactly_digits_bits(queuepi, digits, seed):
    """ones_and_zeros(digits, rng) and ones_and_zeros(digits) are strings of exactly `digits` '0'/'1' characters."""
    for bits, call in ((queuepi.ones_and_zeros(digits, fresh_rng(seed)), f"ones_and_zeros({digits}, rng)"),
                       (queuepi.ones_and_zeros(digits), f"ones_and_zeros({digits})")):
        assert isinstance(bits, str), f"{call} returned a {type(bits).__name__}, not a str: {bits!r}"
        assert len(bits) == digits and set(bits) <= {"0", "1"}, (
            f"{call} returned {len(bits)} characters {bits[:80]!r}: expected exactly {digits} of '0' and '1' "
            f"(leading zeros kept: bin() drops them, and .strip('0b') drops trailing ones too)")


@pytest.mark.points(2)
def test_ones_and_zeros_draws_from_the_rng_it_is_given(queuepi, process):
    """Given an rng, ones_and_zeros draws from it alone: equal seeds give equal bits, and the global random is
    untouched."""
    for seed in (1, 2, 3):
        first, again = (queuepi.ones_and_zeros(POINT_BITS, fresh_rng(seed)) for _ in range(2))
        assert first == again, (f"ones_and_zeros(64, random.Random({seed})) gave {first!r} and then {again!r}: "
                                "with an rng, the bits must come from it")
    drawn = {queuepi.ones_and_zeros(POINT_BITS, fresh_rng(seed)) for seed in range(10)}
    assert len(drawn) == 10, f"ten different seeds gave only {len(drawn)} different strings of 64 bits"
    global_random = process.handle(library("random"))
    global_random.seed(7)
    before = global_random.getstate()
    queuepi.ones_and_zeros(POINT_BITS, fresh_rng(1))
    assert global_random.getstate() == before, (
        "ones_and_zeros(64, rng) drew from the global random module, not from rng")


@pytest.mark.points(3)
def test_ones_and_zeros_bits_are_uniform_and_independent(queuepi):
    """Over 4,000 strings of 64 bits, each bit is 1 half the time, neighbours agree half the time, and the prefixes
    '00', '01', '10', '11' come a quarter of the time each."""
    samples = repeat(queuepi.ones_and_zeros, 4000, POINT_BITS, fresh_rng(20240))
    assert all(isinstance(s, str) and len(s) == POINT_BITS for s in samples), (
        "ones_and_zeros(64, rng) did not always give a str of 64 bits")
    problems = uniformity_problems(samples)
    assert not problems, "ones_and_zeros(64, rng) does not look like fair coin flips: " + "; ".join(problems[:4])


def collect_points(nodes, peers, count: int, rng=None):
    """Start bitsource on a free port, subscribe to everything; the node and the first `count` messages."""
    url = free_url()
    sub = peers.connect(zmq.SUB, url)  # connected first: it joins as soon as bitsource binds
    sub.subscribe(b"")
    node = nodes("bitsource", url) if rng is None else nodes("bitsource", url, rng)
    what = f"a SUB socket connected to bitsource's url {url} (does bitsource bind it with a PUB socket?)"
    return node, [single_frame(receive(sub, node, what), "each point bitsource publishes") for _ in range(count)]


@pytest.mark.points(3)
@pytest.mark.timeout(40)
def test_bitsource_binds_and_publishes_strings_of_64_bits(queuepi, nodes, peers):
    """bitsource binds url with a PUB socket and publishes, again and again, 2 * B = 64 characters of '0'/'1'
    as UTF-8."""
    _, messages = collect_points(nodes, peers, 300)
    wrong = [m for m in messages if not BITS.fullmatch(m)]
    assert not wrong, (f"{len(wrong)} of 300 messages were not 64 ASCII '0'/'1' characters, "
                       f"e.g. {wrong[0][:80]!r} ({len(wrong[0])} bytes)")


@pytest.mark.points(2)
@pytest.mark.timeout(40)
def test_bitsource_bits_are_uniform(queuepi, nodes, peers):
    """Without an rng, bitsource's points are fair coin flips (1,000 points, each bit and each prefix checked)."""
    _, messages = collect_points(nodes, peers, 1000)
    messages = [m.decode("ascii", "replace") for m in messages]
    assert all(len(m) == POINT_BITS for m in messages), "bitsource published points that are not 64 bits long"
    problems = uniformity_problems(messages)
    assert not problems, "bitsource's points do not look like fair coin flips: " + "; ".join(problems[:4])


@pytest.mark.points(2)
@pytest.mark.timeout(40)
def test_bitsource_publishes_ones_and_zeros_of_its_rng_in_order(queuepi, nodes, peers):
    """With an rng, bitsource publishes ones_and_zeros(2 * B, rng), one after another: what arrives is that sequence,
    in order (the start may be missed)."""
    node, messages = collect_points(nodes, peers, 200, fresh_rng(99))
    node.stop()  # flat out, it would compete with the twin's draws
    received = [m.decode("ascii", "replace") for m in messages]
    twin = fresh_rng(99)
    position = 0
    for _ in range(TWIN_DRAWS // TWIN_BATCH):  # bitsource may have published many points before the SUB joined
        for drawn in repeat(queuepi.ones_and_zeros, TWIN_BATCH, POINT_BITS, twin):
            if drawn == received[position]:
                position += 1
                if position == len(received):
                    return
    pytest.fail(f"bitsource(zcontext, url, random.Random(99)) published {received[position]!r} (its point "
                f"#{position + 1} as received), which is not among the next ones_and_zeros(64, rng) of that rng, "
                "in order", pytrace=False)
