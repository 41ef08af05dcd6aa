"""03-queuepi: tally alone, fed decisions by PUSH sockets the judge plays.

Its `out` is a text stream built in the student process: every write reaches the
judge as it happens, and what tally returns comes back as plain data.
"""
from __future__ import annotations

import re
import time

import pytest
import zmq
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from queuepi_peers import TICK
from zmq_peers import WAIT, free_url

from grader.student_process import text_stream

LINE = re.compile(r"^\s*([YN])\s+(\S+)\s*$")


def feed(peers, url: str, decisions: str, pushers: int = 1) -> None:
    """Push each decision ('Y' or 'N') to tally, round-robin from `pushers` sockets, as always_yes and judge do."""
    sockets = [peers.connect(zmq.PUSH, url) for _ in range(pushers)]
    for i, decision in enumerate(decisions):
        sockets[i % pushers].send_string(decision)


def estimates(decisions: str) -> list[float]:
    """The book's estimate after each decision: 4 * yes / total."""
    yes, out = 0, []
    for total, decision in enumerate(decisions, start=1):
        yes += decision == "Y"
        out.append(4 * yes / total)
    return out


class Written:
    """What tally writes to its `out` stream in the student process, as the judge receives it."""

    def __init__(self, process):
        self.parts: list[str] = []
        self.stream = text_stream("out")
        process.listen("out", lambda args: self.parts.append(args[0]))

    def text(self) -> str:
        return "".join(self.parts)


def run_tally(nodes, peers, decisions: str, points: int, out=None):
    url = free_url()
    node = nodes("tally", url, points) if out is None else nodes("tally", url, points, out)
    feed(peers, url, decisions)
    node.finish(WAIT)
    assert not node.alive, (f"tally(zcontext, url, points={points}) was fed {len(decisions)} decisions and had "
                            f"not returned {WAIT:.0f} s later: it should return after {points} of them")
    node.stop()  # its context, at once: Hypothesis runs many of these
    return node.result


@pytest.mark.points(3)
@settings(max_examples=40, phases=[Phase.explicit, Phase.reuse, Phase.generate])  # a hang is not shrunk
@given(decisions=st.text(alphabet="YN", min_size=1, max_size=40))
def test_tally_returns_four_times_the_fraction_of_yes(queuepi, nodes, peers, decisions):
    """tally binds a PULL socket and, after `points` decisions, returns the estimate 4 * yes / total."""
    result = run_tally(nodes, peers, decisions, len(decisions))
    expected = estimates(decisions)[-1]
    assert isinstance(result, (int, float)) and abs(result - expected) < 1e-9, (
        f"after the decisions {decisions!r} tally returned {result!r}; expected 4 * yes / total = {expected!r}")


@pytest.mark.points(2)
def test_tally_returns_after_exactly_points_decisions(queuepi, nodes, peers):
    """tally(zcontext, url, points) returns by itself once it has counted `points` decisions, and counts none of those
    after them."""
    decisions = "YNYNN" + "YYYYYYYYYY"  # 5 points: 1.6; one more or one fewer gives 2.0 or more
    result = run_tally(nodes, peers, decisions, 5)
    assert result == pytest.approx(1.6), (
        f"tally with points=5, fed {decisions!r}, returned {result!r}; the first 5 decisions give 4 * 2 / 5 = 1.6")


def number_matches(printed: str, value: float) -> bool:
    """Does `printed` show `value`, to the digits printed?"""
    try:
        shown = float(printed)
    except ValueError:
        return False
    decimals = len(printed.split(".")[1]) if "." in printed and "e" not in printed.lower() else 12
    return abs(shown - value) <= 0.5 * 10 ** -decimals + 1e-9


@pytest.mark.points(3)
def test_tally_writes_one_line_per_decision_like_the_book(queuepi, process, nodes, peers):
    """With out, tally writes one line per decision, the decision and the estimate so far, as the book prints: 'Y 4.0',
    'N 2.0', 'Y 2.6666666666666665'."""
    decisions = "YNYYNNYNYYYN"
    out = Written(process)
    run_tally(nodes, peers, decisions, len(decisions), out.stream)
    lines = out.text().splitlines()
    assert len(lines) == len(decisions), (
        f"tally counted {len(decisions)} decisions and wrote {len(lines)} lines to out: {lines[:4]}")
    for number, (line, decision, value) in enumerate(zip(lines, decisions, estimates(decisions)), start=1):
        match = LINE.match(line)
        assert match and match[1] == decision and number_matches(match[2], value), (
            f"line {number} of tally's output is {line!r}; after decisions {decisions[:number]!r} "
            f"the book prints {decision} {value}")


@pytest.mark.points(2)
def test_tally_without_points_returns_the_latest_estimate_when_terminated(queuepi, process, nodes, peers):
    """With points=None, tally counts until its context is terminated, then returns the latest estimate (here from two
    pushers at once)."""
    decisions = "YYNYNNN"
    url, out = free_url(), Written(process)
    node = nodes("tally", url, None, out.stream)
    feed(peers, url, decisions, pushers=2)
    deadline = time.monotonic() + WAIT
    while out.text().count("\n") < len(decisions) and time.monotonic() < deadline:
        node.check()
        time.sleep(TICK)
    node.check()
    stopped = node.stop()
    assert stopped.returned_after is not None, "tally with points=None did not return after its context was terminated"
    assert stopped.error is None, node.describe_error() + ": it should catch zmq.ContextTerminated and return"
    expected = estimates(decisions)[-1]
    assert node.result == pytest.approx(expected), (
        f"tally was fed {decisions!r} and, once terminated, returned {node.result!r}; expected the latest "
        f"estimate {expected}")
