"""Shared by every assignment's hidden tests.

- Hypothesis is derandomised, with no example database and no deadlines, so that
  grading the same submission twice gives the same examples and the same score.
- `student_process` (assignments graded through student processes, course.py's
  `judged`): a fresh student process per test, which imports the student's module
  there; this process never does. Calls go over plain data (student_process.py).
- `student` imports the student's module into this process (assignments not yet
  converted; once; a module that fails to import fails every test that needs it,
  with the reason, instead of erroring them all).
- `run_python` runs code in a fresh interpreter that can import the student's
  module: for "the same in every process" clauses.
"""
from __future__ import annotations

import base64
import importlib
import os
import pickle
import subprocess
import sys
from typing import Sequence

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

from grader import lockdown
from grader.student_process import StudentProcess, Zygote

settings.register_profile(
    "grading",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
    max_examples=100,
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
def zygotes(student_box):
    """zygotes(module, hashseed) -> the preloaded parent of student processes for them, one per session."""
    made: dict[tuple[str, str], Zygote] = {}

    def get(module: str, hashseed: str = "0") -> Zygote:
        if (module, hashseed) not in made:
            made[module, hashseed] = Zygote(lockdown.box(student_box, module), hashseed)
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


_import_failures: dict[str, str] = {}


def _import(name: str):
    if name in _import_failures:
        pytest.fail(_import_failures[name], pytrace=False)
    try:
        return importlib.import_module(name)
    except BaseException as exc:  # SystemExit, and pytest-timeout's Failed for a hang, too
        _import_failures[name] = f"{name}.py could not be imported: {type(exc).__name__}: {exc}"
        pytest.fail(_import_failures[name], pytrace=False)


@pytest.fixture(scope="session")
def student():
    """student('squares') -> the student's squares module."""
    return _import


@pytest.fixture(scope="session")
def student_dir(pytestconfig) -> str:
    folder = pytestconfig.getoption("student_dir", default=None)
    if not folder:
        pytest.fail("the hidden tests run only under `grader grade` (no --student-dir given)", pytrace=False)
    return os.path.abspath(folder)


# Once the result is written the interpreter exits at once: a thread the student's
# code left running must not hold it open (the test judges leftovers itself).
_RUNNER = """\
import base64, os, pickle, sys
sys.path.append({student_dir!r})
function, args = pickle.loads(base64.b64decode(sys.argv[1]))
result = function(*args)
sys.stdout.write(base64.b64encode(pickle.dumps(result)).decode())
sys.stdout.flush()
os._exit(0)
"""


@pytest.fixture
def run_python(student_dir):
    """run_python(function, *args, hashseed="1", prefix=()) -> function(*args), in a new interpreter.

    `function` must be picklable by reference: a module-level function of a test
    module, which the new interpreter finds because the tests' folders are passed on.
    Tests run with PYTHONHASHSEED=0, so by default the new interpreter hashes
    differently: anything built on hash() does not survive the trip.
    `prefix` is a command that runs the interpreter for us (`unshare --net`,
    `sudo -n unshare --net`); the variables the runner needs go through it with
    env(1), since sudo drops the environment.
    """

    def run(function, *args, hashseed: str = "1", timeout: float = 60, prefix: Sequence[str] = ()):
        payload = base64.b64encode(pickle.dumps((function, args))).decode()
        paths = [p for p in sys.path if p and p != student_dir]
        needed = {"PYTHONHASHSEED": hashseed, "PYTHONPATH": os.pathsep.join(paths)}
        command = [sys.executable, "-P", "-c", _RUNNER.format(student_dir=student_dir), payload]
        if prefix:
            command = [*prefix, "env", *(f"{name}={value}" for name, value in needed.items()), *command]
        try:
            done = subprocess.run(command, env=dict(os.environ, **needed), capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"a fresh interpreter running {function.__name__} did not finish within {timeout} s",
                        pytrace=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            pytest.fail(f"in a fresh interpreter, {function.__name__} failed: {last}", pytrace=False)
        return pickle.loads(base64.b64decode(done.stdout))

    return run
