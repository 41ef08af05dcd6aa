"""The judge's handle on a student process: what a test sees when student code returns, raises, refuses or dies."""
from __future__ import annotations

import os
import socket
import time

import pytest
import zmq
from conftest import zygote_for

from grader import lockdown
from grader.harness import free_port
from grader.settings import Settings
from grader.student_process import (
    NotPlainData,
    NotWrittenYet,
    StudentCodeRaised,
    StudentProcessEnded,
    background,
    builtin,
    duplicate_socket,
    for_each,
    keep,
    library,
    one_pass,
    random_generator,
    repeat,
    repeated,
    stand_in,
    starmap,
    tcp_socket,
    text_stream,
    value,
    zmq_context,
)

MODULE = '''
import os

def double(x):
    return x * 2

def boom(x):
    raise ValueError("no " + "x" * 2000)

def leave(status):
    os._exit(status)

def thing():
    return object()

class Nearly(int):
    pass

def nearly():
    return Nearly(3)

def decorate(f):
    return lambda *args: ("wrapped", f(*args))

def shout():
    print("y" * 200_000)
    return 1

LIMIT = 7

def wait_on(zcontext, url):
    import zmq
    sock = zcontext.socket(zmq.PULL)
    sock.linger = 0
    sock.bind(url)
    try:
        return sock.recv()
    except zmq.ContextTerminated:
        return b"terminated"
    finally:
        sock.close()

def open_listener():
    import socket
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s

def call_all(f, xs):
    return [f(x) for x in xs]

def draw(rng):
    return rng.getrandbits(8)

def node(zcontext, url):
    import zmq
    sock = zcontext.socket(zmq.PUSH)
    sock.linger = 5000  # the point still goes after close()
    sock.connect(url)
    sock.send(b"point")
    sock.close()
    return helper(zcontext)

def helper(zcontext):
    import zmq
    sock = zcontext.socket(zmq.PULL)
    sock.close()
    return "sent"

def report(n, tell, out):
    for i in range(n):
        tell(i)
    out.write("done")
    return n

def place(key, servers):
    servers.append("mine")  # every call has arguments of its own: this is never seen by the next
    if key == "bad":
        raise KeyError(key)
    return f"{key}@{len(servers)}"

def apply(items, f):
    return [f(item) for item in items] + [hasattr(items, "__len__")]

def tally(words):
    from collections import Counter
    return Counter(words)

class Refusal(ValueError):
    pass

def refuse():
    raise Refusal("no")

def stub():
    raise NotImplementedError()

def spin(n):
    return sum(range(n))

def sizes(things):
    return [len(thing) for thing in things]

def default_timeout():
    import socket
    return socket.getdefaulttimeout()

def interfaces():
    import socket
    return sorted(name for _, name in socket.if_nameindex())

def loopback_up():
    import fcntl, socket, struct
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, 0x8914, struct.pack("16sh22x", b"lo", 1))  # SIOCSIFFLAGS: IFF_UP

if __name__ == "__main__":
    import sys
    print("argv", sys.argv[1:], "as", os.getuid(), "fds", len(os.listdir("/proc/self/fd")))
    for line in sys.stdin:
        print("got", line.rstrip("\\n"))
    print("bye \u00fc", file=sys.stderr)
    sys.exit(3)
'''


@pytest.fixture(scope="module")
def zygote():
    with zygote_for("mod", MODULE) as zygote:
        yield zygote


@pytest.fixture
def process(zygote):
    process = zygote.spawn()
    process.start(timeout=30)
    yield process
    process.end()


def test_plain_results_come_back(process):
    mod = process.module()
    assert mod.double(21) == 42 and mod.double((1, b"x")) == (1, b"x", 1, b"x")


def test_an_exception_is_its_type_and_message_cut_short_and_where(process):
    with pytest.raises(StudentCodeRaised) as caught:
        process.module().boom(1)
    assert caught.value.type_name == "ValueError" and len(caught.value.message) <= 500
    assert str(caught.value).startswith("boom(1) raised ValueError: no xx")
    assert str(caught.value).endswith("(raised at mod.py, line 8)")


@pytest.mark.parametrize("function, shown", [("thing", "object is not plain data"),
                                             ("nearly", "Nearly is not plain data")])
def test_what_is_not_plain_data_fails_with_what_it_was(process, function, shown):
    with pytest.raises(NotPlainData, match=shown) as caught:
        getattr(process.module(), function)()
    assert "Only None, bool, int, float, str, bytes" in str(caught.value)


def test_an_exit_ends_the_process_and_says_how(process):
    with pytest.raises(StudentProcessEnded, match=r"exited with status 3 during leave\(3\).*os._exit"):
        process.module().leave(3)


def test_a_returned_function_stays_there_and_can_be_called(process):
    calls = []
    process.listen("f", calls.append)
    wrapped = process.module().decorate(stand_in("f", ("times", 10)))
    assert wrapped(4) == ("wrapped", 40) and calls == [(4,)]
    assert "decorate(f)" in repr(wrapped)


def test_printed_output_is_kept_up_to_a_limit(process):
    assert process.module().shout() == 1
    out = process.take_output()
    assert out.startswith("y" * 1000) and "more characters of output not kept" in out and len(out) < 70_000


def test_each_process_is_fresh(zygote, process):
    process.assign("SEEN", 1)
    other = zygote.spawn()
    other.start(timeout=30)
    with pytest.raises(StudentCodeRaised, match="AttributeError"):
        other.module().SEEN()
    other.end()


def test_a_background_call_runs_while_the_judge_works_and_terminates_its_context(process):
    """A node started in the background; the judge sends on its own socket, and terminates a second one."""
    mod, url = process.module(), f"tcp://127.0.0.1:{free_port()}"
    first = background(mod.wait_on, zmq_context("a"), url)
    with zmq.Context() as ours:
        push = ours.socket(zmq.PUSH)
        push.linger = 0
        push.connect(url)
        push.send(b"hello")
        assert first.result(timeout=10) == b"hello"
        push.close()
    second = background(mod.wait_on, zmq_context("b"), f"tcp://127.0.0.1:{free_port()}")
    assert not second.done(timeout=0.2)
    process.handle(zmq_context("b")).term()
    assert second.result(timeout=10) == b"terminated"


def test_kept_objects_stay_there_and_the_judge_reads_their_options_itself(process):
    listener = keep(process.module().open_listener)
    port = listener.getsockname()[1]
    ours = duplicate_socket(process.pid, listener.fileno())
    try:
        assert ours.getsockname()[1] == port
        assert ours.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    finally:
        ours.close()
    assert "open_listener()" in repr(listener)


def test_values_events_and_threads_as_the_judge_sees_them(process):
    mod, told, written = process.module(), [], []
    assert value(mod.LIMIT) == 7
    process.listen("tell", told.append)
    process.listen("out", written.append)
    assert mod.report(3, stand_in("tell", ("identity",)), text_stream("out")) == 3
    assert told == [(0,), (1,), (2,)] and written == [("done",)]
    assert process.threads() >= 1


def test_repeated_calls_and_generators_built_there(process):
    """repeat: many calls in one round trip; each generator name is one random.Random(seed), drawn on in turn."""
    import random

    mod = process.module()
    ours = random.Random(5)
    assert repeat(mod.draw, 300, random_generator(5, "a")) == [ours.getrandbits(8) for _ in range(300)]
    assert mod.draw(random_generator(5, "a")) == ours.getrandbits(8)  # the same generator, drawn on again
    assert mod.draw(random_generator(5, "b")) == random.Random(5).getrandbits(8)
    with pytest.raises(StudentCodeRaised, match="ValueError"):
        repeat(mod.boom, 3, 1)
    their_random = process.handle(library("random"))
    their_random.seed(3)
    assert their_random.getstate() == random.Random(3).getstate()


def test_a_stub_is_not_written_yet_and_ends_the_test_at_once(process):
    """NotImplementedError is not an Exception here: Hypothesis does not shrink it, `except` clauses miss it."""
    with pytest.raises(NotWrittenYet, match=r"^not written yet: stub \(stub\(\) raised NotImplementedError") as caught:
        process.module().stub()
    assert not isinstance(caught.value, Exception)


def test_built_sockets_large_arguments_and_library_settings(process):
    mod, listener = process.module(), tcp_socket("listener", listening=True)
    host, port = process.handle(listener).getsockname()
    with socket.create_connection((host, port), timeout=10):
        pass
    assert tcp_socket() != tcp_socket(), "each call describes another socket"
    assert mod.sizes(repeated([("x", 3 << 20), ("\u00fc", 2)])) == [3 << 20, 2]
    process.handle(library("socket")).setdefaulttimeout(2.5)
    assert mod.default_timeout() == 2.5


def test_the_judge_reads_the_cpu_time_of_the_student_process(process):
    before = process.cpu_time()
    background(process.module().spin, 3_000_000).result(timeout=30)  # in a thread that has ended since
    assert process.cpu_time() > before


def test_a_script_runs_the_module_as_a_program_with_its_arguments_and_streams(zygote):
    script = zygote.run_script("server", "1060")
    try:
        script.stdin.write("one\nzwei \u00fc\n".encode())
        script.stdin.close()
        assert script.wait(30)
        out, errors = script.stdout.read().decode(), script.stderr.read().decode()
    finally:
        ended = script.end()
    assert out.startswith("argv ['server', '1060'] as ") and out.endswith("got one\ngot zwei \u00fc\n")
    assert errors == "bye \u00fc\n" and ended == {"killed": False, "exit": 3}
    fds = int(out.split(" fds ")[1].split()[0])
    assert fds <= 4, "stdin, stdout, stderr, and the listing's own descriptor: nothing of the zygote's"


def test_a_script_runs_as_the_student_uid(zygote):
    """As root, a numeric uid of its own (lockdown.student_uid); without root, this user, in the sandbox's
    user namespace (which maps it to itself)."""
    script = zygote.run_script()
    try:
        script.stdin.close()
        assert script.wait(30)
        out = script.stdout.read().decode()
    finally:
        script.end()
    assert f" as {lockdown.student_uid(Settings.from_environment()) or os.getuid()} " in out


def test_a_private_network_has_only_a_loopback(zygote):
    process = zygote.spawn(private_network=True)
    try:
        process.start(timeout=30)
        assert process.module().interfaces() == ["lo"]
        assert os.readlink(f"/proc/{process.pid}/ns/net") != os.readlink("/proc/self/ns/net")
    finally:
        process.end()


def test_the_student_cannot_configure_its_private_network(zygote):
    """As root, made while the child is root, the namespace belongs to the machine: the student uid holds no
    capability there. Without root, the child drops every capability of the user namespace it made."""
    process = zygote.spawn(private_network=True)
    try:
        process.start(timeout=30)
        with pytest.raises(StudentCodeRaised, match="PermissionError"):
            process.module().loopback_up()
    finally:
        process.end()


def test_a_stalled_stand_in_stalls_its_first_call_with_that_argument_only(process):
    """A worker stuck mid-request: the first call with b'x' sleeps; another call with b'x' goes by at once."""
    mod, calls = process.module(), []
    process.listen("g", calls.append)
    function = stand_in("g", ("identity",), stall=(b"x", 30))
    stuck = background(mod.call_all, function, [b"x"])
    assert not stuck.done(timeout=0.3)
    assert mod.call_all(function, [b"a", b"x"]) == [b"a", b"x"]
    assert not stuck.done() and calls == [(b"x",), (b"a",), (b"x",)]


def test_for_each_and_starmap_are_one_round_trip_with_arguments_of_its_own_per_call(process):
    mod = process.module()
    assert for_each(mod.place, ["a", "b", "c"], ["s1"]) == ["a@2", "b@2", "c@2"]
    with pytest.raises(StudentCodeRaised, match=r"^place\('bad', \['s1'\]\) raised KeyError"):
        for_each(mod.place, ["a", "bad", "c"], ["s1"])
    assert starmap(mod.place, [("a", ["s1"]), ("b", ["s1", "s2"])]) == ["a@2", "b@3"]
    with pytest.raises(StudentCodeRaised, match=r"^place\('bad', \['s2'\]\) raised KeyError"):
        starmap(mod.place, [("a", ["s1"]), ("bad", ["s2"])])


def test_module_functions_built_iterables_and_tables_as_arguments(process):
    mod, calls = process.module(), []
    process.listen("f", calls.append)
    table = stand_in("f", ("table", {"a": 1, "b": 2}, 0))
    assert mod.apply(one_pass(["a", "b", "z"]), table) == [1, 2, 0, False] and calls == [("a",), ("b",), ("z",)]
    assert mod.apply(one_pass(["a"], "map"), table) == [1, False]
    assert mod.apply(["x"], mod.double) == ["xx", True]  # a function of the module, given as an argument


def test_a_kept_dict_subclass_is_read_through_builtins(process):
    mod = process.module()
    with pytest.raises(NotPlainData, match="Counter is not plain data"):
        mod.tally(["a", "a"])
    kept = keep(mod.tally, ["a", "a", "b"])
    assert process.handle(builtin("isinstance"))(kept, builtin("dict")) is True
    assert process.handle(builtin("dict"))(kept) == {"a": 2, "b": 1}


def test_exceptions_carry_their_bases(process):
    mod = process.module()
    with pytest.raises(StudentCodeRaised) as caught:
        mod.refuse()
    assert caught.value.type_name == "Refusal" and "ValueError" in caught.value.kinds


def test_an_asking_stand_in_is_answered_by_the_judge_at_the_moment_of_the_call(process):
    """No table travels to the student side: each call reaches the judge, whose answer may take its time."""
    mod, heard = process.module(), []

    def answer(args):
        heard.append(args)
        time.sleep(0.05)  # the call waits for the judge
        return ("secret", args[0] * 7)

    process.answer("f", answer)
    started = time.monotonic()
    assert mod.call_all(stand_in("f", ("ask",)), [1, 2]) == [("secret", 7), ("secret", 14)]
    assert heard == [(1,), (2,)] and time.monotonic() - started >= 0.1
    with pytest.raises(StudentCodeRaised, match="no answer for g in this test"):
        mod.call_all(stand_in("g", ("ask",)), [1])
