"""Sharding keys over several memcached servers: the book's hashing.py, then a real sharded cache.

Foundations of Python Network Programming, chapter 8 ("Hashing and Sharding"). Read
the handout (README.md) first; the functions below are in the order it builds them.

Run shares.py, beside this file, to repeat the book's experiment with your functions:

    python shares.py              # the table of shares over words.txt, and a bar chart
"""
import hashlib
from collections import Counter
from collections.abc import Sequence

from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheServerError

SERVERS = ("server0", "server1", "server2", "server3")  # the book's four servers

# What a server that is down, restarting or unreachable raises: the connection was
# refused, reset or timed out (OSError), or closed under the client (pymemcache's
# MemcacheUnexpectedCloseError is a MemcacheServerError). MemcacheClientError (a key
# with a space, a value that is not bytes) is a bug in the caller, and is not caught.
SERVER_DOWN = (OSError, MemcacheServerError)


def alpha_shard(word: str) -> str:
    """The book's rule on word[0], compared as a str (no lowercasing).

    < 'g' -> 'server0', < 'n' -> 'server1', < 't' -> 'server2', else 'server3'.
    ValueError for the empty word.
    """
    ### BEGIN SOLUTION
    if not word:
        raise ValueError("alpha_shard needs a word with a first letter, not ''")
    first = word[0]
    if first < "g":
        return "server0"
    if first < "n":
        return "server1"
    if first < "t":
        return "server2"
    return "server3"
    ### END SOLUTION


def hash_shard(word: str) -> str:
    """'server%d' % (hash(word) % 4): even, but only within one process."""
    ### BEGIN SOLUTION
    return "server%d" % (hash(word) % 4)
    ### END SOLUTION


def md5_shard(word: str) -> str:
    """'server%d' % (the last byte of the MD5 digest of word's UTF-8 bytes % 4)."""
    ### BEGIN SOLUTION
    digest = hashlib.md5(word.encode("utf-8")).digest()
    return "server%d" % (digest[-1] % 4)
    ### END SOLUTION


def distribution(words, shard) -> dict[str, float]:
    """The fraction (0..1) of `words` that `shard` sends to each of 'server0'..'server3'.

    `words` is any iterable (a generator too: go through it once). All four servers
    are keys of the result, even those that receive nothing; the values sum to 1.
    The words are passed to `shard` as they are. ValueError if `words` is empty.
    """
    ### BEGIN SOLUTION
    counts = Counter(shard(word) for word in words)
    total = counts.total()
    if total == 0:
        raise ValueError("distribution of no words: give it at least one")
    return {server: counts[server] / total for server in sorted(set(SERVERS) | set(counts))}
    ### END SOLUTION


def pick_server(key: str, servers: Sequence[str]) -> str:
    """The one of `servers` (distinct names such as '10.0.0.1:11211') that holds `key`.

    Stable (the same answer in every process, whatever PYTHONHASHSEED), order-free
    (the order of `servers` does not matter), even (each of n servers gets between
    0.8/n and 1.2/n of the keys), and minimal in movement (adding an (n+1)-th server
    moves at most 1/(n+1) + 0.05 of the keys, all to the new server; removing one
    moves only its own keys). ValueError for an empty `servers`.
    """
    ### BEGIN SOLUTION
    # Rendezvous (highest random weight) hashing: every server draws a pseudo-random
    # weight for the key from a digest of the pair, and the heaviest wins. A server
    # that joins wins exactly the keys for which it outweighs all the others; one
    # that leaves gives up only the keys it had won.
    if not servers:
        raise ValueError("pick_server needs at least one server")

    def weight(server: str) -> tuple[int, str]:
        digest = hashlib.md5(f"{server}\0{key}".encode("utf-8")).digest()
        return int.from_bytes(digest, "big"), server  # the name breaks (unthinkable) ties

    return max(servers, key=weight)
    ### END SOLUTION


class ShardedCache:
    """A memcached client for several servers: each key lives on exactly one of them.

    The server of a key is server_for(key), chosen by pick_server over the servers'
    names 'host:port'. A server that is down turns operations on its keys into
    misses (get returns None; set and delete do nothing) and nothing else: every
    other server's keys keep working, and nothing is ever written anywhere else.
    """

    def __init__(self, servers: Sequence[tuple[str, int]]):
        """Prepare a client for each (host, port) of `servers`."""
        ### BEGIN SOLUTION
        self._addresses = {f"{host}:{port}": (host, port) for host, port in servers}
        self._clients = {address: Client(address, no_delay=True, connect_timeout=1.0, timeout=1.0)
                         for address in self._addresses.values()}
        ### END SOLUTION

    def server_for(self, key: str) -> tuple[str, int]:
        """The (host, port) that holds `key`: pick_server over the names 'host:port'."""
        ### BEGIN SOLUTION
        return self._addresses[pick_server(key, list(self._addresses))]
        ### END SOLUTION

    def set(self, key: str, value: bytes, ttl: int = 0) -> None:
        """Store `value` under `key` on its server, and nowhere else, with expire=ttl."""
        ### BEGIN SOLUTION
        try:
            self._clients[self.server_for(key)].set(key, value, expire=ttl, noreply=False)
        except SERVER_DOWN:
            pass
        ### END SOLUTION

    def get(self, key: str) -> bytes | None:
        """The bytes stored under `key` on its server; None for a miss or a server that is down."""
        ### BEGIN SOLUTION
        try:
            return self._clients[self.server_for(key)].get(key)
        except SERVER_DOWN:
            return None
        ### END SOLUTION

    def delete(self, key: str) -> None:
        """Remove `key` from its server; a server that is down is not an error."""
        ### BEGIN SOLUTION
        try:
            self._clients[self.server_for(key)].delete(key, noreply=False)
        except SERVER_DOWN:
            pass
        ### END SOLUTION

    def close(self) -> None:
        """Close every connection this cache opened."""
        ### BEGIN SOLUTION
        for client in self._clients.values():
            client.close()
        ### END SOLUTION
