"""The judge's own view of memcached for 01-cache-aside: values only it knows, memcached's counters, and a
relay in front of the server that sees every command on the judge's clock.

What the student process reports (stand-in calls, printed times, returned timings) may explain a failure;
a test passes on what these show:

- `secret_square(n)`: what the stand-in expensive_square returns for n, never n * n (but for 0): a result,
  or a value stored in memcached, that did not come from the stand-in is wrong;
- `Counters`: memcached's own `stats` (get_hits, get_misses, cmd_get, cmd_set), read over the judge's own
  connections before and after a call: a hit, a miss and a store, as the server counted them;
- `Tap`: a TCP relay of the judge's between the student's client and the server, which notes every key
  looked up or stored, in order, with the time it arrived on the judge's clock.
"""
from __future__ import annotations

import hashlib
import selectors
import socket
import threading
import time

from grader.harness import MemcachedServer

LOOKUPS = {b"get": 1, b"gets": 1, b"gat": 2, b"gats": 2, b"mg": 1}  # retrieval commands: where their keys start
STORES = {b"set": 4, b"add": 4, b"replace": 4, b"append": 4, b"prepend": 4, b"cas": 4}  # where the length is


def secret_square(n: int) -> int:
    """What the judge's expensive_square answers for n: n * n plus an offset only the judge knows (0 for 0)."""
    if n == 0:
        return 0
    digest = hashlib.blake2b(b"%d" % n, key=b"squares-cache-aside", digest_size=4).digest()
    return n * n + 1 + int.from_bytes(digest, "big")


def secret_table(numbers) -> dict[int, int]:
    return {n: secret_square(n) for n in numbers}


def barrier(process, client) -> None:
    """Ask the student process's client itself for memcached's `version`, on its own connection: once that
    answers, memcached (and a relay of the judge's on the way) has taken every command the client sent
    before it. A store made with `noreply` may otherwise still be on its way when the judge looks."""
    process.handle(client).version()


class Counters:
    """memcached's own counts over a stretch of a test: `since()` gives each one's growth from the start."""

    NAMES = ("cmd_get", "get_hits", "get_misses", "cmd_set")

    def __init__(self, servers: list[MemcachedServer]):
        self.servers = servers
        self.start = self._read()

    def _read(self) -> dict[str, int]:
        totals = dict.fromkeys(self.NAMES, 0)
        for server in self.servers:
            stats = server.stats()
            for name in self.NAMES:
                totals[name] += int(stats.get(name, 0))
        return totals

    def since(self) -> dict[str, int]:
        now = self._read()
        return {name: now[name] - self.start[name] for name in self.NAMES}


class Tap:
    """A relay of the judge's in front of one memcached server. Clients connect to `address`; every command
    goes on to the server unchanged, and the key of each lookup and store is noted, in order, with the time
    its bytes reached the judge: `lookups` and `stores`, lists of (seconds on the judge's clock, key)."""

    def __init__(self, server: tuple[str, int]):
        self.server = server
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()
        self.lookups: list[tuple[float, str]] = []
        self.stores: list[tuple[float, str]] = []
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memcached-tap", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(0.05):
                    if key.data is None:
                        self._accept()
                    else:
                        self._relay(key.fileobj, *key.data)
        finally:
            for key in list(self._selector.get_map().values()):
                key.fileobj.close()
            self._selector.close()

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except BlockingIOError:
            return
        upstream = socket.create_connection(self.server, timeout=5)
        for sock in client, upstream:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(True)
        state = {"buffer": b"", "skip": 0}
        self._selector.register(client, selectors.EVENT_READ, (upstream, state))
        self._selector.register(upstream, selectors.EVENT_READ, (client, None))

    def _relay(self, source: socket.socket, target: socket.socket, state: dict | None) -> None:
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        if not data:
            for sock in source, target:
                self._selector.unregister(sock)
                sock.close()
            return
        if state is not None:
            self._note(data, state, time.monotonic())
        try:
            target.sendall(data)
        except OSError:
            pass

    def _note(self, data: bytes, state: dict, arrived: float) -> None:
        """The commands in what the client sent: a line each, a store's data block skipped."""
        buffer = state["buffer"] + data
        while True:
            if state["skip"]:
                taken = min(state["skip"], len(buffer))
                buffer, state["skip"] = buffer[taken:], state["skip"] - taken
                if state["skip"]:
                    break
            line, found, rest = buffer.partition(b"\r\n")
            if not found:
                break
            buffer = rest
            words = line.split()
            if not words:
                continue
            verb = words[0].lower()
            if verb in LOOKUPS:
                keys = words[1:2] if verb == b"mg" else words[LOOKUPS[verb]:]  # mg: the key, then flags
                self.lookups += [(arrived, key.decode("ascii", "replace")) for key in keys]
            elif verb in STORES and len(words) > STORES[verb]:
                self.stores.append((arrived, words[1].decode("ascii", "replace")))
                state["skip"] = int(words[STORES[verb]]) + 2
            elif verb == b"ms" and len(words) > 2:
                self.stores.append((arrived, words[1].decode("ascii", "replace")))
                state["skip"] = int(words[2]) + 2
        state["buffer"] = buffer

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def collapsed(keys: list[str]) -> list[tuple[str, int, int]]:
    """Runs of equal neighbours: (key, index of its first, index of its last)."""
    runs: list[tuple[str, int, int]] = []
    for index, key in enumerate(keys):
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1], index)
        else:
            runs.append((key, index, index))
    return runs
