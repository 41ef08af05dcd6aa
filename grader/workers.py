"""Run jobs of the grader's own code side by side, each in a forked worker process of its own.

A worker is a fork of the grader: it runs our code only (student code runs in the
student processes it starts, as ever), so its result comes back as a pickle over a
pipe. Each worker makes itself a child subreaper, so what its children leave behind
comes back to it and is reaped by `child.running` there, never by a neighbour (whose
`reap_strays` would kill a grading in flight). Whatever a worker leaves when it ends
comes back to the grader, which reaps it once every worker is done; an interrupt
kills every worker with all it started.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import sys
import traceback
from typing import Callable, TypeVar

from grader import processes

T = TypeVar("T")


class WorkerDied(RuntimeError):
    """A worker ended without sending a result back."""


def _work(job: Callable[[], T], write: int) -> None:
    """In the worker: run `job`, send back ("ok", result) or ("raised", exception), and exit."""
    status = 0
    try:
        processes.become_subreaper()
        try:
            payload = pickle.dumps(("ok", job()))
        except BaseException as exc:  # noqa: BLE001 - every way out goes back to the grader
            try:
                payload = pickle.dumps(("raised", exc))
            except Exception:  # an exception that does not pickle: its words, at least
                payload = pickle.dumps(("raised", WorkerDied("".join(traceback.format_exception(exc)))))
        with os.fdopen(write, "wb") as out:
            out.write(payload)
    except BaseException:  # noqa: BLE001 - never return into the grader's own code
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _start(job: Callable[[], T]) -> tuple[int, int]:
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _work(job, write)
    os.close(write)
    return pid, read


def _outcome(pid: int, payload: bytes) -> tuple[bool, object]:
    """(True, result) or (False, exception) of a worker whose pipe has closed; it is reaped here."""
    _, status = os.waitpid(pid, 0)
    if not payload:
        return False, WorkerDied(f"a grading worker ended without a result (wait status {status})")
    kind, value = pickle.loads(payload)  # our own worker's, never anything student code sent
    return kind == "ok", value


def _gather(started: dict[int, int], outcomes: dict[int, tuple[bool, object]]) -> None:
    """Read every worker's pipe as it comes, reaping each worker as soon as it is done; stop at the
    first that raised (grading cannot go on: why make the others finish?)."""
    received = {read: bytearray() for read in started}
    with selectors.DefaultSelector() as waiting:
        for read in started:
            waiting.register(read, selectors.EVENT_READ)
        while len(outcomes) < len(started):
            for key, _ in waiting.select():
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    received[key.fd] += chunk
                    continue
                waiting.unregister(key.fd)
                os.close(key.fd)
                outcomes[key.fd] = _outcome(started[key.fd], bytes(received[key.fd]))
                if not outcomes[key.fd][0]:
                    return


def side_by_side(jobs: list[Callable[[], T]]) -> list[T]:
    """Run every job in a worker of its own, all at once; their results in the jobs' order.

    The first job to raise has its exception raised here, once the others are stopped.
    """
    processes.become_subreaper()  # what a worker leaves comes back here, to be reaped below
    keep = processes.our_descendants()
    started: dict[int, int] = {}  # the read end of each worker's pipe -> its pid
    outcomes: dict[int, tuple[bool, object]] = {}
    try:
        for job in jobs:
            pid, read = _start(job)
            started[read] = pid
        _gather(started, outcomes)
    finally:
        # one raised, or we were interrupted: what still runs goes, with all it started
        for read in set(started) - set(outcomes):
            processes.kill_tree(started[read])
            with contextlib.suppress(OSError):
                os.close(read)
        processes.reap_strays(keep)
    for fine, value in outcomes.values():
        if not fine:
            raise value  # type: ignore[misc]
    return [outcomes[read][1] for read in started]  # type: ignore[misc]
