"""What a student reads for a failure: the exception and the failing example, without the judge's fixtures."""
from types import SimpleNamespace

from grader.recorder import reason_of


def report(message, path, lineno=7, when="call"):
    crash = SimpleNamespace(message=message, path=str(path), lineno=lineno)
    return SimpleNamespace(longrepr=SimpleNamespace(reprcrash=crash), when=when)


def test_fixture_arguments_are_dropped(tmp_path):
    message = ("AssertionError: wrong\nFailing test case: test_x(\n"
               "    squares=<Remote module squares in student process 4242>,\n"
               "    mc=<Live memcached_client('base', ...)>,\n    n=3,\n)")
    reason = reason_of(report(message, tmp_path / "test_hidden.py"))
    assert reason == "AssertionError: wrong\nFailing test case: test_x(\n    n=3,\n)"


def test_failures_outside_a_test_say_where(tmp_path):
    reason = reason_of(report("AssertionError: x", tmp_path / "test_hidden.py", when="setup"))
    assert reason == "in setup: AssertionError: x"


def test_skips_say_why():
    skipped = SimpleNamespace(longrepr=("t.py", 3, "Skipped: not run: no namespaces here"), when="setup")
    assert reason_of(skipped) == "not run: no namespaces here"
