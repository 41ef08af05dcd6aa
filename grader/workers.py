"""Run jobs of the grader's own code side by side, each in a forked worker process of its own.

A worker is a fork of the grader: it runs our code only (student code runs in the
student processes it starts, as ever). Its result still comes back as plain JSON over
a pipe, never a pickle: it holds what student code said (failure reasons), and
nothing the grader reads back is ever unpickled. An exception comes back as its
type's name and arguments, rebuilt only for the types the caller names. Each worker makes itself a
child subreaper, so what its children leave behind
comes back to it and is reaped by `child.running` there, never by a neighbour (whose
`reap_strays` would kill a grading in flight). Whatever a worker leaves when it ends
comes back to the grader, which reaps it once every worker is done; an interrupt
kills every worker with all it started.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import sys
import traceback
from typing import Any, Callable, TypeVar

from grader import processes

T = TypeVar("T")


class WorkerDied(RuntimeError):
    """A worker ended without sending a result back, or raised what does not cross back as itself."""


# Exceptions that always cross back as themselves: an interrupt, or an exit, of a worker.
ALWAYS = (KeyboardInterrupt, SystemExit)


def _raised(exc: BaseException) -> dict:
    """An exception as plain data: its type's name, its arguments when they are plain, and its traceback."""
    args = list(exc.args) if all(isinstance(a, (str, int, float, bool, type(None))) for a in exc.args) else [str(exc)]
    return {"raised": type(exc).__name__, "args": args, "traceback": "".join(traceback.format_exception(exc))}


def _work(job: Callable[[], T], encode: Callable[[T], Any], write: int) -> None:
    """In the worker: run `job`, send back {"ok": encode(result)} or what it raised, and exit."""
    status = 0
    try:
        processes.become_subreaper()
        try:
            payload = {"ok": encode(job())}
        except BaseException as exc:  # noqa: BLE001 - every way out goes back to the grader
            payload = _raised(exc)
        with os.fdopen(write, "w", encoding="utf-8") as out:
            json.dump(payload, out)
    except BaseException:  # noqa: BLE001 - never return into the grader's own code
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _start(job: Callable[[], T], encode: Callable[[T], Any]) -> tuple[int, int]:
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _work(job, encode, write)
    os.close(write)
    return pid, read


def _outcome(pid: int, payload: bytes, decode: Callable[[Any], T],
             passes: tuple[type[BaseException], ...]) -> tuple[bool, object]:
    """(True, result) or (False, exception) of a worker whose pipe has closed; it is reaped here."""
    _, status = os.waitpid(pid, 0)
    try:
        message = json.loads(payload)
    except ValueError:
        return False, WorkerDied(f"a grading worker ended without a result (wait status {status})")
    if "ok" in message:
        return True, decode(message["ok"])
    known = {kind.__name__: kind for kind in (*passes, *ALWAYS)}
    kind = known.get(message["raised"])
    if kind is None:
        return False, WorkerDied(f"a grading worker raised {message['raised']}:\n{message['traceback']}")
    return False, kind(*message["args"])


def _gather(started: dict[int, int], outcomes: dict[int, tuple[bool, object]], decode: Callable[[Any], T],
            passes: tuple[type[BaseException], ...]) -> None:
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
                outcomes[key.fd] = _outcome(started[key.fd], bytes(received[key.fd]), decode, passes)
                if not outcomes[key.fd][0]:
                    return


def side_by_side(jobs: list[Callable[[], T]], encode: Callable[[T], Any] = lambda result: result,
                 decode: Callable[[Any], T] = lambda data: data,
                 passes: tuple[type[BaseException], ...] = ()) -> list[T]:
    """Run every job in a worker of its own, all at once; their results in the jobs' order.

    A result crosses as JSON: `encode` makes it plain data in the worker, `decode` rebuilds it
    here. The first job to raise has its exception raised here, once the others are stopped: as
    itself when its type is one of `passes` (or an interrupt or exit), else as WorkerDied with
    the worker's traceback.
    """
    processes.become_subreaper()  # what a worker leaves comes back here, to be reaped below
    keep = processes.our_descendants()
    started: dict[int, int] = {}  # the read end of each worker's pipe -> its pid
    outcomes: dict[int, tuple[bool, object]] = {}
    try:
        for job in jobs:
            pid, read = _start(job, encode)
            started[read] = pid
        _gather(started, outcomes, decode, passes)
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
