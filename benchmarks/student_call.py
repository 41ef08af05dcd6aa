"""What grading through a student process costs: one call into it, one input of a batch (for_each), and one
fresh process, beside a bare call.

The judge calls the student's functions over a socket pair (student_process.py)
and gives each test a fresh student process forked from a preloaded zygote. These
figures say what that costs, next to calling the same function in this process.
A figure, not a test (timings depend on the machine). Run it with the project's
Python (as root, student processes run as grader-student, as in grading):

    .venv/bin/python benchmarks/student_call.py
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

from grader import course, lockdown
from grader.student_process import Zygote, for_each

CALLS, PROCESSES, EACH = 2000, 40, 20_000


def per_call(function, times: int) -> float:
    started = time.perf_counter()
    for _ in range(times):
        function(7)
    return (time.perf_counter() - started) / times


def main() -> int:
    reference = course.SOLUTIONS / "01-cache-aside" / "squares.py"
    spec = importlib.util.spec_from_file_location("squares", reference)
    squares = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(squares)
    with tempfile.TemporaryDirectory(prefix="grader-student-", dir=lockdown.boxes()) as boxes:
        box = Path(boxes, "bench")
        (box / "code").mkdir(parents=True)
        shutil.copy(reference, box / "code")
        lockdown.hand_over(box)
        Path(boxes).chmod(0o711)
        started = time.perf_counter()
        zygote = Zygote(lockdown.box(box, "squares"))
        process = zygote.spawn()
        process.start(timeout=60)
        first = time.perf_counter() - started
        remote = process.module()
        rows = [("bare call: square_key(7) in this process", per_call(squares.square_key, CALLS)),
                ("one call into the student process: square_key(7)", per_call(remote.square_key, CALLS))]
        started = time.perf_counter()
        for_each(remote.square_key, range(EACH))
        rows.append((f"per input of for_each(square_key, {EACH:,} inputs)", (time.perf_counter() - started) / EACH))
        process.end()
        started = time.perf_counter()
        for _ in range(PROCESSES):
            fresh = zygote.spawn()
            fresh.start(timeout=60)
            fresh.end()
        rows.append(("one fresh student process (fork, limits, import, end)",
                     (time.perf_counter() - started) / PROCESSES))
        rows.append(("the zygote and its first student process", first))
        zygote.close()
    user = "grader-student" if lockdown.account() else "the grader's own user (not root)"
    print(f"student processes run as {user}")
    for label, seconds in rows:
        print(f"{label:<56} {seconds * 1e6:12.1f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
