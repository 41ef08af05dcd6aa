"""04-keepalive: `python keepalive.py server [PORT]` and `python keepalive.py client HOST PORT`.

Each runs as a program in a student process (as the student, in its box, with its
limits), its standard streams pipes of the judge's.
"""
from __future__ import annotations

import threading
import time

import pytest
from peers import POLL, WAIT, OneConnection, connect_when_listening

from grader.harness import free_port


class Output:
    """What a stream says (its first KEPT bytes), read in a thread so that waiting for it is bounded."""

    KEPT = 1 << 20

    def __init__(self, stream):
        self.text = b""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        try:
            while chunk := stream.read1(65536):
                if len(self.text) < self.KEPT:  # a script printing without end costs the judge nothing
                    self.text += chunk[:self.KEPT - len(self.text)]
        except (OSError, ValueError):  # closed under us when the script is ended
            pass

    def wait_for(self, *needles: bytes, script=None, limit: float = WAIT) -> bool:
        """Whether every needle came within `limit` seconds (or before `script` ended)."""
        deadline = time.monotonic() + limit
        while not all(n in self.text for n in needles) and time.monotonic() < deadline:
            if script is not None and script.wait(0):
                self._thread.join(1)
                break
            time.sleep(POLL)
        return all(n in self.text for n in needles)

    def tail(self, limit: float = 1.0) -> str:
        self._thread.join(limit)
        return self.text.decode(errors="replace").strip()[-500:]


def not_written_yet(command: str, errors: Output) -> None:
    """A script whose main() is the skeleton's stub fails at once, and says so."""
    errors.tail()
    if b"NotImplementedError" in errors.text:
        pytest.fail(f"not written yet: main (`{command}` raised NotImplementedError: replace the "
                    "`raise NotImplementedError()` with your code)", pytrace=False)


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_server_mode_prints_what_it_receives(script):
    """`python keepalive.py server PORT` listens on PORT and prints what a client sends it."""
    port = free_port()
    command = f"python keepalive.py server {port}"
    server = script("server", str(port))
    output, errors = Output(server.stdout), Output(server.stderr)
    try:
        client = connect_when_listening(("127.0.0.1", port), server)
    except AssertionError as exc:
        not_written_yet(command, errors)
        pytest.fail(f"`{command}`: {exc}\n{errors.tail()}", pytrace=False)
    with client:
        client.sendall(b"hello from the test\nstill here\n")
    if not output.wait_for(b"hello from the test", b"still here", script=server):
        pytest.fail(f"`{command}` received two lines from a client, but printed only "
                    f"{output.text[:300]!r}\n{errors.tail()}", pytrace=False)


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_client_mode_sends_the_lines_typed(script):
    """`python keepalive.py client HOST PORT` sends each line of standard input (UTF-8, '\\n' after each), then ends."""
    typed = "first line\nzweite Zeile: \u00fc\nthe end\n"
    with OneConnection() as server:
        host, port = server.address[:2]
        command = f"python keepalive.py client {host} {port}"
        client = script("client", host, str(port))
        errors = Output(client.stderr)
        try:
            client.stdin.write(typed.encode("utf-8"))
            client.stdin.close()
        except OSError:
            pass  # it ended without reading: what it said comes below
        if not client.wait(WAIT):
            pytest.fail(f"`{command}` did not end {WAIT:.0f} s after its standard input was closed", pytrace=False)
        not_written_yet(command, errors)
        try:
            received = server.received(limit=WAIT / 2)  # the client has ended: its connection is made, or never
        except AssertionError as exc:
            pytest.fail(f"`{command}`: {exc}\n{errors.tail()}", pytrace=False)
    assert received == typed.encode("utf-8"), f"`{command}` with {typed!r} typed on standard input sent {received!r}"
