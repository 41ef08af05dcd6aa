"""What a student reads for a failure: the exception, the failing example, their own file and line."""
from types import SimpleNamespace

from grader.recorder import reason_of


def report(message, path, lineno=7, when="call"):
    crash = SimpleNamespace(message=message, path=str(path), lineno=lineno)
    return SimpleNamespace(longrepr=SimpleNamespace(reprcrash=crash), when=when)


def test_fixture_arguments_and_sandbox_paths_are_dropped(tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    message = ("AssertionError: wrong\nFailing test case: test_x(\n"
               f"    squares=<module 'squares' from '{student}/squares.py'>,\n"
               "    mc=<pymemcache.client.base.Client object at 0x7f00>,\n    n=3,\n)")
    reason = reason_of(report(message, student / "squares.py"), str(student))
    assert reason == ("AssertionError: wrong\nFailing test case: test_x(\n    n=3,\n)\n"
                      "(raised at squares.py, line 7)")


def test_failures_outside_the_students_code_name_no_line(tmp_path):
    reason = reason_of(report("AssertionError: x", tmp_path / "test_hidden.py", when="setup"), str(tmp_path / "s"))
    assert reason == "in setup: AssertionError: x"


def test_skips_say_why():
    skipped = SimpleNamespace(longrepr=("t.py", 3, "Skipped: not run: no namespaces here"), when="setup")
    assert reason_of(skipped, None) == "not run: no namespaces here"
