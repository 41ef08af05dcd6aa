"""04-keepalive: a peer that really vanishes, in a network namespace of the student process's own.

The student process is made in a network namespace of its own (by the zygote, while
it is still root: the student's code runs there as the student user, unprivileged,
with a loopback it cannot configure). A peer of the judge's enters that namespace,
connects to the student's listener, sends a few lines, and then takes the
namespace's loopback down: from then on nothing it sends arrives and nothing answers
it, as when a machine is unplugged. Keepalive (idle=1, interval=1, count=2) must
notice in about three seconds, and `receive` must return what it got. A control
connection of our own, with the same settings, shows when a correct socket notices
on this machine. Every time is the judge's own (CLOCK_MONOTONIC, shared by its peer).
"""
from __future__ import annotations

import time

import pytest
from peers import LAST_WORDS, POLL, NamespacePeer

from grader.student_process import StudentCodeRaised, background, keep

IDLE, INTERVAL, COUNT = 1, 1, 2
# Linux notices idle + interval * count = 3 s after the last packet (measured here:
# 3.05 s after the loopback goes down, just after the last packet; the kernel's
# timers are not slowed by a busy machine). Seven seconds more is room for a loaded
# machine to wake the reading thread; without keepalive, or with the kernel's
# defaults, receive would wait two hours, so nothing correct comes near the limit.
MARGIN = 7


@pytest.mark.points(6)
@pytest.mark.timeout(90)
def test_receive_returns_when_the_peer_vanishes(private_process):
    """When the peer vanishes, receive returns what it got, without raising, within idle + interval x count (+ margin).

    listen(idle=1, interval=1, count=2) must really turn keepalive on, so that the
    kernel probes the silent peer and gives up after two unanswered probes; receive
    must treat that (TimeoutError) as the end of the connection, not as an error.
    """
    keepalive = private_process.module()
    expected, waited = IDLE + INTERVAL * COUNT, IDLE + INTERVAL * COUNT + MARGIN
    with NamespacePeer(private_process.pid, IDLE, INTERVAL, COUNT) as peer:
        peer.said("up")
        listener = keep(keepalive.listen, "127.0.0.1", 0, idle=IDLE, interval=INTERVAL, count=COUNT)
        call = background(keepalive.receive, listener)
        peer.tell(listener.getsockname()[1])
        peer.said("ready")
        assert not call.done(POLL), (
            "receive returned while the peer was still connected and silent: it must read until the peer closes "
            "the connection or is found dead")
        peer.tell("down")
        vanished = float(peer.said("down"))
        while not call.done(POLL) and time.monotonic() < vanished + waited:
            pass
        ended = time.monotonic() if call.done(0) else None
        control = peer.said("control", max(0.0, vanished + waited - time.monotonic()), must=False)
    if control is None:
        pytest.skip(f"not run: on this machine even a correctly configured connection did not notice the "
                    f"vanished peer within {waited:.0f} s")
    assert ended is not None, (
        f"receive had not returned {waited:.0f} s after the peer vanished, on listen(idle={IDLE}, "
        f"interval={INTERVAL}, count={COUNT}): keepalive should give up after about {expected} s (a correctly "
        f"configured connection beside yours did after {float(control) - vanished:.1f} s). Is SO_KEEPALIVE on, "
        "at level SOL_SOCKET, and are the TCP_KEEP* options set on the listener?")
    try:
        data = call.result(0)
    except StudentCodeRaised as exc:
        # An AssertionError, not pytest.fail: the report would take "Failed: ... TimeoutError" for a time limit.
        raise AssertionError(f"when the peer vanished (keepalive gave up), {exc}: a dead peer is not an error, "
                             "return the bytes received so far") from None
    assert data == LAST_WORDS, (
        f"when the peer vanished, receive returned {data!r:.120} instead of the {len(LAST_WORDS)} bytes "
        f"it had sent ({LAST_WORDS[:40]!r}...)")
