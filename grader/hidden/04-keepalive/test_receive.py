"""04-keepalive: receive, on a listener built in the student process, fed by a plain client of the judge's own."""
from __future__ import annotations

import statistics
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from peers import POLL, WAIT, cpu_of_plain_reading, in_background, send_and_close

from grader.student_process import StudentCodeRaised, background, stand_in, tcp_socket

CHUNKS = st.lists(st.binary(max_size=5000), max_size=30)
PAYLOAD = 2 << 20  # bytes: 2 MiB in all, sent over CONNECTIONS connections of 256 KiB
CONNECTIONS = 8
# A byte-at-a-time reader costs about a microsecond of CPU per byte; a plain reader of
# 64 KiB chunks, a millisecond or two for the whole 2 MiB. The judge reads the student
# process's CPU clock before and after the calls, which adds the calls' own cost (the
# bytes travel back to the judge) to the student's side only, in the student's favour.
# Measured so, on 2 MiB in one connection: the reference 8 to 30 times the plain
# reader, recv(1024) into a list or recv(512) into a bytearray 25 to 30 times, recv(1)
# 2,100 to 2,600 times. A reader that accumulates with `data += chunk` copies all it
# has at every chunk: on 2 MiB in one connection that measured 100 to 450 times with
# recv(4096), on either side of any limit, although it reads in sensible chunks as the
# contract asks. In pieces of 256 KiB its copying is 8 times smaller while a byte at a
# time costs the same, so allowing 200 times fails recv(1) by a factor of ten and passes
# such a reader by as much. CPU time, unlike wall time, is not inflated by a busy machine.
SLOWER_ALLOWED = 200


def receive_from_a_client_of_ours(keepalive, process, chunks, reset=False, on_data=None, limit=WAIT):
    """The student's receive on a fresh listener in its process, while our client sends `chunks` and
    closes (or resets); returns what it returned, and the CPU seconds the student process spent meanwhile."""
    listener = tcp_socket("listener", listening=True)
    address = tuple(process.handle(listener).getsockname())
    cpu = process.cpu_time()
    call = background(keepalive.receive, listener, **({} if on_data is None else {"on_data": on_data}))
    try:
        client = in_background(send_and_close, address, chunks, reset)
        deadline = time.monotonic() + limit
        while not call.done(POLL) and time.monotonic() < deadline:
            pass
        cpu = process.cpu_time() - cpu
        got = call.result(0)
    except TimeoutError:
        pytest.fail(f"{call.text}, after the peer {'reset' if reset else 'closed'} the connection, had not "
                    f"returned after {limit:.0f} s", pytrace=False)
    finally:
        if process.ended is None:  # a client of ours still sending to a receive that raised stops here
            process.handle(listener).close()
    client.join(WAIT)
    return got, cpu


@pytest.mark.points(3)
@given(chunks=CHUNKS)
def test_receive_returns_every_byte_in_order(keepalive, process, chunks):
    """receive returns every byte the peer sent, in order, as bytes, once the peer closes the connection."""
    expected = b"".join(chunks)
    got, _ = receive_from_a_client_of_ours(keepalive, process, chunks)
    assert isinstance(got, bytes), f"receive returned a {type(got).__name__}, not bytes: {got!r:.100}"
    assert got == expected, (f"the peer sent {len(expected)} bytes in {len(chunks)} sendall() calls, then closed; "
                             f"receive returned {len(got)} bytes: {got[:100]!r} instead of {expected[:100]!r}")


@pytest.mark.points(2)
def test_receive_gives_each_chunk_to_on_data(keepalive, process):
    """on_data(chunk) is called for each chunk read: together, the chunks are exactly what receive returns."""
    payload = bytes(range(256)) * 2000
    chunks: list = []
    process.listen("on_data", lambda args: chunks.append(args[0]))
    pieces = [payload[i:i + 7000] for i in range(0, len(payload), 7000)]
    got, _ = receive_from_a_client_of_ours(keepalive, process, pieces, on_data=stand_in("on_data", ("const", None)))
    assert chunks, "receive(listener, on_data=f) never called f"
    joined = b"".join(chunks)
    assert joined == got == payload, (
        f"on_data was called {len(chunks)} times with {len(joined):,} bytes in all and receive returned "
        f"{len(got):,}; the peer sent {len(payload):,}. Call on_data with each new chunk, once")


@pytest.mark.points(3)
def test_receive_returns_what_arrived_before_a_reset(keepalive, process):
    """A peer that resets the connection is not an error: receive returns the bytes that came before."""
    words = [b"first words\n", b"then a reset\n" * 100]
    try:
        got, _ = receive_from_a_client_of_ours(keepalive, process, words, reset=True)
    except StudentCodeRaised as exc:
        raise AssertionError(f"when the peer reset the connection, {exc}: a reset peer is not an error, return "
                             "the bytes received before it") from None
    assert got == b"".join(words), (
        f"after a reset, receive returned {got[:80]!r} ({len(got)} bytes) instead of the {len(b''.join(words))} "
        "bytes that came before it")


@pytest.mark.points(3)
@pytest.mark.timeout(150)
def test_receive_reads_in_chunks(keepalive, process):
    """receive reads in sensible chunks: 2 MiB (8 connections of 256 KiB) cost at most 200 times the CPU time of a
    plain reader."""
    piece = bytes(range(256)) * (PAYLOAD // CONNECTIONS // 256)
    plain = statistics.median(sum(cpu_of_plain_reading(piece) for _ in range(CONNECTIONS)) for _ in range(3))
    spent = process.cpu_time()
    for number in range(CONNECTIONS):
        got, _ = receive_from_a_client_of_ours(keepalive, process, [piece], limit=120 / CONNECTIONS)
        assert got == piece, (f"receive returned {len(got):,} bytes of the {len(piece):,} sent over connection "
                              f"{number + 1} of {CONNECTIONS}")
    spent = process.cpu_time() - spent
    assert spent <= SLOWER_ALLOWED * plain, (
        f"receive spent {spent:.3f} s of CPU time on 2 MiB ({CONNECTIONS} connections of 256 KiB), "
        f"{spent / plain:.0f} times a plain reader of 64 KiB chunks ({plain * 1000:.1f} ms, measured just before): "
        "read in chunks of kilobytes, not a byte at a time")
