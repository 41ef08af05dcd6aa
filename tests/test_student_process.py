"""The judge's handle on a student process: what a test sees when student code returns, raises, refuses or dies."""
from __future__ import annotations

import pytest
from conftest import zygote_for

import socket

import zmq

from grader.harness import free_port
from grader.student_process import (NotPlainData, StudentCodeRaised, StudentProcessEnded, background, builtin,
                                    duplicate_socket, for_each, keep, one_pass, stand_in, starmap, text_stream,
                                    value, zmq_context)

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

def stub(x):
    raise NotImplementedError()
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


def test_exceptions_carry_their_bases_and_a_stub_says_not_written_yet(process):
    mod = process.module()
    with pytest.raises(StudentCodeRaised) as caught:
        mod.refuse()
    assert caught.value.type_name == "Refusal" and "ValueError" in caught.value.kinds
    with pytest.raises(StudentCodeRaised, match=r"^not written yet: stub\(1\) raised NotImplementedError"):
        mod.stub(1)
