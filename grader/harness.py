"""Real memcached servers for tests: a pytest plugin for the course.

Where the servers come from, first match wins:

1. `--memcached-servers host:port,host:port` on the command line;
2. the `MEMCACHED_SERVERS` environment variable (GitHub Actions service
   containers, or servers you already run);
3. throwaway `memcached` processes started from `PATH` on free loopback ports
   (`memcached_count` in the ini file says how many, 3 by default), stopped when
   the test session ends.

With none of these, the session stops with one line that says how to install
memcached.

Fixtures:

- `memcached_servers`: every server of the session, as `MemcachedServer` objects;
- `mc`: a pymemcache `Client` for the first server, emptied before the test;
- `memcached_server`: a factory for a private server process that the test may
  `stop()`, `kill()` and `start()` again (fault injection). Without a local
  `memcached` binary, tests that use it are reported as not run.

Every client made here uses `no_delay=True`: pymemcache's default leaves Nagle's
algorithm on, and every small request then waits for the previous one's ACK
(about 40 ms a miss on Linux).

This file is self-contained (pytest, pymemcache, mirakuru and the standard
library), so that it can ship with the student template as it is.
"""
from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.parse
import weakref
from typing import Iterator

import pytest
from mirakuru import TCPExecutor
from mirakuru.base import ENV_UUID
from mirakuru.exceptions import ExecutorError
from pymemcache.client.base import Client, PooledClient
from pymemcache.client.hash import HashClient

SERVERS_ENV = "MEMCACHED_SERVERS"
INSTALL_HINT = (
    "memcached is not installed: install it with 'sudo apt-get install memcached' "
    "(Debian/Ubuntu) or 'brew install memcached' (macOS), "
    f"or point {SERVERS_ENV}=host:port,... at running servers"
)
CLIENT_DEFAULTS = {"no_delay": True, "connect_timeout": 2.0, "timeout": 2.0}


# Every memcached this process started and has not killed yet: see `launch`.
_launched: weakref.WeakSet[TCPExecutor] = weakref.WeakSet()


@atexit.register
def _kill_launched() -> None:
    """Our servers die with the process that started them (a restarted lab kernel included)."""
    for executor in list(_launched):
        executor.kill()


class MemcachedUnavailable(RuntimeError):
    """No memcached could be had: the machine's problem, never the student's."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def parse_servers(spec: str) -> list[tuple[str, int]]:
    """'a:11211,b:11212' -> [('a', 11211), ('b', 11212)]."""
    out = []
    for part in spec.split(","):
        part = part.strip()
        if part:
            host, _, port = part.rpartition(":")
            out.append((host or "127.0.0.1", int(port)))
    return out


class MemcachedServer:
    """One memcached server: a local process of ours, or one we were given."""

    def __init__(self, host: str, port: int, executor: TCPExecutor | None = None):
        self.host = host
        self.port = port
        self._executor = executor

    def __repr__(self) -> str:
        kind = "process" if self.managed else "given"
        return f"<MemcachedServer {self.name} ({kind})>"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def managed(self) -> bool:
        return self._executor is not None

    @property
    def pid(self) -> int | None:
        """The process's id while it runs; None for a server we were given."""
        process = self._executor.process if self._executor else None
        return process.pid if process else None

    # -- the process ------------------------------------------------------

    @classmethod
    def launch(cls, host: str = "127.0.0.1", memory_mb: int = 64, attempts: int = 5) -> MemcachedServer:
        """Start a throwaway memcached on a free port and wait until it accepts connections."""
        binary = shutil.which("memcached")
        if binary is None:
            raise MemcachedUnavailable(INSTALL_HINT)
        last: Exception | None = None
        for _ in range(attempts):  # a free port can be taken between asking and binding
            port = free_port(host)
            # mirakuru marks what it starts with ENV_UUID="<our pid>:<uuid>", and every process that
            # imported mirakuru kills, as it exits, each process whose mark merely contains its own pid
            # (a substring test, machine-wide). Once pids wrap, some unrelated test process's pid
            # (say 2407 in "12407:...") matches and our server vanishes mid-run. env(1) drops the mark
            # before memcached starts; _kill_launched does what mirakuru's exit hook did for us.
            command = ["/usr/bin/env", "-u", ENV_UUID,
                       binary, "-l", host, "-p", str(port), "-U", "0", "-m", str(memory_mb), "-t", "1"]
            if os.geteuid() == 0:
                command += ["-u", pwd.getpwuid(0).pw_name]  # memcached refuses root without -u
            executor = TCPExecutor(command, host=host, port=port, timeout=10, sleep=0.01,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                executor.start()
            except ExecutorError as exc:
                last = exc
                continue
            _launched.add(executor)
            return cls(host, port, executor)
        raise MemcachedUnavailable(f"memcached would not start on {host}: {last}")

    def _own(self) -> TCPExecutor:
        if self._executor is None:
            raise RuntimeError(f"{self.name} was given to the tests, not started by them: it cannot be stopped")
        return self._executor

    def start(self) -> None:
        """Start the process again, on the same port, empty."""
        executor = self._own()
        if not executor.running():
            executor.start()

    def stop(self) -> None:
        """Stop the process cleanly (SIGTERM); its clients see the connection close."""
        executor = self._own()
        if executor.running():
            executor.stop()

    def kill(self) -> None:
        """Kill the process outright (SIGKILL), as a crashed server would vanish."""
        executor = self._own()
        if executor.running():
            executor.kill()

    @property
    def running(self) -> bool:
        return self._executor.running() if self._executor else self.ping()

    # -- talking to it ----------------------------------------------------

    def client(self, kind: str = "base", **kwargs) -> Client | PooledClient:
        """A pymemcache client for this server (`kind` is 'base' or 'pooled'), no serializer."""
        options = {**CLIENT_DEFAULTS, **kwargs}
        cls = {"base": Client, "pooled": PooledClient}[kind]
        return cls(self.address, **options)

    def command(self, line: str, until: tuple[bytes, ...] = (b"\r\n",)) -> bytes:
        """Send one raw text-protocol command; read until the reply ends with one of `until`, or is an
        error (a server whose settings someone changed answers CLIENT_ERROR where it would list)."""
        errors = (b"ERROR\r\n",)
        with socket.create_connection(self.address, timeout=5) as s:
            s.sendall(line.encode() + b"\r\n")
            reply = b""
            while not reply.endswith(until) and not (reply.startswith((b"CLIENT_ERROR", b"SERVER_ERROR"))
                                                     and reply.endswith(b"\r\n")) and not reply.endswith(errors):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
            return reply

    def ping(self) -> bool:
        try:
            return self.command("version").startswith(b"VERSION")
        except OSError:
            return False

    def flush(self) -> None:
        self.command("flush_all")

    def stats(self) -> dict[str, str]:
        reply = self.command("stats", until=(b"END\r\n",))
        return {parts[1]: parts[2] for line in reply.decode().splitlines()
                if len(parts := line.split(" ", 2)) == 3 and parts[0] == "STAT"}

    def ttl(self, key: str) -> int | None:
        """Seconds left before `key` expires: -1 for never, None when it is not stored."""
        reply = self.command(f"mg {key} t").decode().split()
        if not reply or reply[0] != "HD":
            return None
        return next(int(flag[1:]) for flag in reply[1:] if flag.startswith("t"))

    def keys(self) -> dict[str, int]:
        """Every stored key with its expiry (a Unix time, or -1 for never)."""
        for _ in range(50):  # the LRU crawler answers BUSY while it is still at work
            reply = self.command("lru_crawler metadump all", until=(b"END\r\n", b"BUSY\r\n", b"ERROR\r\n"))
            if not reply.startswith((b"BUSY", b"ERROR")):
                break
            time.sleep(0.05)
        found = {}
        for line in reply.decode().splitlines():
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            if "key" in fields:
                found[urllib.parse.unquote(fields["key"])] = int(fields.get("exp", "-1"))
        return found


def hash_client(servers: list[MemcachedServer], **kwargs) -> HashClient:
    """A pymemcache HashClient over `servers` (no serializer, no_delay)."""
    options = {**CLIENT_DEFAULTS, **kwargs}
    return HashClient([s.address for s in servers], **options)


def given_servers(spec: str | None = None) -> list[MemcachedServer]:
    """The servers named by `spec` or MEMCACHED_SERVERS, checked to answer; [] when none are named."""
    spec = spec if spec is not None else os.environ.get(SERVERS_ENV, "")
    servers = [MemcachedServer(host, port) for host, port in parse_servers(spec)]
    for server in servers:
        if not server.ping():
            raise MemcachedUnavailable(f"{SERVERS_ENV} names {server.name}, which does not answer")
    return servers


def launch_servers(count: int) -> list[MemcachedServer]:
    servers: list[MemcachedServer] = []
    try:
        for _ in range(count):
            servers.append(MemcachedServer.launch())
    except BaseException:
        stop_all(servers)
        raise
    return servers


def stop_all(servers: list[MemcachedServer]) -> None:
    """Throwaway servers are killed: nothing in them is worth memcached's second-long clean stop."""
    for server in servers:
        if server.managed:
            server.kill()


# -- the pytest plugin ------------------------------------------------------


def pytest_addoption(parser):
    group = parser.getgroup("memcached", "real memcached servers for the tests")
    group.addoption("--memcached-servers", help=f"host:port,... of running servers (else ${SERVERS_ENV}, "
                                                "else throwaway local processes)")
    parser.addini("memcached_count", "how many throwaway memcached processes to start", default="3")


@pytest.fixture(scope="session")
def memcached_servers(pytestconfig) -> Iterator[list[MemcachedServer]]:
    """Every memcached server of this test session."""
    try:
        servers = given_servers(pytestconfig.getoption("memcached_servers"))
        owned = not servers
        if owned:
            servers = launch_servers(int(pytestconfig.getini("memcached_count")))
    except MemcachedUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
    yield servers
    if owned:
        stop_all(servers)


def emptied(servers: list[MemcachedServer]) -> Client:
    """A client for the first server, after emptying every server."""
    for server in servers:
        server.flush()
    return servers[0].client()


@pytest.fixture
def mc(memcached_servers) -> Iterator[Client]:
    """A client for the first server; every server is emptied first, so tests start clean."""
    client = emptied(memcached_servers)
    yield client
    client.close()


@pytest.fixture
def memcached_server():
    """Start private memcached processes that the test may stop, kill and restart."""
    started: list[MemcachedServer] = []

    def launch(**kwargs) -> MemcachedServer:
        try:
            server = MemcachedServer.launch(**kwargs)
        except MemcachedUnavailable as exc:
            pytest.skip(f"not run: this machine cannot start a memcached process ({exc})")
        started.append(server)
        return server

    yield launch
    stop_all(started)
