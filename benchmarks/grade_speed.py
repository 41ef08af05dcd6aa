"""How long `grader grade <id>` takes on the reference and on the skeleton, memcached start-up included.

Prints one line per assignment with its target from the issues, then one for
`grader grade all` (which, as root, grades the assignments side by side: issue 12
asks at most 30 s for the references on two cores); a figure, not a test (timings
depend on the machine). Run it with the project's Python:

    .venv/bin/python benchmarks/grade_speed.py [ID ...]
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from grader import course

TARGETS = {"01-cache-aside": 20, "02-sharding": 30, "03-queuepi": 40, "04-keepalive": 30,
           "05-workqueue": 30, "all": 30}  # seconds


def grade(id: str, folder) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", "grade", id, "--submission", str(folder)],
                          capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    totals = [line for line in lines if line.startswith("Total:")]  # grade all: the sum
    score = (totals or lines or [done.stderr.strip()])[0]
    return time.perf_counter() - started, score.strip()


def main(ids: list[str]) -> int:
    chosen = ids or [a.id for a in course.available()] + ["all"]
    print(f"{'assignment':<16} {'reference':>9}  target        {'skeleton':>8}  (grader grade ID --submission ...)")
    for id in chosen:
        seconds, score = grade(id, course.SOLUTIONS)
        empty, _ = grade(id, course.SKELETONS)  # a student who has written nothing waits no longer
        target = TARGETS.get(id)
        verdict = "" if target is None else ("ok" if seconds < target else "SLOW")
        print(f"{id:<16} {seconds:9.1f}  < {target} s {verdict:<4}  {empty:8.1f}  {score}")
    if "all" in chosen and os.geteuid() != 0:
        print("(not root: `grade all` graded the assignments one after the other, not side by side)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
