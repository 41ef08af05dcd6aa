"""03-queuepi: always_yes and judge, each alone, with the test publishing points, answering for
pythagoras and counting decisions for tally (all over real TCP)."""
from __future__ import annotations

import json
import random

import pytest
import zmq
from hypothesis import example, given
from hypothesis import strategies as st
from queuepi_peers import Publisher, Pythagoras, count_arrivals, drain, receive, single_frame

PREFIXES = ("00", "01", "10", "11")
UNIT = 2 ** 64  # 2 ** (2 * B)


def points_with_prefix(prefix: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [prefix + format(rng.getrandbits(62), "062b") for _ in range(count)]


def interleaved(count: int, seed: int = 0) -> list[str]:
    """`count` points of each prefix, mixed."""
    points = [p for prefix in PREFIXES for p in points_with_prefix(prefix, count, seed)]
    random.Random(seed).shuffle(points)
    return points


# -- always_yes ---------------------------------------------------------------------------


def start_always_yes(nodes, peers):
    publisher = Publisher(peers)
    sink, sink_url = peers.bind(zmq.PULL)
    node = nodes("always_yes", publisher.url, sink_url)
    publisher.wait_for(node, [b"00"])
    return publisher, sink, node


@pytest.mark.points(3)
def test_always_yes_subscribes_to_00_only(queuepi, nodes, peers):
    """always_yes's SUB connects to in_url subscribed to b'00' and nothing else: of 30 points of each prefix, it
    answers exactly the 30 starting '00'."""
    publisher, sink, node = start_always_yes(nodes, peers)
    assert publisher.topics == {b"00"}, (
        f"always_yes subscribed to {sorted(publisher.topics)}: it must subscribe to b'00' only "
        "(points starting '01', '10', '11' are judge's; taking them too counts them twice)")
    for bits in interleaved(30):
        publisher.publish(bits)
    answers = count_arrivals(sink, node, 30)
    assert answers == 30, (f"30 points of each prefix were published and always_yes pushed {answers} "
                           "decisions: it should answer the 30 starting '00', and only those")


@pytest.mark.points(2)
def test_always_yes_pushes_Y_for_each_point(queuepi, nodes, peers):
    """always_yes's PUSH connects to out_url and sends the string 'Y' (one frame, b'Y') for each point it receives."""
    publisher, sink, node = start_always_yes(nodes, peers)
    for i, bits in enumerate(points_with_prefix("00", 50, seed=5)):
        publisher.publish(bits)
        answer = single_frame(receive(sink, node, f"always_yes pushed nothing for point #{i + 1}, {bits!r}"),
                              "always_yes's decision")
        assert answer == b"Y", f"always_yes pushed {answer!r} for {bits!r}; the book's wire format is the string 'Y'"
    extra = drain(sink)
    assert not extra, f"50 points starting '00' were published, and always_yes pushed {len(extra)} decisions more"


# -- judge --------------------------------------------------------------------------------


@pytest.mark.points(3)
def test_judge_subscribes_to_01_10_11_only(queuepi, nodes, peers):
    """judge's SUB connects to in_url subscribed to b'01', b'10' and b'11' only: of 20 points of each prefix it decides
    exactly the 60 not starting '00'."""
    publisher, pythagoras = Publisher(peers), Pythagoras(peers)
    sink, sink_url = peers.bind(zmq.PULL)
    node = nodes("judge", publisher.url, pythagoras.url, sink_url)
    publisher.wait_for(node, [b"01", b"10", b"11"])
    assert publisher.topics == {b"01", b"10", b"11"}, (
        f"judge subscribed to {sorted(publisher.topics)}: it must subscribe to b'01', b'10' and b'11' only "
        "(points starting '00' are always_yes's; taking them too counts them twice)")
    for bits in interleaved(20, seed=1):
        publisher.publish(bits)
    requests = pythagoras.serve(node, 60)
    decisions = count_arrivals(sink, node, 60)
    assert len(requests) == 60 and decisions == 60, (
        f"20 points of each prefix were published; judge asked pythagoras {len(requests)} times and pushed "
        f"{decisions} decisions: it should handle the 60 not starting '00', and only those")


def judge_bits():
    return st.tuples(st.sampled_from(PREFIXES[1:]), st.text(alphabet="01", min_size=62, max_size=62)).map("".join)


@pytest.mark.points(4)
@given(bits=judge_bits())
@example(bits="01" + "0" * 62)
@example(bits="1" * 64)
@example(bits="10" * 32)
def test_judge_asks_pythagoras_about_the_interleaved_coordinates(queuepi, judge_rig, bits):
    """For bits s, judge's REQ sends pythagoras the JSON array [n, m] with n = int(s[::2], 2) and m = int(s[1::2], 2):
    the even and the odd bits."""
    request, _ = judge_rig.decide(bits)
    expected = [int(bits[::2], 2), int(bits[1::2], 2)]
    try:
        sent = json.loads(request)
    except ValueError:
        pytest.fail(f"for {bits!r} judge sent pythagoras {request[:100]!r}, which is not JSON", pytrace=False)
    assert sent == expected and all(type(x) is int for x in sent), (
        f"for {bits!r} judge sent pythagoras {request[:120]!r}; expected the JSON array {json.dumps(expected)} "
        "(n from the even-numbered bits s[::2], m from the odd ones s[1::2])")


# The sums the test's pythagoras answers with, and what judge must push for each.
THRESHOLD_CASES = [(0, b"Y"), (2 ** 32, b"Y"), (2 ** 33 + 1, b"Y"), (UNIT - 1, b"Y"), (UNIT, b"N"),
                   (UNIT + 1, b"N"), (3 * UNIT, b"N"), (2 ** 63, b"Y"), (2 * UNIT - 1, b"N")]


@pytest.mark.points(3)
def test_judge_says_Y_below_2_to_the_64_and_N_from_there(queuepi, judge_rig):
    """judge pushes 'Y' when pythagoras answers a number below 2 ** (2 * B) = 2 ** 64, and 'N' from 2 ** 64 up."""
    for i, (answer, wanted) in enumerate(THRESHOLD_CASES):
        bits = points_with_prefix(("01", "10", "11")[i % 3], 1, seed=i)[0]
        _, decision = judge_rig.decide(bits, reply=answer)
        assert decision == wanted, (
            f"pythagoras answered {json.dumps(answer)} and judge pushed {decision!r}; expected {wanted!r} "
            f"({'below' if wanted == b'Y' else 'not below'} 2 ** 64 = {UNIT})")
