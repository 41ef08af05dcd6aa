"""What grading through a student process costs: one call into it, one input of a batch (for_each), and one
fresh process, beside a bare call.

The judge calls the student's functions over a socket pair (student_process.py)
and gives each test a fresh student process forked from a preloaded zygote. These
figures say what that costs, next to calling the same function in this process:
the time it takes, and the CPU it uses on each side (the judge, this process with
its reader thread; the student process; the zygote and what it forks). On a busy
machine the times grow with the load; the CPU figures are what a grading pays.
A figure, not a test (timings depend on the machine). Run it with the project's
Python (student processes run behind the wall, as in grading: as root, as a uid of
their own):

    .venv/bin/python benchmarks/student_call.py

Figures on two shared, busy cores (root; the reference squares.py), before and after
the round trip was trimmed (wire conversion without path tracking, buffered reads,
no walk through /proc when a process ends):

    one call into the student process     time 399 -> 278 µs   judge CPU 229 -> 141 µs   student CPU 187 -> 154 µs
    per input of for_each                 time 5.3 -> 5.0 µs   judge CPU 1.8 -> 1.7 µs   student CPU 3.5 -> 3.2 µs
    one fresh student process             time  16 -> 12 ms    judge CPU 1.5 -> 1.4 ms   zygote CPU  5.7 -> 2.2 ms
"""
from __future__ import annotations

import importlib.util
import resource
import shutil
import tempfile
import time
from pathlib import Path

from grader import course, lockdown, sandbox
from grader.kernel_view import CPUCLOCK_SCHED
from grader.settings import Settings
from grader.student_process import Zygote, box_of, for_each

CALLS, PROCESSES, EACH = 2000, 40, 20_000


def cpu_of(pid: int) -> float:
    """CPU seconds process `pid` has used (the kernel's clock of that process)."""
    return time.clock_gettime(((~pid) << 3) | CPUCLOCK_SCHED)


def measured(work, count: int, student: int | None = None) -> tuple[float, float, float | None]:
    """Seconds per unit of `work`: elapsed, this process's CPU, and `student`'s CPU (a pid)."""
    before = student and cpu_of(student)
    started, cpu = time.perf_counter(), time.process_time()
    work()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    theirs = (cpu_of(student) - before) / count if student else None
    return elapsed / count, cpu / count, theirs


def main() -> int:
    reference = course.SOLUTIONS / "01-cache-aside" / "squares.py"
    spec = importlib.util.spec_from_file_location("squares", reference)
    squares = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(squares)
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as boxes:
        box = Path(boxes, "bench")
        (box / "code").mkdir(parents=True)
        shutil.copy(reference, box / "code")
        sandbox.hand_over(box)
        started = time.perf_counter()
        uid = lockdown.student_uid(Settings.from_environment())
        zygote = Zygote(box_of(box / "code", "squares", True, uid))
        process = zygote.spawn()
        process.start(timeout=60)
        first = time.perf_counter() - started
        zygote_pid = zygote.pid
        remote = process.module()

        def calls(function):
            return lambda: [function(7) for _ in range(CALLS)]

        rows = [("bare call: square_key(7) in this process", *measured(calls(squares.square_key), CALLS)),
                ("one call into the student process: square_key(7)",
                 *measured(calls(remote.square_key), CALLS, process.pid)),
                (f"per input of for_each(square_key, {EACH:,} inputs)",
                 *measured(lambda: for_each(remote.square_key, range(EACH)), EACH, process.pid))]
        process.end()
        zygote_cpu = cpu_of(zygote_pid)

        def processes():
            for _ in range(PROCESSES):
                fresh = zygote.spawn()
                fresh.start(timeout=60)
                fresh.end()

        elapsed, judge, _ = measured(processes, PROCESSES)
        rows.append(("one fresh student process (fork, limits, import, end)", elapsed, judge,
                     (cpu_of(zygote_pid) - zygote_cpu) / PROCESSES))
        zygote.close()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows.append(("the zygote and its first student process", first, None, None))
    print(f"student processes run behind the wall as {f'uid {uid}' if uid else 'the grader own user (not root)'}")
    print(f"{'':<56} {'time':>10} {'judge CPU':>11} {'student CPU':>12}")
    for label, seconds, judge, student in rows:
        cpu = [f"{value * 1e6:9.1f} µs" if value is not None else " " * 12 for value in (judge, student)]
        print(f"{label:<56} {seconds * 1e6:7.1f} µs {cpu[0]} {cpu[1]}")
    print("(for a fresh process, 'student CPU' is the zygote's own: forking, and ending what it forked; all "
          f"student processes and the zygote used {(children.ru_utime + children.ru_stime):.2f} s of CPU in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
