"""The pytest plugin that runs inside the grading child process.

It passes on where the student's box is (`--student-box`: never on `sys.path`: this
process never imports the student's code, student processes do). It records what
happens:
`--grader-manifest FILE` writes the collected tests and their points (run with
`--collect-only`, before any student code exists in the process), and
`--grader-channel FILE` appends one event per test start and result (channel.py);
`--unsealed` tells the hidden tests' fixtures that student processes run without
the wall (grading was told --unsealed); `--loopback-capture-fd` hands them a packet
socket the grading opened (lockdown.py), kept from every process the judge starts.

A failure the judge raised because the student process ended counts as a crash (read from the
exception itself, in any phase of the test); one because the grader's own zygote is gone, as not run.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import time
from pathlib import Path

import pytest
import pytest_timeout
from pytest_timeout import PYTEST_FAILURE_MESSAGE

from grader import channel
from grader.scoring import CRASHED, FAILED, NOT_RUN, PASSED, TIMED_OUT
from grader.student_errors import StudentProcessEnded, ZygoteGone

# pytest-timeout's own failure text, 'Timeout (>%ss) from pytest-timeout.', around its number
TIMEOUT_BEFORE, TIMEOUT_AFTER = PYTEST_FAILURE_MESSAGE.split("%s")

REASON_LIMIT = 2000
_FIXTURE_ARGUMENT = re.compile(r"^\s+\w+=<[^\n]*>,\n", re.MULTILINE)  # fixtures: modules, clients...


def pytest_addoption(parser):
    group = parser.getgroup("grader", "course grading (used by `grader grade`)")
    group.addoption("--student-box", help="box of the student's modules, for student processes (never on sys.path)")
    group.addoption("--grader-manifest", help="write the collected tests and their points to this JSON file")
    group.addoption("--grader-channel", help="append test events to this file")
    group.addoption("--unsealed", action="store_true", help="student processes run without the wall (wall.py)")
    group.addoption("--student-uid", type=int, help="as root: the uid student processes become (lockdown.py)")
    group.addoption("--loopback-capture-fd", type=int,
                    help="a packet socket of the grading's network namespace, opened by the grading (lockdown.py)")


def pytest_configure(config):
    fd = config.getoption("loopback_capture_fd")
    if fd is not None:
        os.set_inheritable(fd, False)  # the judge's alone: no process it starts (student code) gets it
    if config.getoption("grader_manifest"):
        config.pluginmanager.register(ManifestWriter(config), "grader-manifest")
    path = config.getoption("grader_channel")
    if path:
        config.pluginmanager.register(Recorder(path), "grader-recorder")


def describe(item) -> str:
    """The first paragraph of the test's docstring: what it checks, in words."""
    doc = inspect.getdoc(getattr(item, "function", None)) or ""
    return " ".join(doc.split("\n\n")[0].split())


def timeout_of(item) -> float:
    """The test's time limit as pytest-timeout itself reads it (its marker, by argument or keyword, over
    the ini; each value checked, with where it came from)."""
    return float(pytest_timeout._get_item_settings(item).timeout or 0)


class ManifestWriter:
    def __init__(self, config):
        self.path = config.getoption("grader_manifest")

    def pytest_collection_finish(self, session):
        entries = []
        for item in session.items:
            marker = item.get_closest_marker("points")
            if marker is None or not marker.args:
                raise pytest.UsageError(f"{item.nodeid} has no @pytest.mark.points(n): every hidden test needs one")
            entries.append({
                "nodeid": item.nodeid,
                "name": item.name,
                "description": describe(item),
                "points": float(marker.args[0]),
                "timeout": timeout_of(item),
            })
        Path(self.path).write_text(json.dumps(entries, indent=1))


def _truncate(text: str) -> str:
    text = text.strip()
    return text if len(text) <= REASON_LIMIT else text[:REASON_LIMIT] + " [...]"


def reason_of(report) -> str:
    """A short reason a student can act on (where in their file, the student process says: StudentCodeRaised)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, lineno, "Skipped: why")
        return _truncate(longrepr[2].removeprefix("Skipped: "))
    crash = getattr(longrepr, "reprcrash", None)
    if crash is None:
        return _truncate(str(longrepr).strip().splitlines()[-1] if str(longrepr).strip() else "failed")
    message = _FIXTURE_ARGUMENT.sub("", crash.message)  # Hypothesis lists the fixtures too
    if report.when != "call":
        message = f"in {report.when}: {message}"
    return _truncate(message)


class Recorder:
    def __init__(self, path: str):
        self.out = open(path, "a", encoding="utf-8", buffering=1)
        self.current: dict = {}

    def emit(self, **event):
        self.out.write(channel.encode(event))
        self.out.flush()

    def pytest_runtest_logstart(self, nodeid, location):
        self.current = {"status": PASSED, "reason": "", "start": time.monotonic()}
        self.emit(event="start", nodeid=nodeid)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        """Each phase's status as data, from the exception itself (set-up and teardown included): a
        student process that ended is a crash; the grader's own zygote gone, a test not run."""
        report = (yield).get_result()
        if call.excinfo is not None:
            if call.excinfo.errisinstance(ZygoteGone):
                report.grader_status = NOT_RUN
            elif call.excinfo.errisinstance(StudentProcessEnded):
                report.grader_status = CRASHED

    def pytest_runtest_logreport(self, report):
        if self.current.get("status") != PASSED:
            return  # keep the first thing that went wrong
        if report.failed:
            reason = reason_of(report)
            first = reason.split("\n")[0]
            timed_out = first.startswith(f"Failed: {TIMEOUT_BEFORE}") and first.endswith(TIMEOUT_AFTER)
            status = TIMED_OUT if timed_out else getattr(report, "grader_status", FAILED)
            self.current.update(status=status, reason=reason)
        elif report.skipped:
            self.current.update(status=NOT_RUN, reason=reason_of(report))

    def pytest_runtest_logfinish(self, nodeid, location):
        seconds = time.monotonic() - self.current.pop("start", time.monotonic())
        self.emit(event="result", nodeid=nodeid, seconds=round(seconds, 3), **self.current)

    def pytest_sessionfinish(self, session, exitstatus):
        self.emit(event="done", exitstatus=int(exitstatus))
