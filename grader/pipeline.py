"""Grading, step by step: services, find the module, sandbox, manifest, import probe, tests, score.

Assignments are graded side by side when that is safe (schedule.py), each in a worker of its
own (workers.py); else one after the other.

Each step is a small function of its own module; this one only puts them in order
and turns what a step found into the notes a student reads.
"""
from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from grader import (child, harness, lockdown, processes, sandbox, schedule, scoring, student_process, submission,
                    workers)
from grader.child import Limits
from grader.course import Assignment
from grader.scoring import FAILED, AssignmentResult, Outcome, TestSpec


@contextlib.contextmanager
def services(assignments: list[Assignment]) -> Iterator[dict[str, str]]:
    """Start what the assignments need, once for the whole run; yields the tests' environment.

    Raises harness.MemcachedUnavailable when memcached is needed and cannot be had.
    """
    env: dict[str, str] = {}
    servers: list[harness.MemcachedServer] = []
    if any("memcached" in a.services for a in assignments):
        servers = harness.given_servers() or harness.launch_servers(3)
        env[harness.SERVERS_ENV] = ",".join(s.name for s in servers)
    try:
        yield env
    finally:
        harness.stop_all(servers)


def grade_assignment(assignment: Assignment, folder: Path, env: dict[str, str], workdir: Path,
                     limits: Limits = Limits(), only: Callable[[TestSpec], bool] | None = None,
                     boxes: Path | None = None) -> AssignmentResult:
    """Grade one assignment; `only` narrows the manifest (the self-tests use it to stay quick)."""
    started = time.monotonic()
    found = submission.find(folder, assignment)
    module = found.module
    box = sandbox.build(assignment, module, workdir / assignment.id, boxes)
    manifest = child.collect_manifest(box, env)
    if only is not None:
        manifest = [spec for spec in manifest if only(spec)]
    notes: list[str] = list(found.notes)
    if module is None:
        problem = found.problem
    else:  # its code runs only in student processes, never in a process of ours
        notes += lockdown.problems() + submission.review_flags(module)
        problem = student_process.probe(lockdown.box(box.student.parent, assignment.module_name),
                                        limits.import_seconds)
    if problem:
        notes.append(problem)
        outcomes = {spec.nodeid: Outcome(FAILED, problem) for spec in manifest}
    else:
        outcomes, run_notes = child.run_tests(box, env, manifest, limits)
        notes += run_notes
    return AssignmentResult(assignment.id, scoring.score(manifest, outcomes), notes,
                            round(time.monotonic() - started, 2), problem or "")


def grade_group(group: list[Assignment], folder: Path, work: Path, boxes: Path, limits: Limits,
                only: Callable[[TestSpec], bool] | None, own_network: bool = False,
                lane: int = 0) -> list[AssignmentResult]:
    """Grade assignments one after the other, with the services they need. In a worker grading beside
    others: `own_network`, first move into a network namespace of its own (its own servers start in it);
    `lane`, its student processes run as a user of their own (lockdown.py)."""
    if lane:
        os.environ[lockdown.LANE_ENV] = str(lane)  # this worker's alone: it is a process of its own
    if own_network and (problem := lockdown.own_network()):
        raise child.GradingError(problem)
    with services(group) as env:
        return [grade_assignment(a, folder, env, work, limits, only, boxes) for a in group]


def grade(assignments: list[Assignment], folder: Path, limits: Limits = Limits(),
          only: Callable[[TestSpec], bool] | None = None) -> list[AssignmentResult]:
    """Grade `folder` for each assignment, side by side when that is safe (schedule.py); results in the
    assignments' order. Raises child.GradingError or harness.MemcachedUnavailable."""
    processes.become_subreaper()
    apart = lockdown.slot_network()  # grade-class: this student's services on a loopback of its own
    given = bool(os.environ.get(harness.SERVERS_ENV, "").strip())
    groups = schedule.groups(assignments, lockdown.may_grade_apart(), given)
    with tempfile.TemporaryDirectory(prefix="grader-") as work, lockdown.box_folder() as boxes:
        if len(groups) > 1:
            lockdown.make_users(len(groups), lanes=True)  # any it cannot make, problems() reports
        jobs = [functools.partial(grade_group, list(g.assignments), folder.resolve(), Path(work), boxes,
                                  limits, only, g.own_network, lane) for lane, g in enumerate(groups)]
        done = jobs[0]() if len(jobs) == 1 else [r for rs in workers.side_by_side(
            jobs, encode=lambda results: [r.to_plain() for r in results],
            decode=lambda data: [AssignmentResult.from_plain(r) for r in data],
            passes=(child.GradingError, harness.MemcachedUnavailable)) for r in rs]
    results = schedule.in_order(assignments, {r.assignment: r for r in done})
    for result in results:
        result.notes.extend([apart] if apart else [])
    return results


def manifest_of(assignment: Assignment) -> list[TestSpec]:
    """The hidden tests of `assignment` and their points, as grading would count them."""
    with tempfile.TemporaryDirectory(prefix="grader-") as work:
        box = sandbox.build(assignment, None, Path(work) / assignment.id)
        return child.collect_manifest(box, {})
