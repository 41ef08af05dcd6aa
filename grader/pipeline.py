"""Grading, step by step: services, find the module, sandbox, manifest, import probe, tests, score.

Assignments are graded side by side when that is safe (schedule.py), each in a worker of its
own (workers.py); else one after the other.

Each step is a small function of its own module; this one only puts them in order
and turns what a step found into the notes a student reads.
"""
from __future__ import annotations

import contextlib
import functools
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from grader import (
    child,
    harness,
    lockdown,
    probe,
    processes,
    sandbox,
    schedule,
    scoring,
    submission,
    wall,
    workers,
)
from grader.child import Limits
from grader.course import Assignment
from grader.feedback import printable
from grader.scoring import FAILED, AssignmentResult, Outcome, TestSpec
from grader.settings import Settings
from grader.student_box import box_of


@contextlib.contextmanager
def services(assignments: list[Assignment], settings: Settings) -> Iterator[dict[str, str]]:
    """Start what the assignments need, once for the whole run; yields the tests' environment.

    Raises harness.MemcachedUnavailable when memcached is needed and cannot be had.
    """
    env: dict[str, str] = {}
    servers: list[harness.MemcachedServer] = []
    if any("memcached" in a.services for a in assignments):
        servers = harness.given_servers(settings.servers) or harness.launch_servers(3)
        env[harness.SERVERS_ENV] = ",".join(s.name for s in servers)
    try:
        yield env
    finally:
        harness.stop_all(servers)


DEFAULT_LIMITS = Limits()
UNSEALED = ("unsealed: student code ran without the wall around it (graded with --unsealed), as the "
            "grader's own user, able to read and change what that user can: this score cannot be trusted")


def grade_assignment(assignment: Assignment, folder: Path, env: dict[str, str], workdir: Path,
                     settings: Settings, limits: Limits = DEFAULT_LIMITS,
                     only: Callable[[TestSpec], bool] | None = None) -> AssignmentResult:
    """Grade one assignment; `only` narrows the manifest (the self-tests use it to stay quick)."""
    started = time.monotonic()
    sealed, uid = not settings.unsealed, lockdown.student_uid(settings)
    found = submission.find(folder, assignment)
    module = found.module
    box = sandbox.build(assignment, module, workdir / assignment.id)
    manifest = child.collect_manifest(box, env)
    if only is not None:
        manifest = [spec for spec in manifest if only(spec)]
    notes: list[str] = list(found.notes) + ([] if sealed else [UNSEALED])
    if module is None:
        problem = found.problem
    else:  # its code runs only in student processes, behind the wall, never in a process of ours
        notes += submission.review_flags(module)
        problem = probe.probe(box_of(box.student, assignment.module_name, sealed, uid), limits.import_seconds)
    if problem:
        notes.append(problem)
        outcomes = {spec.nodeid: Outcome(FAILED, problem) for spec in manifest}
    else:
        outcomes, run_notes = child.run_tests(box, env, manifest, limits, sealed, uid)
        notes += run_notes
    return AssignmentResult(assignment.id, scoring.score(manifest, outcomes), [printable(n) for n in notes],
                            round(time.monotonic() - started, 2), printable(problem or ""), sealed)


def grade_group(group: list[Assignment], folder: Path, work: Path, settings: Settings, limits: Limits,
                only: Callable[[TestSpec], bool] | None, own_network: bool = False) -> list[AssignmentResult]:
    """Grade assignments one after the other, with the services they need. `own_network`: first move
    into a network namespace of its own (its own servers start in it)."""
    if own_network and (problem := lockdown.own_network()):
        raise child.GradingError(problem)
    with services(group, settings) as env:
        return [grade_assignment(a, folder, env, work, settings, limits, only) for a in group]


def seal_problem(groups: list[schedule.Group], settings: Settings) -> str | None:
    """What keeps student code from being walled in here (wall.py, lockdown.py), or None."""
    if (problem := wall.problem(lockdown.root())) is not None:
        return problem
    if any(not group.own_network for group in groups) and not lockdown.ALONE:
        return lockdown.machine_network_problem(settings)
    return None


def class_seal_problem(settings: Settings) -> str | None:
    """What keeps grade-class from walling in any student here (each student grades in a network of its
    own), or None."""
    if (problem := wall.problem(lockdown.root())) is not None:
        return problem
    if settings.servers or not lockdown.may_have_own_network():
        return lockdown.machine_network_problem(settings)
    return None


def grade(assignments: list[Assignment], folder: Path, limits: Limits = DEFAULT_LIMITS,
          only: Callable[[TestSpec], bool] | None = None, unsealed: bool = False,
          settings: Settings | None = None) -> list[AssignmentResult]:
    """Grade `folder` for each assignment, side by side when that is safe (schedule.py); results in the
    assignments' order. `settings`: this grading's (settings.py), read from the environment once when
    not given. Raises child.GradingError (no wall can be built, unless `unsealed`) or
    harness.MemcachedUnavailable."""
    processes.become_subreaper()
    settings = settings or Settings.from_environment(unsealed=unsealed)
    apart = lockdown.slot_network(settings)  # grade-class: this student's services on a loopback of its own
    own = not lockdown.ALONE and not settings.own_network and lockdown.may_have_own_network()
    groups = schedule.groups(assignments, own, bool(settings.servers))
    if not settings.unsealed and (problem := apart or seal_problem(groups, settings)):
        raise child.GradingError(f"{problem}\nTo grade without the wall anyway, give --unsealed: every "
                                 "result then says 'unsealed'.")
    done = _grade_groups(groups, folder, settings, limits, only)
    results = schedule.in_order(assignments, {r.assignment: r for r in done})
    for result in results:
        result.notes.extend([apart] if apart and settings.unsealed else [])
    return results


def _grade_groups(groups: list[schedule.Group], folder: Path, settings: Settings, limits: Limits,
                  only: Callable[[TestSpec], bool] | None) -> list[AssignmentResult]:
    """Each group graded, in this process or (side by side, or in a network of its own) in a worker; each
    group in a lane of its own (its student uid: lockdown.py)."""
    with tempfile.TemporaryDirectory(prefix="grader-") as work:
        jobs = [functools.partial(grade_group, list(g.assignments), folder.resolve(), Path(work),
                                  settings.in_lane(lane), limits, only, g.own_network)
                for lane, g in enumerate(groups)]
        if len(jobs) == 1 and not groups[0].own_network:
            done = jobs[0]()
        else:  # a network namespace of its own is made in a worker: this process stays where it is
            done = [r for rs in workers.side_by_side(
                jobs, encode=lambda results: [r.to_plain() for r in results],
                decode=lambda data: [AssignmentResult.from_plain(r) for r in data],
                passes=(child.GradingError, harness.MemcachedUnavailable)) for r in rs]
    return done


def manifest_of(assignment: Assignment) -> list[TestSpec]:
    """The hidden tests of `assignment` and their points, as grading would count them."""
    with tempfile.TemporaryDirectory(prefix="grader-") as work:
        box = sandbox.build(assignment, None, Path(work) / assignment.id)
        return child.collect_manifest(box, {})
