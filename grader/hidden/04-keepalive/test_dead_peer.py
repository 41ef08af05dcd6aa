"""04-keepalive: a peer that falls silent, then really vanishes, in a network namespace of the student process's own.

The student process is made in a network namespace of its own (by the zygote, while
it is still root: the student's code runs there as the student user, unprivileged,
with a loopback it cannot configure). A peer of the judge's enters that namespace,
connects to the student's listener, sends a few lines and falls silent, still
connected and reachable: keepalive probes it, and it answers. Only after longer than
keepalive needs to find a dead peer does it take the namespace's loopback down: from
then on nothing it sends arrives and nothing answers, as when a machine is unplugged.
Keepalive (idle=1, interval=1, count=1) must then give up, and `receive` return what
it got. A control connection of our own, with the same settings, shows when a correct
socket notices on this machine. Every time is the judge's own (CLOCK_MONOTONIC, shared
by its peer).

The verdict rests on the kernel, not on when receive returns: the judge keeps a
duplicate of the student's end of the connection (pidfd_getfd), so the student's
close does not end it, and reads its state from the kernel (TCP_INFO). During the
silence the peer must have answered the connection's probes; when receive returns,
the kernel must already have ended the connection after unanswered probes. A receive
that takes silence for death, on a clock of its own, or that watches the loopback go
down (any process may read an interface's flags), returns with the connection alive.
So the silence can be as public as this file: no length of it can be tuned to.
"""
from __future__ import annotations

import time

import pytest
from peers import LAST_WORDS, POLL, WAIT, NamespacePeer, connection_of, student_end

from grader.student_process import Pending, StudentCodeRaised, background, keep

IDLE, INTERVAL, COUNT = 1, 1, 1
# Linux finds a silent peer dead idle + interval * count = 2 s after the last packet, once the loopback is down; on a
# live, silent connection the probes come every max(idle, interval) seconds and are answered.
GIVES_UP = IDLE + INTERVAL * COUNT
SILENCE = GIVES_UP + 0.7  # seconds the peer stays silent and reachable: longer than keepalive needs to give up
HEARD = max(IDLE, INTERVAL) + 1.0  # during the silence, the connection must have heard an answer this recently
# Seven seconds more than keepalive's own time after the loopback goes down is room for a loaded machine to wake
# the reading thread; without keepalive, or with the kernel's defaults, receive would wait two hours, so nothing
# correct comes near the limit.
MARGIN = 7


def accepted_end(pid: int, port: int, peer_port: int, call: Pending):
    """The student's end of the peer's connection, duplicated, once receive has accepted it; the test fails when
    receive returns first, or never accepts."""
    deadline = time.monotonic() + WAIT
    while (theirs := student_end(pid, ("127.0.0.1", port), ("127.0.0.1", peer_port))) is None:
        if call.done(POLL):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"receive had not accepted the peer's connection {WAIT:.0f} s after it was made", pytrace=False)
    assert not call.done(0), (
        "receive returned while the peer was still connected and silent: it must read until the peer closes "
        "the connection or is found dead")
    return theirs


@pytest.mark.points(6)
@pytest.mark.timeout(90)
def test_receive_returns_when_the_peer_vanishes(private_process):
    """A silent peer is not a dead one, a vanished one is: receive keeps reading while the peer, connected and
    reachable, says nothing for longer than keepalive needs to find a dead peer, and returns what it got, without
    raising, once keepalive gives up on the vanished peer (within idle + interval x count, + margin).

    listen(idle=1, interval=1, count=1) must really turn keepalive on, so that the
    kernel probes the silent peer (and it answers) and gives up once a probe goes
    unanswered; receive must treat that (TimeoutError) as the end of the connection,
    not as an error, and nothing else.
    """
    keepalive = private_process.module()
    waited = GIVES_UP + MARGIN
    with NamespacePeer(private_process.pid, IDLE, INTERVAL, COUNT) as peer:
        peer.said("up")
        listener = keep(keepalive.listen, "127.0.0.1", 0, idle=IDLE, interval=INTERVAL, count=COUNT)
        call = background(keepalive.receive, listener)
        port = listener.getsockname()[1]
        peer.tell(port)
        peer_port = int(peer.said("ready"))
        last_words = time.monotonic()
        with accepted_end(private_process.pid, port, peer_port, call) as theirs:
            while not call.done(POLL) and time.monotonic() < last_words + SILENCE:
                pass
            assert not call.done(0), (
                f"receive returned {time.monotonic() - last_words:.1f} s after the peer's last words, while the peer "
                "was still connected, reachable and answering keepalive's probes: a silent peer is not a dead one. "
                "Read until the peer closes the connection or keepalive finds it dead")
            silent = connection_of(theirs)
            assert silent.heard <= HEARD, (
                f"in {SILENCE:g} s of silence, the connection receive reads never probed the peer (the kernel had "
                f"heard nothing from it for {silent.heard:.1f} s): is keepalive on for the connections the listener "
                f"accepts? With idle={IDLE} the first probe goes out after {IDLE} s of silence")
            peer.tell("down")
            vanished = float(peer.said("down"))
            while not call.done(POLL) and time.monotonic() < vanished + waited:
                pass
            ended = time.monotonic() if call.done(0) else None
            dead = connection_of(theirs)
        control = peer.said("control", max(0.0, vanished + waited - time.monotonic()), must=False)
    if control is None:
        pytest.skip(f"not run: on this machine even a correctly configured connection did not notice the "
                    f"vanished peer within {waited:.0f} s")
    assert ended is not None, (
        f"receive had not returned {waited:.0f} s after the peer vanished, on listen(idle={IDLE}, "
        f"interval={INTERVAL}, count={COUNT}): keepalive should give up after about {GIVES_UP} s (a correctly "
        f"configured connection beside yours did after {float(control) - vanished:.1f} s). Is SO_KEEPALIVE on, "
        "at level SOL_SOCKET, and are the TCP_KEEP* options set on the listener?")
    try:
        data = call.result(0)
    except StudentCodeRaised as exc:
        # An AssertionError, not pytest.fail: the report would take "Failed: ... TimeoutError" for a time limit.
        raise AssertionError(f"when the peer vanished (keepalive gave up), {exc}: a dead peer is not an error, "
                             "return the bytes received so far") from None
    assert dead.dead_by_keepalive, (
        f"receive returned {ended - vanished:.1f} s after the peer vanished, but the kernel had not ended the "
        f"connection after unanswered keepalive probes then ({dead.describe()}): receive returns when keepalive "
        "gives up (recv raises TimeoutError), not on a clock of its own")
    assert data == LAST_WORDS, (
        f"when the peer vanished, receive returned {data!r:.120} instead of the {len(LAST_WORDS)} bytes "
        f"it had sent ({LAST_WORDS[:40]!r}...)")
