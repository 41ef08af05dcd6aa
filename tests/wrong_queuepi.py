"""Wrong queuepi.py submissions: one realistic mistake each, and the hidden tests that catch it (WRONG);
and correct alternatives to the reference that the hidden tests must accept in full (RIGHT)."""
from variants import Variant

A = "03-queuepi"

START_BITSOURCE = "start_thread(bitsource, zcontext, pubsub, None, points, 2)"
ALWAYS_YES_LOOP = '''            isock.recv_string()
            osock.send_string("Y")
'''
TALLY_END = '''    except zmq.ContextTerminated:
        pass
    finally:
        close_sockets(zsock)
    return estimate
'''
SQUARES = "zsock.send_json(sum(n * n for n in numbers))"
DRAW = "bits = (rng or random).getrandbits(digits)"
PUBLISH = "zsock.send_string(ones_and_zeros(2 * B, rng))"
ESTIMATE_BODY = "    context = zcontext if zcontext is not None else zmq.Context()\n"
# The issue-22 cheats: a constant; the same, after forging what a recording zmq.Context would have kept (the
# student side's list of sockets, which the judge no longer reads); and a stand-in for the network, the nodes'
# work done by threads over queue.Queue, which gives a fair estimate without a single socket.
CONSTANT = "    return 3.14159\n"
FORGED_RECORDING = '''    import sys
    sockets = getattr(sys.modules.get("_grader_student_side"), "SOCKETS", [])
    points_made = [ones_and_zeros(2 * B) for _ in range(points)]
    for kind, made_in, sent, received in (("PUB", ["bitsource"], points_made, []),
                                          ("SUB", ["always_yes"], [], [p for p in points_made if p[:2] == "00"]),
                                          ("SUB", ["judge"], [], [p for p in points_made if p[:2] != "00"]),
                                          ("PULL", ["tally"], [], ["Y"] * points)):
        sockets.append({"context": zcontext, "kind": kind, "made_in": made_in, "binds": [], "connects": [],
                        "sent": [m.encode() for m in sent], "sent_count": len(sent),
                        "received": [m.encode() for m in received], "received_count": len(received)})
    return 3.14159
'''
QUEUE_PIPELINE = '''    import queue
    bits, decisions = queue.Queue(), queue.Queue()

    def publish():
        for _ in range(points):
            bits.put(ones_and_zeros(2 * B))
        bits.put(None)

    def decide():
        while (point := bits.get()) is not None:
            n, m = int(point[::2], 2), int(point[1::2], 2)
            decisions.put(point.startswith("00") or n * n + m * m < 2 ** (2 * B))
        decisions.put(None)

    nodes = [start_thread(publish), start_thread(decide)]
    yes = total = 0
    while (decision := decisions.get()) is not None:
        yes, total = yes + decision, total + 1
    for node in nodes:
        node.join()
    return 4 * yes / total
'''
# After a judge that counted bytes per connection (TCP_INFO): raw TCP connections of the shape it looked for,
# bytes pumped through them, and pi returned as a constant (no node, no ZeroMQ, nothing computed); then the
# cheapest way past a judge that reads ZeroMQ on the wire: a real tally, counting decisions a PUSH makes up
# with the right odds, for no point ever published.
BYTE_PUMP = '''    import math

    def rig(clients):
        listener = socket.create_server(("127.0.0.1", 0))
        pairs = []
        for _ in range(clients):
            client = socket.create_connection(listener.getsockname())
            pairs.append((listener.accept()[0], client))
        return listener, pairs

    def move(source, sink, size):
        sender = threading.Thread(target=source.sendall, args=(b"0" * size,))
        sender.start()
        got = 0
        while got < size:
            got += len(sink.recv(1 << 20))
        sender.join()

    rigs = [(rig(2), 33 * points + 64, 0), (rig(2), 0, 3 * points // 2 + 8), (rig(1), 16, 6 * points)]
    for (_, pairs), out_each, in_each in rigs:
        for server, client in pairs:
            if out_each:
                move(server, client, out_each)
            if in_each:
                move(client, server, in_each)
    time.sleep(0.5)  # long enough for a watch of the process's connections to see every one
    for listener, pairs in (r[0] for r in rigs):
        listener.close()
        for ends in pairs:
            close_sockets(*ends)
    return math.pi
'''
MADE_UP_DECISIONS = '''    import math
    url, context, counted = loopback_url(), zmq.Context(), []
    counter = start_thread(lambda: counted.append(tally(context, url, points)))
    push = open_socket(context, zmq.PUSH)
    push.connect(url)
    for _ in range(points):
        push.send_string("Y" if random.random() < math.pi / 4 else "N")
    counter.join()
    close_sockets(push)
    context.term()
    return counted[0]
'''
ESTIMATE_CATCHERS = ("test_estimate_pi_is_within_five_standard_deviations",
                     "test_estimate_pi_leaves_no_thread_socket_or_process_behind", "test_estimate_pi_uses_free_ports")

WRONG = [
    Variant(A, "estimate-pi-constant", "returns 3.14159 without starting a node", ESTIMATE_CATCHERS,
            ((ESTIMATE_BODY, CONSTANT + ESTIMATE_BODY),)),
    Variant(A, "estimate-pi-forges-a-recording", "returns 3.14159, after appending made-up sockets, points and "
            "decisions to the list a recording zmq.Context in the student process would keep", ESTIMATE_CATCHERS,
            ((ESTIMATE_BODY, FORGED_RECORDING + ESTIMATE_BODY),)),
    Variant(A, "estimate-pi-queue-and-threads", "a stand-in for the network: threads pass the points and decisions "
            "over queue.Queue, and the estimate is fair, but no node, socket or ZeroMQ is used", ESTIMATE_CATCHERS,
            ((ESTIMATE_BODY, QUEUE_PIPELINE + ESTIMATE_BODY),)),
    Variant(A, "estimate-pi-byte-pump", "returns math.pi after pumping bytes through raw TCP connections of the "
            "pipeline's shape: no node, no ZeroMQ, nothing computed", ESTIMATE_CATCHERS,
            ((ESTIMATE_BODY, BYTE_PUMP + ESTIMATE_BODY),)),
    Variant(A, "estimate-pi-made-up-decisions", "a real tally counts decisions that a PUSH draws with the odds "
            "pi / 4: real ZeroMQ on loopback, and a fair estimate, but no point published or judged",
            ESTIMATE_CATCHERS, ((ESTIMATE_BODY, MADE_UP_DECISIONS + ESTIMATE_BODY),)),
    # -- estimate_pi: the book's three ways to a biased count -------------------------------------------
    Variant(A, "book-flat-out", "the book's pipeline run flat out: bitsource publishes forever with the default "
            "high-water mark, and the count stops at `points`",
            ("test_estimate_pi_is_within_five_standard_deviations",),
            ((START_BITSOURCE, "start_thread(bitsource, zcontext, pubsub)"),)),
    Variant(A, "count-stops-with-always-yes-ahead", "no point is dropped, but bitsource never stops, so the count "
            "ends while always_yes is thousands of points ahead of judge",
            ("test_estimate_pi_is_within_five_standard_deviations",),
            ((START_BITSOURCE, "start_thread(bitsource, zcontext, pubsub, None, None, 2)"),
             ("        if count is not None:\n            zsock.sndhwm = 0", "        if True:\n            zsock.sndhwm = 0"))),
    Variant(A, "slow-joiner", "publishes the points as soon as bitsource has bound, before its subscribers joined",
            ("test_estimate_pi_is_within_five_standard_deviations",),
            ((START_BITSOURCE, "start_thread(bitsource, zcontext, pubsub, None, points)"),)),
    Variant(A, "fixed-ports", "wires the nodes on the book's fixed ports 6700-6702",
            ("test_estimate_pi_uses_free_ports",),
            (("pubsub, reqrep, pushpull = loopback_url(), loopback_url(), loopback_url()",
              'pubsub, reqrep, pushpull = "tcp://127.0.0.1:6700", "tcp://127.0.0.1:6701", "tcp://127.0.0.1:6702"'),)),
    Variant(A, "never-terminates", "waits for tally but never terminates the context: the other nodes run on",
            ("test_estimate_pi_leaves_no_thread_socket_or_process_behind",),
            (("    zcontext.term()  # every node returns, its sockets closed\n", ""),)),
    # -- stopping -------------------------------------------------------------------------------------------
    Variant(A, "node-never-returns", "always_yes catches ContextTerminated inside its loop and carries on",
            ("test_node_returns_within_a_second_of_termination",),
            ((ALWAYS_YES_LOOP, '            try:\n                isock.recv_string()\n                osock.send_string("Y")\n'
                               "            except zmq.ContextTerminated:\n                continue\n"),)),
    Variant(A, "linger-set-too-late", "calls close(linger=0) after ContextTerminated instead of setting LINGER "
            "when the socket is made: pyzmq cannot set it any more, and term() waits on unsent messages",
            ("test_node_returns_within_a_second_of_termination",),
            (("    zsock.linger = 0\n    return zsock\n", "    return zsock\n"),
             ("        zsock.close()\n", "        zsock.close(linger=0)\n"))),
    # -- the nodes --------------------------------------------------------------------------------------------
    Variant(A, "strip-without-zfill", "bin(bits).strip('0b') without zfill: leading (and trailing) zeros vanish",
            ("test_ones_and_zeros_is_exactly_digits_bits", "test_bitsource_binds_and_publishes_strings_of_64_bits"),
            (('    return format(bits, "b").zfill(digits)\n', '    return bin(bits).strip("0b")\n'),)),
    Variant(A, "ones-and-zeros-ignores-rng", "draws from the global random even when given an rng",
            ("test_ones_and_zeros_draws_from_the_rng_it_is_given",
             "test_bitsource_publishes_ones_and_zeros_of_its_rng_in_order"),
            ((DRAW, "bits = random.getrandbits(digits)"),)),
    Variant(A, "first-bit-always-zero", "draws digits - 1 random bits and pads: the first bit is always 0",
            ("test_ones_and_zeros_bits_are_uniform_and_independent", "test_bitsource_bits_are_uniform"),
            ((DRAW, "bits = (rng or random).getrandbits(digits - 1)"),)),
    Variant(A, "bitsource-ignores-rng", "bitsource publishes ones_and_zeros(2 * B) without passing its rng on",
            ("test_bitsource_publishes_ones_and_zeros_of_its_rng_in_order",),
            ((PUBLISH, "zsock.send_string(ones_and_zeros(2 * B))"),)),
    Variant(A, "bitsource-publishes-b-bits", "publishes B bits, one coordinate's worth, instead of 2 * B",
            ("test_bitsource_binds_and_publishes_strings_of_64_bits",),
            ((PUBLISH, "zsock.send_string(ones_and_zeros(B, rng))"),)),
    Variant(A, "always-yes-takes-11", "always_yes also subscribes to b'11'",
            ("test_always_yes_subscribes_to_00_only",),
            (('        isock.subscribe(b"00")\n', '        isock.subscribe(b"00")\n        isock.subscribe(b"11")\n'),)),
    Variant(A, "always-yes-says-yes", "always_yes pushes 'yes' instead of the book's 'Y'",
            ("test_always_yes_pushes_Y_for_each_point",),
            ((ALWAYS_YES_LOOP, ALWAYS_YES_LOOP.replace('"Y"', '"yes"')),)),
    Variant(A, "judge-takes-00", "judge also subscribes to b'00', so those points are counted twice",
            ("test_nodes_joined_through_the_judges_forwarders_count_every_point_once",
             "test_judge_subscribes_to_01_10_11_only", "test_estimate_pi_is_within_five_standard_deviations"),
            (('for prefix in b"01", b"10", b"11":', 'for prefix in b"00", b"01", b"10", b"11":'),)),
    Variant(A, "halves-not-interleaved", "takes n and m as the first and second halves of the bits",
            ("test_judge_asks_pythagoras_about_the_interleaved_coordinates",),
            (("n, m = int(bits[::2], 2), int(bits[1::2], 2)", "n, m = int(bits[:B], 2), int(bits[B:], 2)"),)),
    Variant(A, "judge-sends-text", "judge sends '<n> <m>' as text rather than the JSON array",
            ("test_judge_asks_pythagoras_about_the_interleaved_coordinates",),
            (("psock.send_json([n, m])", 'psock.send_string("%d %d" % (n, m))'),)),
    Variant(A, "unit-2-to-the-b", "compares the sum of squares with 2 ** B, the radius, not its square",
            ("test_nodes_joined_through_the_judges_forwarders_count_every_point_once",
             "test_judge_says_Y_below_2_to_the_64_and_N_from_there",
             "test_estimate_pi_is_within_five_standard_deviations"),
            (("unit = 2 ** (2 * B)", "unit = 2 ** B"),)),
    Variant(A, "judge-on-the-circle-is-inside", "says 'Y' for a sum of exactly 2 ** (2 * B) too",
            ("test_judge_says_Y_below_2_to_the_64_and_N_from_there",),
            (('"Y" if sumsquares < unit else "N"', '"Y" if sumsquares <= unit else "N"'),)),
    Variant(A, "pythagoras-sums-numbers", "replies with sum(numbers), forgetting to square them",
            ("test_nodes_joined_through_the_judges_forwarders_count_every_point_once",
             "test_pythagoras_replies_with_the_sum_of_squares", "test_estimate_pi_is_within_five_standard_deviations"),
            ((SQUARES, "zsock.send_json(sum(numbers))"),)),
    Variant(A, "pythagoras-float", "replies with a float, inexact for big integers",
            ("test_pythagoras_replies_with_the_sum_of_squares",),
            ((SQUARES, "zsock.send_json(float(sum(n * n for n in numbers)))"),)),
    Variant(A, "tally-adds-one", "adds 1 for each 'Y' instead of 4",
            ("test_nodes_joined_through_the_judges_forwarders_count_every_point_once",
             "test_tally_returns_four_times_the_fraction_of_yes", "test_tally_writes_one_line_per_decision_like_the_book",
             "test_estimate_pi_is_within_five_standard_deviations"),
            (("                p += 4\n", "                p += 1\n"),)),
    Variant(A, "tally-one-too-many", "counts points + 1 decisions before returning",
            ("test_tally_returns_after_exactly_points_decisions", "test_tally_returns_four_times_the_fraction_of_yes"),
            (("while points is None or q < points:", "while points is None or q <= points:"),)),
    Variant(A, "tally-prints-to-stdout", "prints its lines to standard output, never to `out`",
            ("test_tally_writes_one_line_per_decision_like_the_book",),
            (("print(decision, estimate, file=out)", "print(decision, estimate)"),)),
    Variant(A, "tally-forgets-on-termination", "returns None when terminated instead of the latest estimate",
            ("test_tally_without_points_returns_the_latest_estimate_when_terminated",),
            ((TALLY_END, TALLY_END.replace("        pass\n", "        return None\n")),)),
]

# -- correct alternatives ----------------------------------------------------------------------------------

# Pacing instead of an unbounded queue: bitsource publishes exactly `points`, never more than a window ahead
# of tally's count, each decision tally counts sending it one credit back over an inproc PUSH/PULL pair of
# the student's own. That PULL is not tally's: the hidden tests must not count what it receives.
CREDITS_CLASS = '''ATTEMPTS = 3
WINDOW = 200  # points bitsource may publish ahead of tally's count: well under the high-water mark (1000)


class Credits:
    """tally's `out`: counts its lines as Progress does, and sends bitsource a credit for each."""

    def __init__(self, zcontext, url):
        self.progress = Progress()
        self.push = open_socket(zcontext, zmq.PUSH)
        self.push.connect(url)

    def write(self, text):
        self.progress.write(text)
        for _ in range(text.count("\\n")):
            self.push.send(b"")

    def flush(self):
        pass
'''
PACED_START = '''    monitor.linger = 0
    pacer = open_socket(zcontext, zmq.PULL)
    try:
        zsock.bind(url)
        if credits is not None:
            pacer.bind(credits)
'''
PACED_LOOP = '''        for sent in repeat(None) if count is None else range(count):
            if credits is not None and sent >= WINDOW:
                pacer.recv()  # tally counted one more: one more point may go
            zsock.send_string(ones_and_zeros(2 * B, rng))
'''
CREDITS = (
    ("              count: int | None = None, subscribers: int = 0) -> None:",
     "              count: int | None = None, subscribers: int = 0, credits: str | None = None) -> None:"),
    ("    monitor.linger = 0\n    try:\n        if count is not None:\n"
     "            zsock.sndhwm = 0  # a batch that ends: queue all of it rather than drop points for the slow judge\n"
     "        zsock.bind(url)\n", PACED_START),
    ("        for _ in repeat(None) if count is None else range(count):\n"
     "            zsock.send_string(ones_and_zeros(2 * B, rng))\n", PACED_LOOP),
    ("        close_sockets(zsock, monitor)\n", "        close_sockets(zsock, monitor, pacer)\n"),
    ("ATTEMPTS = 3\n", CREDITS_CLASS),
    ("    progress = Progress()\n    counted = []\n",
     '    credits = Credits(zcontext, "inproc://credits")\n    progress = credits.progress\n    counted = []\n'),
    ("start_thread(lambda: counted.append(tally(zcontext, pushpull, points, progress)))",
     "start_thread(lambda: counted.append(tally(zcontext, pushpull, points, credits)))"),
    (START_BITSOURCE, 'start_thread(bitsource, zcontext, pubsub, None, points, 2, "inproc://credits")'),
    ("    zcontext.term()  # every node returns, its sockets closed\n",
     "    close_sockets(credits.push)  # tally is done with it\n    zcontext.term()  # every node returns, its sockets closed\n"),
)

# An XPUB bitsource that waits until subscriptions covering every prefix have arrived (no socket monitor, no
# sleep), and a context of its own for each node, all terminated at the end.
XPUB = (
    ("              count: int | None = None, subscribers: int = 0) -> None:",
     "              count: int | None = None, prefixes: tuple = ()) -> None:"),
    ("    zsock = open_socket(zcontext, zmq.PUB)\n    monitor = zsock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)\n"
     "    monitor.linger = 0\n", "    zsock = open_socket(zcontext, zmq.XPUB)\n"),
    ("        if subscribers:\n            wait_for_subscribers(monitor, subscribers)\n"
     "            time.sleep(SETTLE_SECONDS)  # their subscriptions follow the handshake on the same connection\n",
     "        topics = set()\n        while not all(any(p.startswith(t) for t in topics) for p in prefixes):\n"
     "            event = zsock.recv()\n            if event[:1] == b'\\x01':\n                topics.add(event[1:])\n"),
    ("        zsock.poll()  # a PUB never has input: this waits, until term() raises ContextTerminated\n",
     "        while True:\n            zsock.recv()  # subscriptions come and go; ContextTerminated ends this\n"),
    ("        close_sockets(zsock, monitor)\n", "        close_sockets(zsock)\n"),
)
REFERENCE_NODES = """    nodes = [start_thread(lambda: counted.append(tally(zcontext, pushpull, points, progress))),
             start_thread(pythagoras, zcontext, reqrep),
             start_thread(bitsource, zcontext, pubsub, None, points, 2),
             start_thread(always_yes, zcontext, pubsub, pushpull),
             start_thread(judge, zcontext, pubsub, reqrep, pushpull)]
"""
CONTEXTS_APART = """    contexts = [zcontext] + [zmq.Context() for _ in range(4)]
    nodes = [start_thread(lambda: counted.append(tally(contexts[0], pushpull, points, progress))),
             start_thread(pythagoras, contexts[1], reqrep),
             start_thread(always_yes, contexts[2], pubsub, pushpull),
             start_thread(judge, contexts[3], pubsub, reqrep, pushpull),
             start_thread(bitsource, contexts[4], pubsub, None, points, (b"00", b"01", b"10", b"11"))]
"""

RIGHT = [
    Variant(A, "credits-over-inproc", "estimate_pi paces bitsource with credits that tally's `out` sends back over "
            "an inproc PUSH/PULL pair of its own, instead of lifting the high-water mark", (), CREDITS),
    Variant(A, "xpub-and-a-context-per-node", "bitsource is an XPUB that waits for subscriptions covering every "
            "prefix, and every node has a context of its own", (),
            (*XPUB, (REFERENCE_NODES, CONTEXTS_APART),
             ("    zcontext.term()  # every node returns, its sockets closed\n",
              "    for context in contexts:\n        context.term()\n"))),
]
