"""The judge's own view of memcached for 01-cache-aside: the answers of expensive_square, memcached's counters,
and a relay in front of the server that sees every command on the judge's clock.

What the student process reports (printed times, returned timings) may explain a failure; a test passes on
what these show:

- `JudgesSquares`: the judge's expensive_square, answering each call in the student process at the moment
  it is made (an asking stand-in), with `secret_square(n)`, after a hold of the judge's choosing: every call
  is heard here, and the answer exists nowhere before it;
- `secret_square(n)`: n * n plus an offset keyed by a secret drawn for this grading (0 for 0): a result, or
  a value stored in memcached, that did not come through a call of the judge's expensive_square is wrong;
- `Counters`: memcached's own `stats` (cmd_get, cmd_touch, get_hits, get_misses, cmd_set), read over the
  judge's own connections before and after a call: a hit, a miss and a store, as the server counted them;
  `read_since_stored`: which entries memcached says were read after they were stored;
- `Tap`: a TCP relay of the judge's between the student's client and the server, which parses what the
  client sends as memcached does, notes every key looked up or stored, in order, with the time it arrived
  on the judge's clock, and passes on only the commands it noted (`tapped_problems` checks memcached's
  counters against that log, so nothing reaches the server by another path unseen).
"""
from __future__ import annotations

import hashlib
import os
import re
import selectors
import socket
import threading
import time

from grader.harness import MemcachedServer

SECRET = os.urandom(16)  # drawn once per grading: the offsets of secret_square are nowhere in any file


def secret_square(n: int) -> int:
    """What the judge's expensive_square answers for n: n * n plus an offset only the judge knows (0 for 0)."""
    if n == 0:
        return 0
    digest = hashlib.blake2b(b"%d" % n, key=SECRET, digest_size=4).digest()
    return n * n + 1 + int.from_bytes(digest, "big")


class JudgesSquares(list):
    """The judge's expensive_square, and every n it was asked for, in order, as the judge heard the calls.

    `answer` gives `secret_square(n)`; the first call for an n in `holds` is answered only after that many
    seconds (time.sleep, in the judge's answering thread: the student's call waits for it). `answered`
    holds (n, when the call reached the judge, when its answer left, the hold imposed) on the judge's clock.
    """

    def __init__(self):
        super().__init__()
        self.holds: dict[int, float] = {}
        self.answered: list[tuple[int, float, float, float]] = []

    def answer(self, args: tuple) -> int:
        if len(args) != 1 or type(args[0]) is not int:
            raise TypeError(f"expensive_square takes one int, not {args!r:.100}")
        n, asked = args[0], time.monotonic()
        hold = self.holds.pop(n, 0.0)
        if hold:
            time.sleep(hold)
        self.append(n)
        self.answered.append((n, asked, time.monotonic(), hold))
        return secret_square(n)


def barrier(process, client) -> None:
    """Ask the student process's client itself for memcached's `version`, on its own connection: once that
    answers, memcached (and a relay of the judge's on the way) has taken every command the client sent
    before it. A store made with `noreply` may otherwise still be on its way when the judge looks."""
    process.handle(client).version()


class Counters:
    """memcached's own counts over a stretch of a test: `since()` gives each one's growth from the start."""

    NAMES = ("cmd_get", "cmd_touch", "get_hits", "get_misses", "cmd_set")

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


PRINTABLE = re.compile(rb"[\x20-\x7e]*")  # a command line the relay reads: printable ASCII and spaces
KEY = re.compile(rb"[\x21-\x7e]{1,250}")  # a key memcached takes: no space or control character, 250 at most
NUMBER = {"u32": (re.compile(rb"[0-9]{1,10}"), 0, 2**32 - 1), "i32": (re.compile(rb"-?[0-9]{1,10}"), -2**31, 2**31 - 1),
          "u64": (re.compile(rb"[0-9]{1,20}"), 0, 2**64 - 1)}
LOOKUPS = {b"get": (), b"gets": (), b"gat": ("i32",), b"gats": ("i32",)}  # the numbers before the keys
STORES = {b"set": ("u32", "i32", "u32"), b"add": ("u32", "i32", "u32"), b"replace": ("u32", "i32", "u32"),
          b"append": ("u32", "i32", "u32"), b"prepend": ("u32", "i32", "u32"),
          b"cas": ("u32", "i32", "u32", "u64")}  # after the key: flags, exptime, bytes (and cas's unique)
VALUE_LIMIT = 1 << 20  # memcached's largest item: a larger store is refused and its data skipped
LINE_LIMIT = 4 << 20  # a line longer than this without its end: the relay hangs up, as memcached would
REFUSED = b"refused\r\n"  # a word memcached does not know: it answers ERROR where the refused command stood


class Hangup(Exception):
    """The client asked to quit, or sent a line no command can be: the relay closes the connection."""


def _number(token: bytes, kind: str) -> bool:
    pattern, least, most = NUMBER[kind]
    return bool(pattern.fullmatch(token)) and least <= int(token) <= most


class Tap:
    """A relay of the judge's in front of one memcached server. Clients connect to `address`.

    It reads what a client sends as memcached does (a command ends at b"\n", with or without b"\r" before
    it; words are separated by spaces; verbs are case-sensitive) and passes on only what it noted, written
    out anew: a lookup (get, gets, gat, gats), whose keys go to `lookups`; a store (set, add, replace,
    append, prepend, cas) with its data block, whose key goes to `stores`; and `version` (the barrier), which
    touches no entry. Every other command (stats, which would tell memcached's own port, delete, meta
    commands, upper case, anything malformed) is refused: none of its bytes reach memcached, which is sent a
    word it does not know in its place, so that the client gets ERROR in order. `lookups` and `stores` are
    lists of (seconds on the judge's clock when the command's bytes reached the relay, key)."""

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
        state = {"buffer": b"", "pending": None}
        self._selector.register(client, selectors.EVENT_READ, (upstream, state))
        self._selector.register(upstream, selectors.EVENT_READ, (client, None))

    def _relay(self, source: socket.socket, target: socket.socket, state: dict | None) -> None:
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        try:
            if not data:
                raise Hangup
            if state is not None:  # from the client: only what the relay noted goes on
                data = self._take(data, state, time.monotonic())
            if data:
                target.sendall(data)
            if state is not None and state.get("hangup"):
                raise Hangup
        except (Hangup, OSError):
            for sock in source, target:
                self._selector.unregister(sock)
                sock.close()

    def _take(self, data: bytes, state: dict, arrived: float) -> bytes:
        """What goes on to memcached of the commands in what the client sent (complete ones only)."""
        buffer, out = state["buffer"] + data, []
        while True:
            if state["pending"]:
                header, key, length = state["pending"]
                if len(buffer) < length + 2:
                    break
                block, buffer, state["pending"] = buffer[:length + 2], buffer[length + 2:], None
                if header and block.endswith(b"\r\n"):
                    self.stores.append((arrived, key))
                    out.append(header + block)
                else:
                    out.append(REFUSED)
                continue
            line, found, rest = buffer.partition(b"\n")
            if not found:
                state["hangup"] = len(buffer) > LINE_LIMIT
                break
            buffer = rest
            try:
                out.append(self._command(line[:-1] if line.endswith(b"\r") else line, state, arrived))
            except Hangup:
                state["hangup"] = True
                break
        state["buffer"] = buffer
        return b"".join(out)

    def _command(self, line: bytes, state: dict, arrived: float) -> bytes:
        """One command line: what to send memcached for it (b"" while a store waits for its data)."""
        words = line.split() if PRINTABLE.fullmatch(line) else []
        verb, rest = (words[0], words[1:]) if words else (b"", [])
        if verb in LOOKUPS:
            numbers, keys = rest[:len(LOOKUPS[verb])], rest[len(LOOKUPS[verb]):]
            if keys and all(map(_number, numbers, LOOKUPS[verb])) and all(KEY.fullmatch(key) for key in keys):
                self.lookups += [(arrived, key.decode("ascii")) for key in keys]
                return b" ".join(words) + b"\r\n"
        elif verb in STORES:
            kinds = STORES[verb]
            noreply = len(rest) == len(kinds) + 2 and rest[-1] == b"noreply"
            if len(rest) == len(kinds) + 1 + noreply and KEY.fullmatch(rest[0]) \
                    and all(map(_number, rest[1:], kinds)):
                length = int(rest[3])
                fits = length <= VALUE_LIMIT
                state["pending"] = (b" ".join(words) + b"\r\n" if fits else b"", rest[0].decode("ascii"), length)
                return b""
        elif words == [b"version"]:
            return b"version\r\n"
        elif words == [b"quit"]:
            raise Hangup
        return REFUSED

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def tapped_problems(tap: Tap, counted: dict[str, int], lookups: int, stores: int) -> list[str]:
    """memcached's own counts over a stretch against what the judge's relay passed on over it (`lookups` and
    `stores`: the lengths of the relay's lists when the stretch began): any lookup or store that reached the
    server by another path, or that the server took differently from the relay, shows here."""
    relayed = len(tap.lookups) - lookups, len(tap.stores) - stores
    served = counted["cmd_get"] + counted["cmd_touch"], counted["cmd_set"]
    if relayed == served:
        return []
    return [f"memcached counted {served[0]} lookups and {served[1]} stores, where {relayed[0]} and {relayed[1]} "
            "reached it through the client it was given (the judge's relay): every command goes through `mc`"]


def read_since_stored(server: MemcachedServer, keys: list[str]) -> set[str]:
    """Which of `keys` memcached says were read (a hit) after they were stored: meta get's h flag, asked once
    for each key over the judge's own connection (asking counts as a read for the next time)."""
    replies = b""
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"".join(b"mg %s h\r\n" % key.encode("ascii") for key in keys))
        while replies.count(b"\r\n") < len(keys):
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            replies += chunk
    return {key for key, reply in zip(keys, replies.split(b"\r\n")) if reply.split()[1:2] == [b"h1"]}


def collapsed(keys: list[str]) -> list[tuple[str, int, int]]:
    """Runs of equal neighbours: (key, index of its first, index of its last)."""
    runs: list[tuple[str, int, int]] = []
    for index, key in enumerate(keys):
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1], index)
        else:
            runs.append((key, index, index))
    return runs
