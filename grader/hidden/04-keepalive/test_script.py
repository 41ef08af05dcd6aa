"""04-keepalive: `python keepalive.py server [PORT]` and `python keepalive.py client HOST PORT`."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.harness import free_port
from peers import WAIT, OneConnection, connect_when_listening


@pytest.fixture
def script(student_dir):
    """script(*args, stdin=...) -> the student's keepalive.py running as a program, unbuffered; killed afterwards."""
    started = []

    def start(*args: str) -> subprocess.Popen:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
        process = subprocess.Popen([sys.executable, str(Path(student_dir) / "keepalive.py"), *args], env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


class Output:
    """Everything a stream says, read in a thread so that waiting for it is bounded."""

    def __init__(self, stream):
        self.text = b""
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        while chunk := stream.read1(65536):
            self.text += chunk

    def wait_for(self, *needles: bytes, limit: float = WAIT) -> bool:
        deadline = time.monotonic() + limit
        while not all(n in self.text for n in needles) and time.monotonic() < deadline:
            time.sleep(0.05)
        return all(n in self.text for n in needles)


def stderr_of(process: subprocess.Popen) -> str:
    process.kill()
    return process.stderr.read().decode(errors="replace").strip()[-500:]


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_server_mode_prints_what_it_receives(keepalive, script):
    """`python keepalive.py server PORT` listens on PORT and prints what a client sends it."""
    port = free_port()
    server = script("server", str(port))
    output = Output(server.stdout)
    try:
        client = connect_when_listening(("127.0.0.1", port), server)
    except AssertionError as exc:
        pytest.fail(f"`python keepalive.py server {port}`: {exc}\n{stderr_of(server)}", pytrace=False)
    with client:
        client.sendall(b"hello from the test\nstill here\n")
    if not output.wait_for(b"hello from the test", b"still here"):
        pytest.fail(f"`python keepalive.py server {port}` received two lines from a client, but printed only "
                    f"{output.text[:300]!r}\n{stderr_of(server)}", pytrace=False)


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_client_mode_sends_the_lines_typed(keepalive, script):
    """`python keepalive.py client HOST PORT` sends each line of standard input (UTF-8, '\\n' after each), then ends."""
    typed = "first line\nzweite Zeile: \u00fc\nthe end\n"
    with OneConnection() as server:
        host, port = server.address[:2]
        client = script("client", host, str(port))
        try:
            _, errors = client.communicate(typed.encode("utf-8"), timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`python keepalive.py client {host} {port}` did not end {WAIT:.0f} s after its standard "
                        "input was closed", pytrace=False)
        try:
            received = server.received(limit=WAIT / 2)  # the client has ended: its connection is made, or never
        except AssertionError as exc:
            pytest.fail(f"`python keepalive.py client {host} {port}`: {exc}\n"
                        f"{errors.decode(errors='replace').strip()[-500:]}", pytrace=False)
    assert received == typed.encode("utf-8"), (
        f"`python keepalive.py client {host} {port}` with {typed!r} typed on standard input sent {received!r}")
