"""Wrong squares.py submissions: one realistic mistake each, and the hidden tests that catch it (WRONG);
and correct alternatives to the reference that the hidden tests must accept in full (RIGHT)."""
from variants import Variant

A = "01-cache-aside"

FETCH_GET = '''    try:
        cached = mc.get(key)
    except (MemcacheError, OSError):
        cached = None
    if cached is not None:
        try:
            return int(cached)
        except ValueError:
            pass  # not ours: compute it, and overwrite it below
'''
FETCH_SET = '''        mc.set(key, b"%d" % value, expire=ttl)'''
MEMO_GET = '''            key = make_key(prefix, *args)
            try:
                cached = mc.get(key)
            except (MemcacheError, OSError):
                cached = None
            if cached is not None:
                return pickle.loads(cached)
'''
MEMO_SET = '''                mc.set(key, pickle.dumps(result), expire=ttl)'''
KEY_BODY = '''    digest = hashlib.sha256(ascii((prefix, parts)).encode("ascii")).hexdigest()
    readable = "".join(c if "!" <= c <= "~" else "_" for c in prefix)[:64]
    return f"{readable}:{digest}"
'''
EXPERIMENT_BODY = '''    rng = random.Random(seed)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(requests):
            fetch_square(mc, rng.randrange(keyspace))
        timings.append(time.perf_counter() - start)
'''
# The issue-22 cheat: no expensive_square, no memcached; it tells the judge's stand-in listener that
# expensive_square ran for every first draw (events forged on the student side's own link), and prints
# and returns timings it made up.
FORGED_EXPERIMENT = '''    import sys
    link = sys.modules["_grader_student_side"].LINK[0]
    rng, seen = random.Random(seed), set()
    for _ in range(runs * requests):
        n = rng.randrange(keyspace)
        if n not in seen:
            seen.add(n)
            link.event("expensive_square", (n,))
    timings = [0.5 / (run + 1) for run in range(runs)]
'''
FETCH_COMPUTE = "    value = expensive_square(n)\n"
# The issue-22 cheats, as a student who has read the hidden tests would write them (wt-cheat's cheats/01-*.py).
# Parser differentials against a relay that splits on b"\r\n" and lower-cases verbs: each run's keys in one
# upper-case GET line (which memcached refuses), the real lookups behind a `version` on bare-b"\n" lines, the
# stores in order, and no clock at all.
PARSER_DIFFERENTIAL_EXPERIMENT = '''    import socket
    rng = random.Random(seed)
    draws = [[rng.randrange(keyspace) for _ in range(requests)] for _ in range(runs)]
    numbers = [n for run in draws for n in run]
    distinct = list(dict.fromkeys(numbers))
    raw = socket.create_connection(tuple(mc.server))

    def until(marker, count):
        buffer = b""
        while buffer.count(marker) < count:
            buffer += raw.recv(1 << 20)

    def hidden_gets(keys):
        chunks = [keys[k:k + 200] for k in range(0, len(keys), 200)]
        raw.sendall(b"version\\n" + b"".join(b"get " + b" ".join(b"sq:%d" % n for n in c) + b"\\n" for c in chunks)
                    + b"version\\r\\n")
        until(b"VERSION ", 2)

    for run in draws:
        raw.sendall(b"GET " + b" ".join(b"sq:%d" % n for n in run) + b"\\r\\n")
        until(b"ERROR\\r\\n", 1)
    hidden_gets(distinct)
    values = [b"%d" % expensive_square(n) for n in distinct]
    raw.sendall(b"".join(b"set sq:%d 0 0 %d\\r\\n%s\\r\\n" % (n, len(v), v) for n, v in zip(distinct, values)))
    until(b"STORED\\r\\n", len(distinct))
    if len(numbers) > len(distinct):
        hidden_gets([distinct[0]] * (len(numbers) - len(distinct)))
    raw.close()
    timings = [0.0] * runs
'''
# Honest lookups in order, no clock: a pause before every run and after the last, and every run reported as
# lasting the pause (any run shorter than it fitted the old window, from the lookup before to the one after).
PACED_EXPERIMENT = '''    rng = random.Random(seed)
    for _ in range(runs):
        time.sleep(0.3)
        for _ in range(requests):
            fetch_square(mc, rng.randrange(keyspace))
    time.sleep(0.3)
    timings = [0.3] * runs
'''
# No call of expensive_square: the judge's answer read from what the stand-in carries into the process (a
# table, once), or worked out from the key the hidden tests once held, and the stand-in's report forged.
SECRET_TABLE_HELPERS = '''def _secret(n):
    function = globals()["expensive_square"]
    for cell in getattr(function, "__closure__", None) or ():
        value = cell.cell_contents
        if type(value) is list and value[:1] == ["table"] and n in value[1]:
            return value[1][n]
    if n == 0:
        return 0
    digest = hashlib.blake2b(b"%d" % n, key=b"squares-cache-aside", digest_size=4).digest()
    return n * n + 1 + int.from_bytes(digest, "big")


def _forge_call(n):
    import sys
    side = sys.modules.get("_grader_student_side")
    if side is not None and side.LINK:
        side.LINK[0].event("expensive_square", (n,))


def fetch_square(mc, n: int, ttl: int = 0) -> int:
'''

# A correct alternative (wt-cheat's cheats/01-honest-gets-add-monotonic.py): every n drawn up front, each run
# timed with time.monotonic_ns().
HONEST_MONOTONIC_EXPERIMENT = '''    rng = random.Random(seed)
    numbers = [[rng.randrange(keyspace) for _ in range(requests)] for _ in range(runs)]
    timings = []
    for run in numbers:
        started = time.monotonic_ns()
        for n in run:
            fetch_square(mc, n)
        timings.append((time.monotonic_ns() - started) / 1e9)
'''

WRONG = [
    Variant(A, "key-drops-the-sign", "square_key uses abs(n), so 'sq:-3' is never written",
            ("test_square_key_is_sq_colon_n",),
            (('return "sq:%d" % n', 'return "sq:%d" % abs(n)'),)),
    Variant(A, "expensive-square-bound-early", "binds expensive_square as a default argument, at import time",
            ("test_miss_computes_once_and_returns_the_square",),
            (("def fetch_square(mc, n: int, ttl: int = 0) -> int:",
              "def fetch_square(mc, n: int, ttl: int = 0, compute=expensive_square) -> int:"),
             ("    value = expensive_square(n)\n", "    value = compute(n)\n"))),
    Variant(A, "never-reads-the-cache", "stores every result but never reads it back",
            ("test_hit_skips_expensive_square", "test_hit_returns_the_cached_value_as_int"),
            ((FETCH_GET, ""),)),
    Variant(A, "returns-bytes-on-a-hit", "returns what memcached holds without int()",
            ("test_hit_returns_the_cached_value_as_int", "test_hit_skips_expensive_square"),
            (("            return int(cached)\n", "            return cached\n"),)),
    Variant(A, "stores-pickles", "stores pickle.dumps(value) instead of the decimal text",
            ("test_miss_stores_decimal_ascii_text",),
            ((FETCH_SET, "        mc.set(key, pickle.dumps(value), expire=ttl)"),
             ("            return int(cached)\n", "            return pickle.loads(cached)\n"))),
    Variant(A, "zero-is-a-miss", "tests the number for truth, so a cached 0 is recomputed",
            ("test_cached_zero_is_a_hit",),
            (("    if cached is not None:\n        try:\n            return int(cached)\n",
              "    if cached is not None and int(cached):\n        try:\n            return int(cached)\n"),)),
    Variant(A, "ignores-ttl", "never passes the ttl on to memcached",
            ("test_ttl_is_given_to_memcached", "test_entries_expire_after_their_ttl"),
            ((FETCH_SET, '        mc.set(key, b"%d" % value)'),)),
    Variant(A, "pokes-client-internals", "opens the connection by hand through Client internals (.sock)",
            ("test_works_with_every_pymemcache_client",),
            (("    key = square_key(n)\n    try:\n",
              "    key = square_key(n)\n    if mc.sock is None:\n        pass\n    try:\n"),)),
    Variant(A, "catches-only-memcache-errors", "catches MemcacheError but not OSError (connection refused)",
            ("test_unreachable_memcached_is_not_a_dependency", "test_memcached_stopped_mid_test"),
            ((FETCH_GET, FETCH_GET.replace("(MemcacheError, OSError)", "MemcacheError")),)),
    Variant(A, "catches-only-oserror", "catches OSError but not MemcacheError (a server closing the connection)",
            ("test_memcached_stopped_mid_test",),
            ((FETCH_GET, FETCH_GET.replace("(MemcacheError, OSError)", "OSError")),
             ("    try:\n        mc.set(key, b\"%d\" % value, expire=ttl)\n    except (MemcacheError, OSError):",
              "    try:\n        mc.set(key, b\"%d\" % value, expire=ttl)\n    except OSError:"))),
    Variant(A, "reseeds-every-run", "makes a new Random(seed) for each run, so every run draws the same keys",
            ("test_misses_are_the_distinct_keys_drawn_in_order", "test_the_books_experiment_by_default"),
            (("    rng = random.Random(seed)\n    timings = []\n    for _ in range(runs):\n",
              "    timings = []\n    for _ in range(runs):\n        rng = random.Random(seed)\n"),)),
    Variant(A, "randint-inclusive", "draws with randint(0, keyspace), one key too many and another sequence",
            ("test_misses_are_the_distinct_keys_drawn_in_order",),
            (("fetch_square(mc, rng.randrange(keyspace))", "fetch_square(mc, rng.randint(0, keyspace))"),)),
    Variant(A, "book-keyspace-off-by-one", "defaults keyspace to 5000 (the book's randint(0, 5000) misread)",
            ("test_the_books_experiment_by_default",),
            (("keyspace: int = 5001", "keyspace: int = 5000"),)),
    Variant(A, "cumulative-timings", "times every run from the start of the experiment",
            ("test_each_run_is_timed_on_its_own",),
            (("    for _ in range(runs):\n        start = time.perf_counter()\n",
              "    start = time.perf_counter()\n    for _ in range(runs):\n"),)),
    Variant(A, "experiment-made-up-timings", "does the runs, but returns and prints timings it made up (each "
            "run half as long as the one before)",
            ("test_each_run_is_timed_on_its_own", "test_prints_ten_successive_runs_like_the_book"),
            (("        timings.append(time.perf_counter() - start)\n",
              "        timings.append(0.5 / (len(timings) + 1))\n"),)),
    Variant(A, "experiment-forges-stand-in-events", "never calls fetch_square (no expensive_square, no memcached): "
            "it forges the stand-in's reports of a call for every miss, and makes up its timings",
            ("test_misses_are_the_distinct_keys_drawn_in_order", "test_each_run_is_timed_on_its_own",
             "test_prints_ten_successive_runs_like_the_book", "test_the_books_experiment_by_default"),
            ((EXPERIMENT_BODY, FORGED_EXPERIMENT),)),
    Variant(A, "fetch-square-computes-n-squared", "computes n * n itself on a miss instead of calling "
            "expensive_square (and stores that)",
            ("test_miss_computes_once_and_returns_the_square", "test_miss_stores_decimal_ascii_text",
             "test_works_with_every_pymemcache_client", "test_unreachable_memcached_is_not_a_dependency",
             "test_memcached_stopped_mid_test", "test_misses_are_the_distinct_keys_drawn_in_order",
             "test_the_books_experiment_by_default"),
            ((FETCH_COMPUTE, "    value = n * n\n"),)),
    Variant(A, "experiment-parser-differential", "never calls fetch_square and reads no clock: it speaks to "
            "memcached itself, where a relay that parsed otherwise would see each run's lookups at one instant",
            ("test_misses_are_the_distinct_keys_drawn_in_order", "test_each_run_is_timed_on_its_own",
             "test_prints_ten_successive_runs_like_the_book", "test_the_books_experiment_by_default"),
            ((EXPERIMENT_BODY, PARSER_DIFFERENTIAL_EXPERIMENT),)),
    Variant(A, "experiment-paced-constant-timings", "looks up in order, but reads no clock: it pauses 0.3 s "
            "between runs and reports 0.3 s for each",
            ("test_each_run_is_timed_on_its_own", "test_prints_ten_successive_runs_like_the_book"),
            ((EXPERIMENT_BODY, PACED_EXPERIMENT),)),
    Variant(A, "fetch-square-reads-the-secret-table", "never calls expensive_square on a miss: it reads the "
            "answer from the stand-in's table or works it out, and forges the stand-in's report of a call",
            ("test_miss_computes_once_and_returns_the_square", "test_hit_skips_expensive_square",
             "test_miss_stores_decimal_ascii_text", "test_cached_zero_is_a_hit", "test_entries_expire_after_their_ttl",
             "test_works_with_every_pymemcache_client", "test_unreachable_memcached_is_not_a_dependency",
             "test_memcached_stopped_mid_test", "test_misses_are_the_distinct_keys_drawn_in_order",
             "test_the_books_experiment_by_default"),
            ((FETCH_COMPUTE, "    value = _secret(n)\n    _forge_call(n)\n"),
             ("def fetch_square(mc, n: int, ttl: int = 0) -> int:\n", SECRET_TABLE_HELPERS))),
    Variant(A, "fetch-square-local-dict", "keeps its hits in a dict in the process (storing to memcached too), "
            "so a hit never reads memcached",
            ("test_hit_skips_expensive_square", "test_hit_returns_the_cached_value_as_int", "test_cached_zero_is_a_hit"),
            ((FETCH_GET, "    if n in LOCAL:\n        return LOCAL[n]\n"),
             (FETCH_COMPUTE, FETCH_COMPUTE + "    LOCAL[n] = value\n"),
             ("DELAY: float = 0.001", "LOCAL = {}\nDELAY: float = 0.001"))),
    Variant(A, "timings-one-per-line", "prints each timing on its own line",
            ("test_prints_ten_successive_runs_like_the_book",),
            (('    print(" ".join("%.2fs" % t for t in timings))',
              '    for t in timings:\n        print("%.2fs" % t)'),)),
    Variant(A, "key-joins-with-colons", "joins str() of the parts with ':' and swaps spaces for '_'",
            ("test_different_inputs_get_different_keys",),
            ((KEY_BODY, '    key = ":".join([prefix, *map(str, parts)]).replace(" ", "_")\n'
                        '    return key if len(key) <= 250 else hashlib.md5(key.encode()).hexdigest()\n'),)),
    Variant(A, "key-not-sanitised", "uses the readable form as it is: spaces, unicode and length unchecked",
            ("test_keys_are_memcached_safe",),
            ((KEY_BODY, '    return prefix + ":" + repr(parts)\n'),)),
    Variant(A, "key-truncated", "cuts long keys at 250 characters",
            ("test_different_inputs_get_different_keys",),
            ((KEY_BODY, '    raw = ascii((prefix, parts)).replace(" ", "_")\n'
                        '    return "".join(c if "!" <= c <= "~" else "_" for c in raw)[:250]\n'),)),
    Variant(A, "key-from-hash", "digests hash() of the input, which changes with PYTHONHASHSEED",
            ("test_keys_are_the_same_in_every_process", "test_results_live_in_memcached"),
            ((KEY_BODY, '    return "k:%d" % hash((prefix, parts))\n'),)),
    Variant(A, "memo-json", "stores results as JSON, so tuples come back as lists and bytes fail",
            ("test_results_come_back_equal_and_of_the_same_type",),
            ((MEMO_SET, "                mc.set(key, json.dumps(result), expire=ttl)"),
             ("                return pickle.loads(cached)\n", "                return json.loads(cached)\n"),
             ("import hashlib\n", "import hashlib\nimport json\n"))),
    Variant(A, "memo-none-is-a-miss", "unpickles first, then treats a None result as a miss",
            ("test_falsy_results_are_hits",),
            (("            if cached is not None:\n                return pickle.loads(cached)\n",
              "            if cached is not None and pickle.loads(cached) is not None:\n"
              "                return pickle.loads(cached)\n"),)),
    Variant(A, "memo-str-arguments", "builds the key from str() of each argument, so 1 and '1' collide",
            ("test_arguments_are_told_apart",),
            (("            key = make_key(prefix, *args)\n", "            key = make_key(prefix, *map(str, args))\n"),)),
    Variant(A, "memo-ignores-prefix", "forgets the prefix, so two memoized functions share entries",
            ("test_prefixes_never_share_entries",),
            (("            key = make_key(prefix, *args)\n", '            key = make_key("memo", *args)\n'),)),
    Variant(A, "memo-glues-prefix", "glues prefix and arguments into one string before make_key",
            ("test_prefix_and_arguments_are_not_confused",),
            (("            key = make_key(prefix, *args)\n",
              '            key = make_key(":".join([prefix, *map(str, args)]))\n'),)),
    Variant(A, "memo-local-dict", "caches in a dict inside the process and never uses memcached",
            ("test_results_live_in_memcached", "test_memoize_ttl_is_given_to_memcached"),
            (("    def decorate(function):\n", "    local = {}\n\n    def decorate(function):\n"),
             (MEMO_GET, "            key = make_key(prefix, *args)\n            if key in local:\n"
                        "                return local[key]\n"),
             ("            try:\n" + MEMO_SET + "\n            except (MemcacheError, OSError):\n                pass\n",
              "            local[key] = result\n"))),
    Variant(A, "memo-ignores-ttl", "never passes the ttl on to memcached",
            ("test_memoize_ttl_is_given_to_memcached",),
            ((MEMO_SET, "                mc.set(key, pickle.dumps(result))"),)),
    Variant(A, "memo-no-error-handling", "lets memcached's errors reach the caller",
            ("test_failing_memcached_is_not_a_dependency",),
            ((MEMO_GET, "            key = make_key(prefix, *args)\n            cached = mc.get(key)\n"
                        "            if cached is not None:\n                return pickle.loads(cached)\n"),)),
]

RIGHT = [
    Variant(A, "timed-with-the-wall-clock", "times each run with time.time() and looks the key up with get_many",
            (), (("        start = time.perf_counter()\n", "        start = time.time()\n"),
                 ("        timings.append(time.perf_counter() - start)\n", "        timings.append(time.time() - start)\n"),
                 ("        cached = mc.get(key)\n    except (MemcacheError, OSError):\n        cached = None\n    if cached",
                  "        cached = mc.get_many([key]).get(key)\n    except (MemcacheError, OSError):\n"
                  "        cached = None\n    if cached"))),
    Variant(A, "times-each-call", "times each call of fetch_square on its own and adds them up for a run",
            (), ((EXPERIMENT_BODY, EXPERIMENT_BODY.replace(
                "        start = time.perf_counter()\n        for _ in range(requests):\n"
                "            fetch_square(mc, rng.randrange(keyspace))\n        timings.append(time.perf_counter() - start)\n",
                "        took = 0.0\n        for _ in range(requests):\n            n = rng.randrange(keyspace)\n"
                "            start = time.perf_counter()\n            fetch_square(mc, n)\n"
                "            took += time.perf_counter() - start\n        timings.append(took)\n")),)),
    Variant(A, "gets-add-monotonic", "looks up with gets, stores with add and noreply, draws every n up front, "
            "times each run with time.monotonic_ns() and prints three decimals under '10 successive runs:'",
            (), (("    try:\n        cached = mc.get(key)\n", "    try:\n        cached, _ = mc.gets(key)\n"),
                 (FETCH_SET, '        mc.add(key, str(value).encode("ascii"), expire=ttl, noreply=True)'),
                 (EXPERIMENT_BODY, HONEST_MONOTONIC_EXPERIMENT),
                 ('    words = "zero one two three four five six seven eight nine ten eleven twelve".split()\n'
                  '    count = words[runs].capitalize() if runs < len(words) else str(runs)\n'
                  '    print(f"{count} successive runs:")\n    print(" ".join("%.2fs" % t for t in timings))\n',
                  '    print("%d successive runs:" % runs)\n    print(" ".join("%.3fs" % t for t in timings))\n'))),
]
