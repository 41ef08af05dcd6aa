"""Shared by every assignment's hidden tests.

- Hypothesis is derandomised, with no example database and no deadlines, so that
  grading the same submission twice gives the same examples and the same score.
  50 examples a test: every wrong submission in tests/ is still caught with 25
  (checked when this came down from 100, to halve what these tests cost a grading).
- `student_process`: a fresh student process per test, which imports the student's
  module there; this process never does. Calls go over plain data (student_process.py).
  "The same in every process" clauses ask a second one, with another PYTHONHASHSEED.
- `loopback_tap`: what crosses the grading's loopback (loopback.py), on the packet socket
  the grading handed down; where none could be had, the tests that need it are not run.
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from loopback import LoopbackTap
from zmq_peers import Peers

from grader import lockdown
from grader.course import CATALOGUE
from grader.student_process import StudentProcess, Zygote, box_of

# The student's module of each assignment, by the name of its hidden tests' folder.
MODULES = {assignment.id: assignment.module_name for assignment in CATALOGUE}

settings.register_profile(
    "grading",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
    max_examples=50,
)
settings.load_profile("grading")
# Hypothesis builds Unicode tables for st.text() and mines constants from the tests, and keeps both
# under .hypothesis in the current folder: a grading's own, new every time, so every grading spent
# 3 s rebuilding them. They go beside this Python instead (.venv, in the private checkout), where they
# last and only the grader's user may write; there is no example database (`database=None` above).
set_hypothesis_home_dir(Path(sys.prefix) / "var" / "hypothesis")


@pytest.fixture(scope="session")
def student_box(pytestconfig) -> Path:
    folder = pytestconfig.getoption("student_box", default=None)
    if not folder:
        pytest.fail("these hidden tests run only under `grader grade` (no --student-box given)", pytrace=False)
    return Path(folder)


@pytest.fixture(scope="session")
def zygotes(student_box, pytestconfig):
    """zygotes(module, hashseed) -> the preloaded parent of student processes for them (behind the wall,
    unless grading was told --unsealed), one per session."""
    made: dict[tuple[str, str], Zygote] = {}
    sealed = not pytestconfig.getoption("unsealed", default=False)
    uid = pytestconfig.getoption("student_uid", default=None)  # as the grading chose it (lockdown.py)

    def get(module: str, hashseed: str = "0") -> Zygote:
        if (module, hashseed) not in made:
            made[module, hashseed] = Zygote(box_of(student_box / "code", module, sealed, uid), hashseed)
        return made[module, hashseed]

    yield get
    for zygote in made.values():
        zygote.close()


@pytest.fixture
def student_process(zygotes):
    """student_process('squares', hashseed='0') -> a fresh student process that has imported squares.py.

    Every process started in a test is ended (with all it started) when the test ends.
    """
    started: list[StudentProcess] = []

    def start(module: str, hashseed: str = "0") -> StudentProcess:
        process = zygotes(module, hashseed).spawn()
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.end()


@pytest.fixture
def process(student_process, request) -> StudentProcess:
    """A fresh student process that has imported the module of the asking test's assignment."""
    return student_process(MODULES[request.path.parent.name])


@pytest.fixture
def peers():
    """The judge's own ZeroMQ sockets (zmq_peers.py), all closed when the test ends."""
    side = Peers()
    yield side
    side.close()


@pytest.fixture(scope="session")
def loopback_tap(pytestconfig):
    """The judge's view of loopback TCP, once per session (its ring is large): on the packet socket the grading
    opened (it alone may, without root), else on one of the judge's own (as root)."""
    fd = pytestconfig.getoption("loopback_capture_fd", default=None)
    sock = socket.socket(fileno=fd) if fd is not None else lockdown.packet_socket()
    try:
        if sock is None:
            raise PermissionError("no CAP_NET_RAW in this network namespace")
        tap = LoopbackTap(sock)
    except OSError as exc:
        pytest.skip(f"the judge cannot watch loopback TCP here ({exc}): grade as root, or where unprivileged "
                    "user namespaces are allowed")
    yield tap
    tap.close()
