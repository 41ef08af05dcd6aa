"""Wrong workqueue.py submissions: one realistic mistake each, and the hidden tests that catch it;
and correct alternatives to the reference that the hidden tests must accept in full (RIGHT)."""
from variants import Variant

A = "05-workqueue"

SERVER_LOOP = "        while requests is None or served < requests:\n"
SERVER_END = '''        zsock.linger = 1000  # done, not stopped: give the last reply a second to leave
    except zmq.ContextTerminated:
        pass
'''
ASK_POLL = "    if zsock.poll(round(timeout * 1000)):\n"
TRIES = "            for attempt in range(retries + 1):\n"
NEW_SOCKET = '''                if attempt:  # no reply: this socket is stuck waiting for one, so throw it away
                    zsock.close()
                    zsock = open_socket(zcontext, zmq.REQ)
                    zsock.connect(url)
'''
GIVE_UP = '''            else:
                raise TimeoutError(f"no reply to {payload!r} from {url} after {retries + 1} tries of {timeout} s")
'''
LINGER = "    zsock = zcontext.socket(kind)\n    zsock.linger = 0\n"
WORKER_IDENTITY = '''        if identity is not None:
            zsock.identity = identity
        zsock.connect(url)
'''
WORKER_REPLY = "            zsock.send_multipart([client_id, empty, handle(request)])\n"
BROKER_POLL = "            poller.register(frontend, zmq.POLLIN if idle else 0)  # no idle worker: requests wait in line\n"
BROKER_BACKEND = '''                if message != [READY]:  # a reply: [client_id, b'', reply]
                    frontend.send_multipart(message)
                idle.append(worker_id)
'''
BROKER_FRONTEND = '''                client_id, _, request = frontend.recv_multipart()
                backend.send_multipart([idle.pop(0), b"", client_id, b"", request])
'''
URLS = "    frontend_url, backend_url = loopback_url(), loopback_url()\n"
COLLECT = "            replies[number::clients] = outcome\n"
STOP = '''    finally:
        zcontext.term()  # every node returns, its sockets closed
        for node in nodes:
            node.join()
'''
PROCESS_ALL_BODY = '''    payloads = list(payloads)
    if clients < 1:
        raise ValueError(f"process_all needs at least one client, not {clients}")
    zcontext = zmq.Context()  # shared by every node: its term() stops them all
'''
# The cheapest process_all that looks right from inside: threads and a queue.Queue call handle, no broker, no
# worker protocol, no ZeroMQ at all; a client that "gives up" raises TimeoutError after the client's 8 s.
QUEUE_AND_THREADS = '''    payloads = list(payloads)
    work, replies = queue.Queue(), [None] * len(payloads)

    def serve():
        while (item := work.get()) is not None:
            number, payload = item
            replies[number] = handle(payload)

    threads = [threading.Thread(target=serve) for _ in range(max(workers, 1))]
    for thread in threads:
        thread.start()
    for item in enumerate(payloads):
        work.put(item)
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join(8.0)
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"no reply after 4 tries of 2.0 s")
    return replies
    zcontext = zmq.Context()
'''

# process_all as one ROUTER on a loopback port and nothing else (the red team's): no frontend, no client, no REQ
# socket, no Lazy Pirate. The ROUTER deals the payloads itself to whatever says READY on it, under client ids it makes
# up (one per "client"), resends a payload whose reply is 2 s late and raises TimeoutError after 8 s; with workers > 0
# it keeps that many idle DEALERs connected, so the port looks like a backend with its workers, and calls handle
# itself. Every backend check passes; only the client side, read on the loopback, shows no REQ socket asking.
LONE_ROUTER = '''    payloads = list(payloads)
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    decoys = []
    for _ in range(workers):
        decoys.append(context.socket(zmq.DEALER))
        decoys[-1].linger = 0
        decoys[-1].connect(f"tcp://127.0.0.1:{port}")
    replies = [None] * len(payloads)
    waiting, out, idle, first_sent = list(range(len(payloads))), {}, [], {}
    ids = [b"client-%d" % (n % max(clients, 1)) for n in range(len(payloads))]
    try:
        while any(r is None for r in replies):
            if decoys and waiting and not idle and not router.poll(0):
                number = waiting.pop(0)
                replies[number] = handle(payloads[number])
                continue
            while router.poll(0 if idle and waiting else 10):
                frames = router.recv_multipart()
                worker, body = frames[0], frames[2:]
                if body == [b"READY"]:
                    idle.append(worker)
                elif len(body) == 3:
                    number = int(body[0].split(b"/")[1])
                    if replies[number] is None:
                        replies[number] = body[2]
                    out.pop(number, None)
                    idle.append(worker)
            now = time.monotonic()
            for number, (worker, when) in list(out.items()):
                if now - first_sent[number] > 8.0:
                    raise TimeoutError(f"no reply for {payloads[number]!r} after 4 tries of 2.0 s")
                if now - when > 2.0 and number not in waiting:
                    waiting.insert(0, number)
            while idle and waiting:
                number = waiting[0]
                holder = out.get(number, (None,))[0]
                worker = next((w for w in idle if w != holder), None)
                if worker is None:
                    break
                waiting.pop(0)
                idle.remove(worker)
                router.send_multipart([worker, b"", ids[number] + b"/%d" % number, b"", payloads[number]])
                out[number] = (worker, time.monotonic())
                first_sent.setdefault(number, time.monotonic())
    finally:
        for zsock in [router, *decoys]:
            zsock.close(linger=0)
        context.term()
    return replies
    zcontext = zmq.Context()
'''

PROCESS_ALL_TESTS = ("test_process_all_returns_the_replies_in_payload_order",
                     "test_process_all_answers_every_request_when_a_worker_stops_mid_request",
                     "test_process_all_keeps_several_workers_busy_at_once", "test_process_all_leaves_no_thread_behind",
                     "test_process_all_uses_free_ports", "test_process_all_raises_the_timeout_error_of_a_client")

# The red team's correct queue, built otherwise than the reference (RIGHT's "dynamic-clients"): each replaces the
# reference's broker loop, or process_all's body, and returns before what it replaces.
DEQUE_BROKER = '''    idle = collections.OrderedDict()
    waiting = collections.deque()
    poller = zmq.Poller()
    poller.register(frontend, zmq.POLLIN)
    poller.register(backend, zmq.POLLIN)
    try:
        backend.bind(backend_url)
        frontend.bind(frontend_url)
        while True:
            events = dict(poller.poll(100))
            while backend in events and backend.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                worker_id, empty, *rest = backend.recv_multipart()
                if rest != [READY]:
                    frontend.send_multipart(rest)
                idle.pop(worker_id, None)
                idle[worker_id] = True
            while frontend in events and frontend.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                client_id, empty, request = frontend.recv_multipart()
                waiting.append((client_id, request))
            while idle and waiting:
                worker_id, _ = idle.popitem(last=False)
                client_id, request = waiting.popleft()
                backend.send_multipart([worker_id, b"", client_id, b"", request])
    except zmq.ContextTerminated:
        pass
    finally:
        frontend.close()
        backend.close()
    return
'''
DYNAMIC_CLIENTS = '''    payloads = list(payloads)
    zcontext = zmq.Context()
    frontend_url, backend_url = loopback_url(), loopback_url()
    todo = queue.Queue()
    for item in enumerate(payloads):
        todo.put(item)
    replies = [None] * len(payloads)
    failures = []

    def run_client() -> None:
        try:
            while not failures:
                try:
                    number, payload = todo.get_nowait()
                except queue.Empty:
                    return
                replies[number] = client(zcontext, frontend_url, [payload])[0]
        except zmq.ContextTerminated:
            pass
        except Exception as exc:
            failures.append(exc)

    clients_ = [start_thread(run_client) for _ in range(clients)]
    nodes = [start_thread(broker, zcontext, frontend_url, backend_url)]
    nodes += [start_thread(worker, zcontext, backend_url, handle) for _ in range(workers)]
    try:
        for thread in clients_:
            while thread.is_alive() and not failures:
                thread.join(0.05)
        if failures:
            raise failures[0]
    finally:
        zcontext.term()
        for thread in clients_ + nodes:
            thread.join()
    return replies
    zcontext = zmq.Context()
'''

WRONG = [
    # -- server --------------------------------------------------------------------------------------
    Variant(A, "server-echoes", "the slides' habit: replies with the request itself, never calling handle",
            ("test_server_replies_handle_of_each_request",),
            (("            zsock.send(handle(request))\n", "            zsock.send(request)\n"),)),
    Variant(A, "server-guesses-handle", "answers request * 2, what it guesses handle does, without calling it",
            ("test_server_replies_handle_of_each_request", "test_server_returns_after_exactly_requests_requests"),
            (("            zsock.send(handle(request))\n", "            zsock.send(request * 2)\n"),)),
    Variant(A, "server-one-too-many", "serves requests + 1 requests before it returns",
            ("test_server_returns_after_exactly_requests_requests",),
            ((SERVER_LOOP, "        while requests is None or served <= requests:\n"),)),
    Variant(A, "server-forgets-its-count", "returns None when terminated instead of the number it served",
            ("test_server_returns_its_count_when_terminated",),
            ((SERVER_END, SERVER_END.replace("        pass\n", "        return None\n")),)),
    # -- client --------------------------------------------------------------------------------------
    Variant(A, "client-resends-on-the-stuck-socket", "after a timeout, sends the payload again on the same REQ "
            "socket: ZeroMQ refuses (EFSM), and the client dies with a ZMQError",
            ("test_client_retries_on_a_new_socket_after_a_timeout", "test_client_gives_up_after_retries_naming_the_payload"),
            ((NEW_SOCKET, ""),)),
    Variant(A, "client-waits-again-without-resending", "after a timeout, polls the same socket again instead of "
            "sending the payload on a new one: a lost request is never sent again",
            ("test_client_retries_on_a_new_socket_after_a_timeout",),
            ((NEW_SOCKET, ""),
             ("    zsock.send(payload)\n    if zsock.poll(", "    if zsock.poll("),
             ("                reply = ask(zsock, payload, timeout)\n",
              "                if not attempt:\n                    zsock.send(payload)\n"
              "                reply = ask(zsock, payload, timeout)\n"))),
    Variant(A, "client-decodes-replies", "returns each reply decoded to str, not the bytes that came",
            ("test_client_returns_the_replies_in_payload_order",),
            (("        return zsock.recv()\n", "        return zsock.recv().decode(\"utf-8\", \"replace\")\n"),)),
    Variant(A, "client-one-try-too-many", "makes retries + 2 tries: the first, and one retry more than `retries`",
            ("test_client_gives_up_after_retries_naming_the_payload",),
            ((TRIES, "            for attempt in range(retries + 2):\n"),)),
    Variant(A, "client-retries-counts-every-try", "makes `retries` tries in all, not retries more after the first",
            ("test_client_gives_up_after_retries_naming_the_payload",),
            ((TRIES, "            for attempt in range(retries):\n"),)),
    Variant(A, "client-gives-up-silently", "skips a payload that got no reply and goes on, instead of raising",
            ("test_client_gives_up_after_retries_naming_the_payload",),
            ((GIVE_UP, "            else:\n                continue\n"),)),
    Variant(A, "client-timeout-error-without-payload", "raises TimeoutError('no reply'): which request failed?",
            ("test_client_gives_up_after_retries_naming_the_payload",),
            ((GIVE_UP, '            else:\n                raise TimeoutError("no reply from the server")\n'),)),
    Variant(A, "client-timeout-taken-as-milliseconds", "passes `timeout` (seconds) to poll, which takes "
            "milliseconds: it gives up on a reply after 2 ms instead of 2 s",
            ("test_client_waits_timeout_before_each_retry",),
            ((ASK_POLL, "    if zsock.poll(timeout):\n"),)),
    Variant(A, "client-no-linger", "makes its sockets with the default LINGER (forever): a request that never "
            "left holds term() up once the client is stopped",
            ("test_node_returns_within_a_second_of_termination",),
            ((LINGER, "    zsock = zcontext.socket(kind)\n"),)),
    # -- worker --------------------------------------------------------------------------------------
    Variant(A, "worker-never-says-ready", "waits for work without sending READY first, as a REP server would: "
            "the broker never learns of it, and a REQ socket may not receive before it has sent",
            ("test_worker_says_ready_once_then_answers_each_envelope",),
            (("        zsock.send(READY)\n", ""),)),
    Variant(A, "worker-drops-the-envelope", "sends back handle(request) alone, without [client_id, b'']",
            ("test_worker_says_ready_once_then_answers_each_envelope",),
            ((WORKER_REPLY, "            zsock.send(handle(request))\n"),)),
    Variant(A, "worker-guesses-handle", "answers request * 2, what it guesses handle does, without calling it",
            ("test_worker_says_ready_once_then_answers_each_envelope", "test_worker_uses_the_identity_it_is_given"),
            ((WORKER_REPLY, "            zsock.send_multipart([client_id, empty, request * 2])\n"),)),
    Variant(A, "worker-identity-after-connect", "sets zmq.IDENTITY after connect, when it no longer applies",
            ("test_worker_uses_the_identity_it_is_given",),
            ((WORKER_IDENTITY, "        zsock.connect(url)\n        if identity is not None:\n"
                               "            zsock.identity = identity\n"),)),
    Variant(A, "worker-counts-ready", "counts its READY as a request served",
            ("test_worker_returns_how_many_requests_it_served",),
            (("    served = 0\n    try:\n        if identity", "    served = 1\n    try:\n        if identity"),)),
    # -- broker --------------------------------------------------------------------------------------
    Variant(A, "broker-most-recently-used", "hands each request to the worker idle the shortest time "
            "(idle.pop() takes the last)",
            ("test_broker_gives_each_request_to_the_worker_idle_longest",),
            ((BROKER_FRONTEND, BROKER_FRONTEND.replace("idle.pop(0)", "idle.pop()")),)),
    Variant(A, "broker-round-robin", "deals requests to every worker in turn, busy or not, as a DEALER would",
            ("test_broker_never_gives_a_busy_worker_a_second_request",),
            ((BROKER_BACKEND, BROKER_BACKEND.replace("                idle.append(worker_id)\n",
                                                     "                if worker_id not in idle:\n"
                                                     "                    idle.append(worker_id)\n")),
             (BROKER_FRONTEND, BROKER_FRONTEND.replace("[idle.pop(0), ", "[idle[0], ")
              + "                idle.append(idle.pop(0))\n"))),
    Variant(A, "broker-drops-requests-without-workers", "reads every request, and drops those that come while "
            "no worker is idle",
            ("test_broker_keeps_requests_waiting_until_a_worker_is_ready",),
            ((BROKER_POLL, "            poller.register(frontend, zmq.POLLIN)\n"),
             (BROKER_FRONTEND, "                client_id, _, request = frontend.recv_multipart()\n"
                               "                if not idle:\n                    continue\n"
                               "                backend.send_multipart([idle.pop(0), b\"\", client_id, b\"\", request])\n"))),
    Variant(A, "broker-replies-to-the-last-client", "sends each reply to the client whose request it forwarded "
            "last, not to the one the reply's envelope names",
            ("test_broker_sends_each_reply_to_the_client_that_asked",),
            ((BROKER_BACKEND, BROKER_BACKEND.replace("frontend.send_multipart(message)",
                                                     'frontend.send_multipart([last_client, b"", message[-1]])')),
             ("    idle = []  # worker ids, the one idle longest first\n",
              "    idle = []  # worker ids, the one idle longest first\n    last_client = None\n"),
             (BROKER_FRONTEND, BROKER_FRONTEND + "                last_client = client_id\n"))),
    Variant(A, "broker-reply-keeps-worker-busy", "marks a worker idle after its READY only, never after a reply",
            ("test_broker_passes_requests_and_replies_between_clients_and_workers",),
            ((BROKER_BACKEND, "                if message != [READY]:  # a reply: [client_id, b'', reply]\n"
                              "                    frontend.send_multipart(message)\n"
                              "                else:\n                    idle.append(worker_id)\n"),)),
    Variant(A, "broker-never-returns", "catches ContextTerminated inside its loop and carries on polling",
            ("test_node_returns_within_a_second_of_termination",),
            (("            ready = dict(poller.poll())\n",
              "            try:\n                ready = dict(poller.poll())\n"
              "            except zmq.ContextTerminated:\n                continue  # keep the queue up, whatever happens\n"),)),
    # -- process_all ---------------------------------------------------------------------------------
    Variant(A, "process-all-fixed-ports", "wires the queue on the guide's fixed ports 5555 and 5556",
            ("test_process_all_uses_free_ports",),
            ((URLS, '    frontend_url, backend_url = "tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"\n'),)),
    Variant(A, "process-all-replies-by-client", "puts the clients' replies one after another instead of back "
            "in payload order",
            ("test_process_all_returns_the_replies_in_payload_order",),
            ((COLLECT, "            replies[number::clients] = outcome\n"
                       "            done[number] = outcome\n"),
             ("    replies = [b\"\"] * len(payloads)\n", "    replies = [b\"\"] * len(payloads)\n    done = {}\n"),
             ("    return replies\n    ### END SOLUTION\n\n\ndef main",
              "    return [r for number in sorted(done) for r in done[number]]\n    ### END SOLUTION\n\n\ndef main"))),
    Variant(A, "process-all-patient-clients", "gives its clients a minute's timeout, so that slow requests never "
            "time out: a client whose worker is stuck waits for it instead of retrying elsewhere",
            ("test_process_all_answers_every_request_when_a_worker_stops_mid_request",),
            (("client(zcontext, frontend_url, payloads[number::clients])",
              "client(zcontext, frontend_url, payloads[number::clients], timeout=60.0)"),)),
    Variant(A, "process-all-one-client", "ignores `clients`: one client sends every payload, one at a time, so "
            "extra workers have nothing to do",
            ("test_process_all_keeps_several_workers_busy_at_once",),
            (("    if clients < 1:\n", "    clients = 1\n    if clients < 1:\n"),)),
    Variant(A, "process-all-leaves-threads", "returns once the clients are done, without stopping the broker "
            "and the workers",
            ("test_process_all_leaves_no_thread_behind",),
            ((STOP, "    finally:\n        pass\n"),)),
    Variant(A, "process-all-queue-and-threads", "no queue at all: threads take the payloads from a queue.Queue "
            "and call handle themselves (no broker, no worker protocol, no ZeroMQ), and it raises TimeoutError when "
            "one is stuck: the replies, the order, the threads and the error all look right from inside",
            PROCESS_ALL_TESTS,
            ((PROCESS_ALL_BODY, QUEUE_AND_THREADS),)),
    Variant(A, "process-all-lone-router", "no queue at all: one ROUTER that deals the payloads itself to the workers "
            "that join it, under made-up client ids, resends late ones and raises TimeoutError after 8 s: every check "
            "at the backend passes, and nothing ever crossed a client's connection to a frontend",
            PROCESS_ALL_TESTS, ((PROCESS_ALL_BODY, LONE_ROUTER),)),
    Variant(A, "process-all-sandbagged-baseline", "one client, one request at a time, and a broker that sleeps 60 ms "
            "before each request while it has only ever seen one worker, so that one worker looks three times slower "
            "than four (the red team's: a speed-up measured against a baseline the student controls proves nothing)",
            ("test_process_all_keeps_several_workers_busy_at_once",),
            (("    idle = []  # worker ids, the one idle longest first\n",
              "    idle = []  # worker ids, the one idle longest first\n    seen = set()\n"),
             (BROKER_BACKEND, BROKER_BACKEND + "                seen.add(worker_id)\n"),
             (BROKER_FRONTEND, BROKER_FRONTEND.replace("                backend.send_multipart(",
                                                       "                if len(seen) == 1:\n"
                                                       "                    time.sleep(0.06)\n"
                                                       "                backend.send_multipart(")),
             ("    if clients < 1:\n", "    clients = 1\n    if clients < 1:\n"))),
    Variant(A, "process-all-swallows-timeouts", "returns what the other clients got when one gives up, instead "
            "of raising its TimeoutError",
            ("test_process_all_raises_the_timeout_error_of_a_client",),
            (("            if isinstance(outcome, BaseException):\n                raise outcome\n",
              "            if isinstance(outcome, BaseException):\n                continue\n"),)),
]

RIGHT = [
    Variant(A, "process-all-contiguous-shares", "gives each client a contiguous slice of the payloads instead of "
            "every clients-th one", (),
            (("client(zcontext, frontend_url, payloads[number::clients])",
              "client(zcontext, frontend_url, payloads[number * share:(number + 1) * share])"),
             (COLLECT, "            replies[number * share:(number + 1) * share] = outcome\n"),
             ("    nodes += [start_thread(run_client, number) for number in range(clients)]\n",
              "    share = -(-len(payloads) // clients)\n"
              "    nodes += [start_thread(run_client, number) for number in range(clients)]\n"))),
    Variant(A, "client-rcvtimeo", "the client waits with the socket option RCVTIMEO and catches zmq.Again, "
            "instead of polling", (),
            (("    zsock.send(payload)\n    if zsock.poll(round(timeout * 1000)):\n        return zsock.recv()\n"
              "    return None\n",
              "    zsock.rcvtimeo = round(timeout * 1000)\n    zsock.send(payload)\n    try:\n"
              "        return zsock.recv()\n    except zmq.Again:\n        return None\n"),)),
    Variant(A, "broker-deques", "the broker reads every request at once into a deque of its own, keeps idle "
            "workers in a deque, and always polls both sockets", (),
            (("import queue\n", "import collections\nimport queue\n"),
             ("    idle = []  # worker ids, the one idle longest first\n",
              "    idle = collections.deque()  # worker ids, the one idle longest first\n"
              "    waiting = collections.deque()  # [client_id, request], oldest first\n"),
             (BROKER_POLL, "            poller.register(frontend, zmq.POLLIN)\n"),
             (BROKER_FRONTEND, "                client_id, _, request = frontend.recv_multipart()\n"
                               "                waiting.append((client_id, request))\n"
                               "            while idle and waiting:\n"
                               "                client_id, request = waiting.popleft()\n"
                               "                backend.send_multipart([idle.popleft(), b\"\", client_id, b\"\", request])\n"))),
    Variant(A, "dynamic-clients", "the broker keeps idle workers in an OrderedDict and waiting requests in a deque, "
            "always polls both sockets with a timeout and binds the backend first; process_all starts its clients "
            "before the broker binds, and they take the payloads one at a time from a shared queue.Queue, each sent "
            "with a client() of its own: a new REQ socket, and a new TCP connection, for every payload (the red "
            "team's)", (),
            (("import queue\n", "import collections\nimport queue\n"),
             ("    idle = []  # worker ids, the one idle longest first\n", DEQUE_BROKER),
             (PROCESS_ALL_BODY, DYNAMIC_CLIENTS))),
]
