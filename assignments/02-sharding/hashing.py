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
    raise NotImplementedError()


def hash_shard(word: str) -> str:
    """'server%d' % (hash(word) % 4): even, but only within one process."""
    raise NotImplementedError()


def md5_shard(word: str) -> str:
    """'server%d' % (the last byte of the MD5 digest of word's UTF-8 bytes % 4)."""
    raise NotImplementedError()


def distribution(words, shard) -> dict[str, float]:
    """The fraction (0..1) of `words` that `shard` sends to each of 'server0'..'server3'.

    `words` is any iterable (a generator too: go through it once). All four servers
    are keys of the result, even those that receive nothing; the values sum to 1.
    The words are passed to `shard` as they are. ValueError if `words` is empty.
    """
    raise NotImplementedError()


def pick_server(key: str, servers: Sequence[str]) -> str:
    """The one of `servers` (distinct names such as '10.0.0.1:11211') that holds `key`.

    Stable (the same answer in every process, whatever PYTHONHASHSEED), order-free
    (the order of `servers` does not matter), even (each of n servers gets between
    0.8/n and 1.2/n of the keys), and minimal in movement (adding an (n+1)-th server
    moves at most 1/(n+1) + 0.05 of the keys, all to the new server; removing one
    moves only its own keys). ValueError for an empty `servers`.
    """
    raise NotImplementedError()


class ShardedCache:
    """A memcached client for several servers: each key lives on exactly one of them.

    The server of a key is server_for(key), chosen by pick_server over the servers'
    names 'host:port'. A server that is down turns operations on its keys into
    misses (get returns None; set and delete do nothing) and nothing else: every
    other server's keys keep working, and nothing is ever written anywhere else.
    """

    def __init__(self, servers: Sequence[tuple[str, int]]):
        """Prepare a client for each (host, port) of `servers`."""
        raise NotImplementedError()

    def server_for(self, key: str) -> tuple[str, int]:
        """The (host, port) that holds `key`: pick_server over the names 'host:port'."""
        raise NotImplementedError()

    def set(self, key: str, value: bytes, ttl: int = 0) -> None:
        """Store `value` under `key` on its server, and nowhere else, with expire=ttl."""
        raise NotImplementedError()

    def get(self, key: str) -> bytes | None:
        """The bytes stored under `key` on its server; None for a miss or a server that is down."""
        raise NotImplementedError()

    def delete(self, key: str) -> None:
        """Remove `key` from its server; a server that is down is not an error."""
        raise NotImplementedError()

    def close(self) -> None:
        """Close every connection this cache opened."""
        raise NotImplementedError()
