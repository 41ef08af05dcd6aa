"""Loads the course's test harness (real memcached servers; see harness.py) for every test here,
and points a failing test at the function that is still to be written."""
import pytest

pytest_plugins = ["harness"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        entry = call.excinfo.traceback[-1]
        report.sections.append(("still to write", f"{entry.name}() in {entry.path.name}, line {entry.lineno + 1}: "
                                                  "replace its `raise NotImplementedError()` with your code"))
