"""Cache-aside with memcached: the book's squares.py, ported to pymemcache.

Foundations of Python Network Programming, chapter 8 ("Using Memcached"). Read the
handout (README.md) first; the functions below are in the order it builds them.

Run it as a script to repeat the book's experiment against a real server:

    python squares.py                  # memcached on 127.0.0.1:11211
    MEMCACHED_SERVERS=10.0.0.5:11211 python squares.py
"""
import hashlib
import os
import pickle
import random
import time
from functools import wraps

from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheError

DELAY: float = 0.001  # seconds; the tests may change it


def expensive_square(n: int) -> int:
    """Given (not your work): a computation too slow to repeat, played by a sleep."""
    time.sleep(DELAY)
    return n * n


def square_key(n: int) -> str:
    """The cache key of n's square: square_key(7) == 'sq:7', square_key(-3) == 'sq:-3'."""
    ### BEGIN SOLUTION
    return "sq:%d" % n
    ### END SOLUTION


def fetch_square(mc, n: int, ttl: int = 0) -> int:
    """Return n * n, from memcached when it has it (cache-aside).

    - Read square_key(n) from `mc`. A hit is returned as an int (b'0' is a hit too).
    - On a miss, call expensive_square(n) once, store the result under the key as
      decimal ASCII text (b'49' for 7) with expire=ttl, and return it.
    - The cache is an optimisation, never a dependency: if a memcached call fails
      (pymemcache's MemcacheError, or OSError when the server is unreachable),
      still return the right value, without raising.
    """
    ### BEGIN SOLUTION
    key = square_key(n)
    try:
        cached = mc.get(key)
    except (MemcacheError, OSError):
        cached = None
    if cached is not None:
        try:
            return int(cached)
        except ValueError:
            pass  # not ours: compute it, and overwrite it below
    value = expensive_square(n)
    try:
        mc.set(key, b"%d" % value, expire=ttl)
    except (MemcacheError, OSError):
        pass
    return value
    ### END SOLUTION


def run_experiment(mc, runs: int = 10, requests: int = 2000,
                   keyspace: int = 5001, seed: int = 0) -> list[float]:
    """The book's experiment: `runs` timed runs of `requests` calls of fetch_square.

    One random.Random(seed) draws every n, as rng.randrange(keyspace), in order,
    across all the runs. Returns each run's wall-clock seconds, and prints them as
    the book does:

        Ten successive runs:
        4.60s 3.13s 2.31s 1.84s 1.47s 1.21s 1.02s 0.88s 0.77s 0.68s
    """
    ### BEGIN SOLUTION
    rng = random.Random(seed)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(requests):
            fetch_square(mc, rng.randrange(keyspace))
        timings.append(time.perf_counter() - start)
    words = "zero one two three four five six seven eight nine ten eleven twelve".split()
    count = words[runs].capitalize() if runs < len(words) else str(runs)
    print(f"{count} successive runs:")
    print(" ".join("%.2fs" % t for t in timings))
    return timings
    ### END SOLUTION


def make_key(prefix: str, *parts) -> str:
    """A memcached-safe key for `prefix` and `parts`.

    Parts are str, int, float, bytes, bool, None, or tuples of these. The key is
    ASCII only, at most 250 bytes, with no whitespace or control characters; the
    same inputs give the same key in every process (so never use hash()), and
    different inputs give different keys: make_key('p', 'a:b') and
    make_key('p', 'a', 'b') must differ, and so must 'x y' and 'x_y'.
    """
    ### BEGIN SOLUTION
    # ascii() of the whole input is unambiguous (it quotes strings, marks bytes,
    # and tells 1, 1.0, True and '1' apart) and the same in every process; a
    # digest of it fits any input into a short key. The readable prefix is only
    # there for people reading `stats` dumps: the digest alone decides.
    digest = hashlib.sha256(ascii((prefix, parts)).encode("ascii")).hexdigest()
    readable = "".join(c if "!" <= c <= "~" else "_" for c in prefix)[:64]
    return f"{readable}:{digest}"
    ### END SOLUTION


def memoize(mc, prefix: str, ttl: int = 0):
    """Decorator factory: @memoize(mc, 'fib') caches a function's results in memcached.

    Keys come from make_key(prefix, *args); results of any picklable type are
    stored pickled with expire=ttl. A cached None, 0, '' or False is a hit like any
    other. If memcached fails, call the function and return its result, without
    raising.
    """
    ### BEGIN SOLUTION
    def decorate(function):
        @wraps(function)
        def cached_function(*args):
            key = make_key(prefix, *args)
            try:
                cached = mc.get(key)
            except (MemcacheError, OSError):
                cached = None
            if cached is not None:
                return pickle.loads(cached)
            result = function(*args)
            try:
                mc.set(key, pickle.dumps(result), expire=ttl)
            except (MemcacheError, OSError):
                pass
            return result
        return cached_function
    return decorate
    ### END SOLUTION


def main():
    """Given: run the book's experiment against one memcached server."""
    address = os.environ.get("MEMCACHED_SERVERS", "127.0.0.1:11211").split(",")[0]
    host, _, port = address.rpartition(":")
    run_experiment(Client((host, int(port)), no_delay=True))


if __name__ == "__main__":
    main()
