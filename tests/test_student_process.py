"""The judge's handle on a student process: what a test sees when student code returns, raises, refuses or dies."""
from __future__ import annotations

import pytest
from conftest import zygote_for

from grader.student_process import NotPlainData, StudentCodeRaised, StudentProcessEnded, stand_in

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
