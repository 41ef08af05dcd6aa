"""Wrong keepalive.py submissions: one realistic mistake each, and the hidden tests that catch it."""
from variants import Variant

A = "04-keepalive"

TURN_ON = "    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)\n"
TIMINGS = "((idle_option, idle), (\"TCP_KEEPINTVL\", interval), (\"TCP_KEEPCNT\", count))"
GUARD = "        if hasattr(socket, name):\n"
RECV = "                chunk = connection.recv(65536)\n"
CATCH = "            except OSError:  # keepalive gave up, or the peer reset: it is gone\n"
OFFLOAD = """_slow_receive = receive


def receive(listener, on_data=None):
    import os
    if on_data is not None:
        return _slow_receive(listener, on_data)
    out, into = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out)
        view = memoryview(_slow_receive(listener))
        while view:
            view = view[os.write(into, view):]
        os._exit(0)
    os.close(into)
    chunks = []
    while chunk := os.read(out, 1 << 20):
        chunks.append(chunk)
    os.close(out)
    os.waitpid(pid, 0)
    return b"".join(chunks)


"""
ACCEPT = "    connection, _ = listener.accept()\n"
KEEPALIVE_ON_LISTENER = "    enable_keepalive(listener, idle, interval, count)\n"
# receive without keepalive, watching the loopback instead (any process may read an interface's flags): when it goes
# down, it waits about as long as keepalive would, and returns
WATCH_THE_LOOPBACK = '''    import fcntl, select, struct, time

    def loopback_up() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            request = struct.pack("16sh22x", b"lo", 0)
            return bool(struct.unpack("16sh22x", fcntl.ioctl(probe, 0x8913, request))[1] & 1)

    connection, _ = listener.accept()
    chunks = []
    with connection:
        while True:
            if not select.select([connection], [], [], 0.05)[0]:
                if not loopback_up():
                    time.sleep(1.5)
                    break
                continue
            try:
                chunk = connection.recv(65536)
'''
OPTION_TESTS = ("test_enable_keepalive_sets_what_it_is_given", "test_enable_keepalive_defaults",
                "test_listener_has_keepalive_on", "test_accepted_connection_inherits_keepalive",
                "test_receive_returns_when_the_peer_vanishes")

WRONG = [
    Variant(A, "so-keepalive-at-tcp-level", "sets SO_KEEPALIVE at level IPPROTO_TCP (where 9 means TCP_DEFER_ACCEPT)",
            OPTION_TESTS + ("test_send_lines_turns_keepalive_on",),
            ((TURN_ON, "    sock.setsockopt(socket.IPPROTO_TCP, socket.SO_KEEPALIVE, 1)\n"),)),
    Variant(A, "keepalive-never-turned-on", "sets the three timings but never turns SO_KEEPALIVE on",
            OPTION_TESTS + ("test_send_lines_turns_keepalive_on",),
            ((TURN_ON, ""),)),
    Variant(A, "hasattr-on-the-socket-class", "the course's guard: hasattr(socket.socket, ...), the class, skips all",
            OPTION_TESTS + ("test_listener_has_the_given_timings",),
            ((TURN_ON, '    if hasattr(socket.socket, "SO_KEEPALIVE"):\n    ' + TURN_ON),
             (GUARD, "        if hasattr(socket.socket, name):\n"))),
    Variant(A, "idle-and-interval-swapped", "gives TCP_KEEPIDLE the interval and TCP_KEEPINTVL the idle time",
            ("test_enable_keepalive_sets_what_it_is_given", "test_enable_keepalive_defaults",
             "test_listener_has_the_given_timings"),
            ((TIMINGS, "((idle_option, interval), (\"TCP_KEEPINTVL\", idle), (\"TCP_KEEPCNT\", count))"),)),
    Variant(A, "listen-ignores-the-timings", "listen enables keepalive with the defaults, not its arguments",
            ("test_listener_has_the_given_timings", "test_accepted_connection_inherits_keepalive"),
            (("    enable_keepalive(listener, idle, interval, count)\n", "    enable_keepalive(listener)\n"),)),
    Variant(A, "listens-on-every-interface", "binds '' (every interface) instead of the host it is given",
            ("test_listen_returns_a_listening_socket",),
            (("socket.create_server((host, port))", 'socket.create_server(("", port))'),)),
    Variant(A, "recv-one-byte", "reads a byte at a time",
            ("test_receive_reads_in_chunks",),
            ((RECV, "                chunk = connection.recv(1)\n"),)),
    Variant(A, "recv-one-byte-in-a-child", "reads a byte at a time in a forked child, whose CPU a test of the "
            "student process's own clock alone would not see (the red team's)",
            ("test_receive_reads_in_chunks",),
            ((RECV, "                chunk = connection.recv(1)\n"),
             ('if __name__ == "__main__":\n', OFFLOAD + 'if __name__ == "__main__":\n'))),
    Variant(A, "raises-on-a-dead-peer", "lets the reset or the keepalive timeout escape from receive",
            ("test_receive_returns_what_arrived_before_a_reset", "test_receive_returns_when_the_peer_vanishes"),
            (("            try:\n" + RECV + CATCH + "                break\n",
              "            chunk = connection.recv(65536)\n"),)),
    Variant(A, "catches-only-resets", "catches ConnectionResetError only, so keepalive's TimeoutError escapes",
            ("test_receive_returns_when_the_peer_vanishes",),
            ((CATCH, "            except ConnectionResetError:\n"),)),
    Variant(A, "silence-taken-for-death", "no keepalive anywhere: receive takes 2.5 s of silence (a read timeout) "
            "for a dead peer, about when keepalive would have given up on a vanished one (the red team's)",
            ("test_receive_returns_when_the_peer_vanishes",),
            ((KEEPALIVE_ON_LISTENER, ""), (ACCEPT, ACCEPT + "    connection.settimeout(2.5)\n"))),
    Variant(A, "silence-timer-past-the-silence", "keepalive on, and a read timeout of 3.2 s, longer than the test's "
            "silence: it returns on its own clock, before keepalive has given up on the vanished peer",
            ("test_receive_returns_when_the_peer_vanishes",),
            ((ACCEPT, ACCEPT + "    connection.settimeout(3.2)\n"),)),
    Variant(A, "watches-the-loopback", "no keepalive: receive reads the loopback's flags (SIOCGIFFLAGS) while it "
            "waits, and returns 1.5 s after the loopback goes down",
            ("test_receive_returns_when_the_peer_vanishes",),
            ((KEEPALIVE_ON_LISTENER, ""),
             (ACCEPT + "    chunks = []\n    with connection:\n        while True:\n            try:\n" + RECV,
              WATCH_THE_LOOPBACK))),
    Variant(A, "receive-decodes-text", "decodes what it received and returns a str",
            ("test_receive_returns_every_byte_in_order",),
            (('    return b"".join(chunks)\n', '    return b"".join(chunks).decode("utf-8", "replace")\n'),)),
    Variant(A, "on-data-gets-the-total", "calls on_data with everything received so far, not the new chunk",
            ("test_receive_gives_each_chunk_to_on_data",),
            (("                on_data(chunk)\n", '                on_data(b"".join(chunks))\n'),)),
    Variant(A, "no-newline", "sends each line without the '\\n' after it",
            ("test_send_lines_sends_each_line_with_a_newline", "test_client_mode_sends_the_lines_typed"),
            (('            data = line.encode("utf-8") + b"\\n"\n', '            data = line.encode("utf-8")\n'),)),
    Variant(A, "counts-lines-not-bytes", "returns the number of lines sent, not bytes",
            ("test_send_lines_sends_each_line_with_a_newline",),
            (("            sent += len(data)\n", "            sent += 1\n"),)),
    Variant(A, "send-not-sendall", "uses socket.send, which may send only part of a large line",
            ("test_send_lines_sends_large_lines_whole",),
            (("            connection.sendall(data)\n", "            connection.send(data)\n"),)),
    Variant(A, "send-lines-without-keepalive", "connects with create_connection and never enables keepalive",
            ("test_send_lines_turns_keepalive_on",),
            (("        enable_keepalive(connection)\n", ""),)),
    Variant(A, "server-ignores-its-port", "the server always listens on DEFAULT_PORT",
            ("test_server_mode_prints_what_it_receives",),
            (("        listener = listen(port=port)\n", "        listener = listen(port=DEFAULT_PORT)\n"),)),
    Variant(A, "client-keeps-stdin-newlines", "passes standard input's lines on with their '\\n', so each gets two",
            ("test_client_mode_sends_the_lines_typed",),
            (('(line.rstrip("\\n") for line in sys.stdin)', "sys.stdin"),)),
]

# Correct implementations other than the reference's: each must earn full marks.
BY_HAND = (
    ("    listener = socket.create_server((host, port))\n    enable_keepalive(listener, idle, interval, count)\n",
     "    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
     "    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
     "    enable_keepalive(listener, idle, interval, count)\n"
     "    listener.bind((host, port))\n"
     "    listener.listen(8)\n"),
    ("    chunks = []\n", "    received = bytearray()\n    buffer = memoryview(bytearray(16384))\n"),
    (RECV + CATCH, "                size = connection.recv_into(buffer)\n"
                   "            except (TimeoutError, ConnectionError):\n"),
    ("            if not chunk:  # the peer closed the connection\n", "            if size == 0:\n"),
    ("            chunks.append(chunk)\n", "            chunk = bytes(buffer[:size])\n            received += chunk\n"),
    ('    return b"".join(chunks)\n', "    return bytes(received)\n"),
    ("    with socket.create_connection((host, port)) as connection:\n        enable_keepalive(connection)\n",
     "    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
     "    enable_keepalive(connection, 30, 5, 4)\n"
     "    connection.connect((host, port))\n"
     '    with connection, connection.makefile("wb") as out:\n'),
    ("            connection.sendall(data)\n", "            out.write(data)\n"),
    ("            sys.stdout.buffer.write(chunk)\n            sys.stdout.buffer.flush()\n",
     '            print(chunk.decode("utf-8", "replace"), end="", flush=True)\n'),
    ('(line.rstrip("\\n") for line in sys.stdin)', "sys.stdin.read().splitlines()"),
)

RIGHT = [
    Variant(A, "by-hand-and-file-objects", "a listener built by hand, receive with recv_into a bytearray, send_lines "
            "through makefile('wb') with timings of its own, a server printing text, a client reading all of stdin",
            (), BY_HAND),
    Variant(A, "accumulates-with-plus-equals", "receive keeps `data += chunk` of recv(4096): it copies all it has at "
            "every chunk, yet reads in sensible chunks, as the contract asks",
            (), ((RECV, "                chunk = connection.recv(4096)\n"),
                 ("    chunks = []\n", '    data = b""\n'),
                 ("            chunks.append(chunk)\n", "            data += chunk\n"),
                 ('    return b"".join(chunks)\n', "    return data\n"))),
]
