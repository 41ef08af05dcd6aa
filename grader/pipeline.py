"""Grading, step by step: services, find the module, sandbox, manifest, import probe, tests, score.

Each step is a small function of its own module; this one only puts them in order
and turns what a step found into the notes a student reads.
"""
from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from grader import child, harness, lockdown, processes, sandbox, scoring, student_process, submission
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


def grade(assignments: list[Assignment], folder: Path, limits: Limits = Limits(),
          only: Callable[[TestSpec], bool] | None = None) -> list[AssignmentResult]:
    """Grade `folder` for each assignment; raises child.GradingError or harness.MemcachedUnavailable."""
    processes.become_subreaper()
    apart = lockdown.slot_network()  # grade-class: this student's services on a loopback of its own
    with services(assignments) as env, tempfile.TemporaryDirectory(prefix="grader-") as work, \
            lockdown.box_folder() as boxes:
        results = [grade_assignment(a, folder.resolve(), env, Path(work), limits, only, boxes)
                   for a in assignments]
    for result in results:
        result.notes.extend([apart] if apart else [])
    return results


def manifest_of(assignment: Assignment) -> list[TestSpec]:
    """The hidden tests of `assignment` and their points, as grading would count them."""
    with tempfile.TemporaryDirectory(prefix="grader-") as work:
        box = sandbox.build(assignment, None, Path(work) / assignment.id)
        return child.collect_manifest(box, {})
