"""hashing.py submissions: wrong ones (one realistic mistake each, and the hidden tests that catch it),
and correct alternatives to the reference that the hidden tests must accept in full (RIGHT)."""
from variants import Variant

A = "02-sharding"

PICK_BODY = '''    if not servers:
        raise ValueError("pick_server needs at least one server")

    def weight(server: str) -> tuple[int, str]:
        digest = hashlib.md5(f"{server}\\0{key}".encode("utf-8")).digest()
        return int.from_bytes(digest, "big"), server  # the name breaks (unthinkable) ties

    return max(servers, key=weight)
'''
WEIGHT = '''        digest = hashlib.md5(f"{server}\\0{key}".encode("utf-8")).digest()
        return int.from_bytes(digest, "big"), server  # the name breaks (unthinkable) ties
'''
IMPORTS = "import hashlib\n"
SET_CALL = "            self._clients[self.server_for(key)].set(key, value, expire=ttl, noreply=False)\n"
GET_BODY = '''        try:
            return self._clients[self.server_for(key)].get(key)
        except SERVER_DOWN:
            return None
'''
ALPHA_CHECK = '''    if not word:
        raise ValueError("alpha_shard needs a word with a first letter, not ''")
'''
DISTRIBUTION_CHECK = '''    if total == 0:
        raise ValueError("distribution of no words: give it at least one")
'''
DISTRIBUTION_COUNT = '''    counts = Counter(shard(word) for word in words)
    total = counts.total()
'''


def ring(virtual_nodes: int) -> tuple[tuple[str, str], ...]:
    """Edits that make pick_server a consistent-hash ring, built once per set of servers."""
    helpers = f'''import bisect
import functools
import hashlib


def _point(text):
    return int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[:8], "big")


@functools.lru_cache(maxsize=64)
def _ring(servers):
    points = sorted((_point(f"{{server}}#{{i}}"), server) for server in servers for i in range({virtual_nodes}))
    return [p for p, _ in points], [server for _, server in points]
'''
    body = '''    if not servers:
        raise ValueError("pick_server needs at least one server")
    points, owners = _ring(tuple(sorted(servers)))
    return owners[bisect.bisect(points, _point(key)) % len(points)]
'''
    return ((IMPORTS, helpers), (PICK_BODY, body))


JUMP = '''    if not servers:
        raise ValueError("pick_server needs at least one server")
    # Lamping and Veach's jump consistent hash, over the servers in the order given
    state = int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:8], "big")
    bucket, j = -1, 0
    while j < len(servers):
        bucket = j
        state = (state * 2862933555777941757 + 1) % 2**64
        j = int((bucket + 1) * (2**31 / ((state >> 33) + 1)))
    return servers[bucket]
'''
MODULO = '''    ordered = sorted(servers)
    digest = hashlib.md5(key.encode("utf-8")).digest()
    return ordered[int.from_bytes(digest, "big") % len(ordered)]
'''
RENDEZVOUS_HASH = '''    if not servers:
        raise ValueError("pick_server needs at least one server")
    return RendezvousHash(nodes=list(servers)).get_node(key)
'''
WITH_RENDEZVOUS_HASH = (IMPORTS, IMPORTS + "\nfrom pymemcache.client.rendezvous import RendezvousHash\n")

WRONG = [
    Variant(A, "alpha-letter-lists", "tests word[0] in 'abcdef', 'ghijklm', 'nopqrs' as the book does",
            ("test_alpha_shard_compares_the_first_character",),
            (('    if first < "g":', '    if first in "abcdef":'),
             ('    if first < "n":', '    if first in "ghijklm":'),
             ('    if first < "t":', '    if first in "nopqrs":'))),
    Variant(A, "alpha-lowercases", "lowercases the first letter, which is the book's main()'s job",
            ("test_alpha_shard_compares_the_first_character",),
            (("    first = word[0]\n", "    first = word[0].lower()\n"),)),
    Variant(A, "alpha-index-error", "lets word[0] raise IndexError for ''",
            ("test_alpha_shard_rejects_the_empty_word",),
            ((ALPHA_CHECK, ""),)),
    Variant(A, "hash-abs", "takes abs(hash(word)) % 4, another server for every negative hash",
            ("test_hash_shard_is_hash_modulo_4",),
            (('return "server%d" % (hash(word) % 4)', 'return "server%d" % (abs(hash(word)) % 4)'),)),
    Variant(A, "md5-first-byte", "takes the first byte of the digest, not the last",
            ("test_md5_shard_takes_the_last_byte_of_the_digest",),
            (("(digest[-1] % 4)", "(digest[0] % 4)"),)),
    Variant(A, "md5-hex-character", "takes the code of the last hex digit's character",
            ("test_md5_shard_takes_the_last_byte_of_the_digest",),
            (('hashlib.md5(word.encode("utf-8")).digest()', 'hashlib.md5(word.encode("utf-8")).hexdigest()'),
             ("(digest[-1] % 4)", "(ord(digest[-1]) % 4)"))),
    Variant(A, "md5-latin-1", "encodes the word as Latin-1, so other characters become '?'",
            ("test_md5_shard_takes_the_last_byte_of_the_digest",),
            (('hashlib.md5(word.encode("utf-8"))', 'hashlib.md5(word.encode("latin-1", "replace"))'),)),
    Variant(A, "distribution-counts", "returns how many words each server gets, not the fraction",
            ("test_distribution_gives_the_fraction_each_server_receives", "test_the_books_table_from_the_word_list"),
            (("{server: counts[server] / total for", "{server: counts[server] for"),)),
    Variant(A, "distribution-seen-servers-only", "leaves out the servers that receive no word",
            ("test_servers_that_receive_nothing_are_present_at_zero",),
            (("for server in sorted(set(SERVERS) | set(counts))}", "for server in sorted(counts)}"),)),
    Variant(A, "distribution-len", "takes len(words), which a generator does not have",
            ("test_distribution_accepts_any_iterable",),
            ((DISTRIBUTION_COUNT, "    counts = Counter(shard(word) for word in words)\n    total = len(words)\n"),)),
    Variant(A, "distribution-two-passes", "counts the words in one pass and shards them in another",
            ("test_distribution_accepts_any_iterable",),
            ((DISTRIBUTION_COUNT,
              "    total = sum(1 for _ in words)\n    counts = Counter(shard(word) for word in words)\n"),)),
    Variant(A, "distribution-lowercases", "lowercases the words before sharding them",
            ("test_distribution_gives_the_fraction_each_server_receives",),
            (("Counter(shard(word) for word in words)", "Counter(shard(word.lower()) for word in words)"),)),
    Variant(A, "distribution-zero-division", "divides by zero for no words",
            ("test_distribution_of_no_words_is_a_value_error",),
            ((DISTRIBUTION_CHECK, ""),)),
    Variant(A, "pick-builtin-hash", "weighs each server with hash() of server and key: it changes with PYTHONHASHSEED",
            ("test_pick_server_is_the_same_in_every_process",),
            ((WEIGHT, '        return hash(f"{server}\\0{key}"), server\n'),)),
    Variant(A, "pick-md5-modulo-n", "takes md5(key) % n of the sorted servers: most keys move when one joins",
            ("test_pick_server_moves_few_keys", "test_pick_server_with_no_servers_is_a_value_error"),
            ((PICK_BODY, MODULO),)),
    Variant(A, "pick-ring-10-nodes", "a consistent-hash ring with only ten virtual nodes per server",
            ("test_pick_server_spreads_keys_evenly",),
            ring(10)),
    Variant(A, "pick-jump-in-given-order", "jump consistent hashing over the servers in the order given",
            ("test_pick_server_ignores_the_order_of_servers", "test_pick_server_moves_few_keys"),
            ((PICK_BODY, JUMP),)),
    Variant(A, "pick-rendezvous-hash-unchecked", "pymemcache's RendezvousHash, which returns None for no servers",
            ("test_pick_server_with_no_servers_is_a_value_error",),
            (WITH_RENDEZVOUS_HASH, (PICK_BODY, "    return RendezvousHash(nodes=list(servers)).get_node(key)\n"))),
    Variant(A, "cache-writes-every-server", "sets each key on every server",
            ("test_each_key_lives_on_its_server_and_no_other",),
            ((SET_CALL, "            for client in self._clients.values():\n"
                        "                client.set(key, value, expire=ttl, noreply=False)\n"),)),
    Variant(A, "cache-names-from-tuples", "names the servers str((host, port)) instead of 'host:port'",
            ("test_server_for_is_pick_server_over_host_port_names",),
            (('{f"{host}:{port}": (host, port)', '{str((host, port)): (host, port)'),)),
    Variant(A, "cache-no-error-handling", "lets a stopped server's errors reach the caller of get",
            ("test_a_stopped_server_costs_only_its_keys",),
            ((GET_BODY, "        return self._clients[self.server_for(key)].get(key)\n"),)),
    Variant(A, "cache-catches-memcache-errors-only", "catches pymemcache's errors but not a refused connection",
            ("test_a_stopped_server_costs_only_its_keys",),
            (("SERVER_DOWN = (OSError, MemcacheServerError)", "SERVER_DOWN = (MemcacheServerError,)"),)),
    Variant(A, "cache-fails-over", "when a key's server is down, stores it on the other servers instead",
            ("test_a_stopped_server_costs_only_its_keys",),
            ((SET_CALL + "        except SERVER_DOWN:\n            pass\n",
              SET_CALL + "        except SERVER_DOWN:\n            for client in self._clients.values():\n"
                         "                try:\n                    client.set(key, value, expire=ttl, noreply=False)\n"
                         "                except SERVER_DOWN:\n                    pass\n"),)),
    Variant(A, "cache-get-default-empty", "returns b'' for a miss instead of None",
            ("test_get_set_delete_round_trip",),
            (("            return self._clients[self.server_for(key)].get(key)\n",
              "            return self._clients[self.server_for(key)].get(key, default=b\"\")\n"),)),
    Variant(A, "cache-ignores-ttl", "never passes the ttl on to memcached",
            ("test_set_gives_the_ttl_to_memcached",),
            ((SET_CALL, SET_CALL.replace("expire=ttl, ", "")),)),
    Variant(A, "cache-close-does-nothing", "leaves every connection open on close()",
            ("test_close_closes_every_connection",),
            (("        for client in self._clients.values():\n            client.close()\n", "        pass\n"),)),
]

OWN_ERRORS = ("SERVER_DOWN = (OSError, MemcacheServerError)\n",
              "SERVER_DOWN = (OSError, MemcacheServerError)\n\n\nclass NoShardError(ValueError):\n"
              "    \"\"\"A ValueError of this module's own.\"\"\"\n")

# Correct implementations other than the reference's: each must earn full marks.
RIGHT = [
    Variant(A, "value-error-subclass", "raises a subclass of ValueError of its own, which is a ValueError", (),
            (OWN_ERRORS,
             ('raise ValueError("alpha_shard needs', 'raise NoShardError("alpha_shard needs'),
             ('raise ValueError("distribution of no words', 'raise NoShardError("distribution of no words'),
             ('raise ValueError("pick_server needs', 'raise NoShardError("pick_server needs'))),
    Variant(A, "distribution-returns-a-counter", "distribution returns a Counter of fractions, which is a dict", (),
            (("    return {server: counts[server] / total for server in sorted(set(SERVERS) | set(counts))}\n",
              "    return Counter({server: counts[server] / total\n"
              "                    for server in sorted(set(SERVERS) | set(counts))})\n"),)),
    Variant(A, "cache-pooled-clients", "ShardedCache with a PooledClient for each server", (),
            (("from pymemcache.client.base import Client\n", "from pymemcache.client.base import PooledClient\n"),
             ("Client(address, no_delay=True", "PooledClient(address, no_delay=True"))),
    Variant(A, "cache-noreply-sets", "set and delete with noreply=True, pymemcache's default: no waiting for replies",
            (), ((SET_CALL, SET_CALL.replace("noreply=False", "noreply=True")),
                 ("self._clients[self.server_for(key)].delete(key, noreply=False)",
                  "self._clients[self.server_for(key)].delete(key, noreply=True)"))),
    Variant(A, "pymemcache-rendezvous-hash", "pick_server with pymemcache's RendezvousHash (murmur3, 32 bits)", (),
            (WITH_RENDEZVOUS_HASH, (PICK_BODY, RENDEZVOUS_HASH))),
    Variant(A, "ring-1000-nodes", "pick_server as a consistent-hash ring with a thousand virtual nodes per server", (),
            ring(1000)),
    Variant(A, "md5-whole-hexdigest", "md5_shard as int(hexdigest, 16) % 4, the same as the last byte modulo 4", (),
            (('hashlib.md5(word.encode("utf-8")).digest()', 'hashlib.md5(word.encode("utf-8")).hexdigest()'),
             ("(digest[-1] % 4)", "(int(digest, 16) % 4)"))),
]
