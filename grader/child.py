"""Child processes: everything that runs hidden tests or student code runs here, never in the grader.

Two kinds of child, both in the sandbox with a clean environment (the student's code
runs in neither: in student processes that the hidden tests start, student_process.py):

- `collect_manifest`: pytest `--collect-only` on the hidden tests: the instructor's
  list of tests and points;
- `run_tests`: pytest on the hidden tests, followed through the channel with
  a watchdog. A test that hangs past its limit or kills the process costs that test;
  a new process then carries on with the tests still to run.

Whatever a child leaves behind (processes it forked, daemons that escaped its
session) is killed when it ends: the grader makes itself a child subreaper, so
orphans come back to it rather than to init.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from grader import channel, harness, lockdown, manifests
from grader.processes import our_descendants, reap_strays
from grader.sandbox import DEFAULT_TIMEOUT, Sandbox
from grader.scoring import CRASHED, NOT_RUN, TIMED_OUT, Outcome, TestSpec

COLLECT_LIMIT = 120.0
TAIL_LINES = 12


@dataclass(frozen=True)
class Limits:
    """How long each child may take, in seconds."""

    import_seconds: float = 15.0  # for the student's module to import in the probe
    grace: float = 10.0  # beyond a test's own timeout, before the watchdog kills the process
    linger: float = 3.0  # after the session ends, before leftover threads are cut short
    test_cap: float | None = None  # the watchdog's ceiling on any test's timeout (self-tests use it)

    def for_test(self, spec: TestSpec) -> float:
        own = spec.timeout or DEFAULT_TIMEOUT
        return min(own, self.test_cap) if self.test_cap else own


class GradingError(RuntimeError):
    """Grading could not run at all (the instructor's or the machine's problem)."""


def environment(sandbox: Sandbox, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: nothing from the caller's Python or pytest set-up leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(sandbox.home),
        "TMPDIR": str(sandbox.work),
        "PYTHONHASHSEED": "0",  # hash() and set order are the same at every regrade
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    env.update(extra)
    return env


def pytest_command(sandbox: Sandbox, *args: str) -> list[str]:
    command = [sys.executable, "-P", "-m", "pytest", "-c", str(sandbox.ini),
               "--rootdir", str(sandbox.tests), "--confcutdir", str(sandbox.tests),
               "-p", "grader.recorder", "-p", "grader.harness",
               "-p", "pytest_timeout", "-p", "_hypothesis_pytestplugin"]
    return command + list(args)


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(line[:300] for line in text.strip().splitlines()[-lines:])


@dataclass
class Finished:
    returncode: int | None  # None: killed at the time limit
    log: Path


@contextlib.contextmanager
def running(command: list[str], sandbox: Sandbox, env: dict[str, str], log: Path,
            pass_fds: tuple[int, ...] = ()) -> Iterator[subprocess.Popen]:
    """A child in its own session, output to `log`; however the block ends (an interrupt
    included), the child's group and anything it left behind are killed."""
    keep = our_descendants()
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=sandbox.work, env=env, stdin=subprocess.DEVNULL, pass_fds=pass_fds,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            reap_strays(keep)


def run_bounded(command: list[str], sandbox: Sandbox, env: dict[str, str], limit: float, log: Path) -> Finished:
    """Run to completion or to `limit` seconds, whichever comes first; output goes to `log`."""
    with running(command, sandbox, env, log) as proc:
        try:
            returncode: int | None = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            returncode = None
    return Finished(returncode, log)


# -- the manifest -----------------------------------------------------------


def collect_manifest(sandbox: Sandbox, env: dict[str, str]) -> list[TestSpec]:
    """The instructor's tests and points, from a process that has never seen the student's code
    (collected once per content of the hidden tests: manifests.py)."""
    return manifests.cached(sandbox, lambda: _collect(sandbox, env))


def _collect(sandbox: Sandbox, env: dict[str, str]) -> list[TestSpec]:
    path = sandbox.root / "manifest.json"
    command = pytest_command(sandbox, "--collect-only", "--grader-manifest", str(path), str(sandbox.tests))
    done = run_bounded(command, sandbox, environment(sandbox, env), COLLECT_LIMIT, sandbox.root / "collect.log")
    if done.returncode != 0 or not path.exists():
        raise GradingError(f"the hidden tests in {sandbox.tests.name} did not collect:\n{tail(done.log)}")
    return [TestSpec(**entry) for entry in json.loads(path.read_text())]


# -- the tests --------------------------------------------------------------


@dataclass
class Attempt:
    """What one pytest process reported before it ended."""

    outcomes: dict[str, Outcome]
    returncode: int | None
    garbled: int
    log: Path


def _follow(sandbox: Sandbox, env: dict[str, str], nodeids: list[str], timeouts: dict[str, float],
            limits: Limits, number: int, sealed: bool, uid: int | None) -> Attempt:
    path = sandbox.root / f"channel-{number}.log"
    log = sandbox.root / f"pytest-{number}.log"
    tap = lockdown.packet_socket()  # the judge's view of loopback, which it may not open itself without root
    command = pytest_command(sandbox, "--student-box", str(sandbox.student.parent),
                             *([] if sealed else ["--unsealed"]), *([] if uid is None else ["--student-uid", str(uid)]),
                             *([] if tap is None else ["--loopback-capture-fd", str(tap.fileno())]),
                             "--grader-channel", str(path), *[f"{sandbox.tests}/{n}" for n in nodeids])
    reader = channel.Reader(path)
    outcomes: dict[str, Outcome] = {}
    current: str | None = None
    started = finished_at = 0.0
    with running(command, sandbox, environment(sandbox, env), log, () if tap is None else (tap.fileno(),)) as proc:
        if tap is not None:
            tap.close()  # the judge's copy is its own
        while True:
            exited = proc.poll() is not None
            for event in reader.poll():
                kind, nodeid = event.get("event"), event.get("nodeid")
                if kind == "start" and nodeid in timeouts:
                    current, started = nodeid, time.monotonic()
                elif kind == "result" and nodeid in timeouts and nodeid not in outcomes:
                    outcomes[nodeid] = Outcome(event.get("status", NOT_RUN), event.get("reason", ""))
                    current = None
                elif kind == "done":
                    finished_at = time.monotonic()
            now = time.monotonic()
            if exited:
                break
            if current is not None and now - started > timeouts[current] + limits.grace:
                outcomes[current] = Outcome(TIMED_OUT, f"did not finish within {timeouts[current]:.0f} s and did "
                                                       "not give way to pytest's timeout; the process was killed")
                current = None
                break
            if finished_at and now - finished_at > limits.linger:
                break  # results are all in; something (a thread?) keeps the process alive
            time.sleep(0.05)
    if current is not None:
        how = _death(proc.returncode)
        outcomes[current] = Outcome(CRASHED, f"the test process {how} during this test: did the code call "
                                             f"os._exit(), or crash the interpreter?\n{tail(log, 5)}")
    return Attempt(outcomes, proc.returncode, reader.garbled, log)


def _death(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _services_still_answer(env: dict[str, str]) -> None:
    """A memcached server that stopped answering is the machine's fault: the tests that met it
    (failed, or "crashed" when the harness ended their session) say nothing about the code."""
    try:
        harness.given_servers(env.get(harness.SERVERS_ENV, ""))
    except harness.MemcachedUnavailable as exc:
        raise harness.MemcachedUnavailable(f"{exc} any more: it stopped during grading, "
                                           "so no score is given; grade again") from None


def run_tests(sandbox: Sandbox, env: dict[str, str], manifest: list[TestSpec], limits: Limits,
              sealed: bool = True, uid: int | None = None) -> tuple[dict[str, Outcome], list[str]]:
    """Run every test of the manifest, starting a new process after any that dies or hangs; `uid`: as
    root, the student uid this grading chose (the judge is told it)."""
    timeouts = {spec.nodeid: limits.for_test(spec) for spec in manifest}
    pending = [spec.nodeid for spec in manifest]
    outcomes: dict[str, Outcome] = {}
    notes: list[str] = []
    number = 0
    while pending:
        number += 1
        attempt = _follow(sandbox, env, pending, timeouts, limits, number, sealed, uid)
        _services_still_answer(env)
        outcomes.update(attempt.outcomes)
        if attempt.garbled:
            notes.append(f"{attempt.garbled} result line(s) that were not events were ignored")
        still = [n for n in pending if n not in outcomes]
        if len(still) == len(pending):  # no progress: this process never got going
            why = f"the test process ended before running this test ({_death(attempt.returncode)})"
            log = tail(attempt.log)
            for nodeid in still:
                outcomes[nodeid] = Outcome(NOT_RUN, f"{why}\n{log}".strip())
            break
        pending = still
    return outcomes, notes
