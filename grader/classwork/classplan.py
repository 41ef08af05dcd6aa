"""The plan of a class's grading run: the deadline, checked once, and the roster cut into batches.

A GitHub Actions matrix holds at most 256 jobs, so a class is graded several students
per job: at most MAX_JOBS batches, each small enough that its students' time limits
add up to less than a job may run. Everything after the plan (fetching, grading,
collecting) reads the one plan.json, so every job sees the same students, deadline
and assignments.

Run as `python -m grader.classwork.classplan ROSTER --assignment ID --deadline ISO-8601 --out plan.json`
(standard library only: the workflow calls it before installing anything). With
`--github-output FILE` it also writes the matrix (`batches`), the job time limit
(`job-minutes`) and whether to go on (`ready`) as step outputs.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

from grader import course
from grader.classwork import deadline, roster

MAX_JOBS = 200  # GitHub's matrix limit is 256: room to spare
JOB_LIMIT_MINUTES = 360  # the longest a job may run on GitHub-hosted runners
SETUP_MINUTES = 15  # downloading, setup.sh, uploading: on top of the students' limits


class PlanError(ValueError):
    pass


def per_job(students: int, max_jobs: int = MAX_JOBS) -> int:
    return max(1, math.ceil(students / max_jobs))


def job_minutes(size: int, student_minutes: int) -> int:
    minutes = size * student_minutes + SETUP_MINUTES
    if minutes > JOB_LIMIT_MINUTES:
        raise PlanError(f"{size} students of {student_minutes} min each need {minutes} min in one job, more "
                        f"than GitHub's {JOB_LIMIT_MINUTES}: give each student fewer minutes "
                        "(--student-minutes), or grade the class in parts (one roster file each)")
    return minutes


def batches(students: list[dict], size: int) -> list[dict]:
    """Consecutive runs of `size` students, named 001, 002, ... (the names sort as they run)."""
    width = max(3, len(str(math.ceil(len(students) / size))))
    return [{"batch": str(n + 1).zfill(width), "students": students[start:start + size]}
            for n, start in enumerate(range(0, len(students), size))]


def make(students: list[dict], assignment: str, when: datetime, mode: str, size: int | None = None,
         student_minutes: int = 20) -> dict:
    size = size or per_job(len(students))
    if math.ceil(len(students) / size) > 256:
        raise PlanError(f"{len(students)} students at {size} per job make more than 256 jobs: raise --per-job")
    return {
        "assignment": assignment,
        "assignments": [a.id for a in course.select(assignment)],
        "deadline": when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "submissions": mode,
        "student_minutes": student_minutes,
        "job_minutes": job_minutes(size, student_minutes),
        "batches": batches(students, size),
    }


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def batch_of(plan: dict, name: str) -> list[dict]:
    for batch in plan["batches"]:
        if batch["batch"] == name:
            return batch["students"]
    raise PlanError(f"the plan has no batch {name!r}")


def main(argv: list[str] | None = None, prog: str = "python -m grader.classwork.classplan") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    p.add_argument("roster", type=Path)
    p.add_argument("--assignment", required=True, help="an assignment id, or 'all'")
    p.add_argument("--deadline", required=True, help="ISO 8601 with a time zone, e.g. 2026-12-01T23:59:00Z")
    p.add_argument("--submissions", default="last-commit", choices=deadline.MODES)
    p.add_argument("--classroom50", metavar="ORG/CLASSROOM", help="for a Classroom 50 roster.csv")
    p.add_argument("--per-job", type=int, default=0, help="students per job (default: as few as fit in 200 jobs)")
    p.add_argument("--student-minutes", type=int, default=20, help="time limit of one student's grading")
    p.add_argument("--only-after-deadline", action="store_true",
                   help="before the deadline, plan nothing and say so (for scheduled runs)")
    p.add_argument("--out", type=Path, required=True, help="where plan.json goes")
    p.add_argument("--github-output", metavar="FILE", help="append batches=, job-minutes=, ready= (GITHUB_OUTPUT)")
    args = p.parse_args(argv)
    outputs = {"ready": "false", "batches": "[]", "job-minutes": "1"}
    status = 0
    try:
        if not args.assignment.strip() or not args.deadline.strip():
            raise PlanError("no assignment or no deadline: give both (in a scheduled run, the repository "
                            "variables GRADING_ASSIGNMENT and GRADING_DEADLINE)")
        when = deadline.parse_deadline(args.deadline)  # first: a bad deadline stops everything
        if args.only_after_deadline and datetime.now(timezone.utc) < when:
            print(f"classplan: the deadline {args.deadline} has not passed: nothing to grade yet")
        else:
            students = roster.read(args.roster, args.classroom50 or None, args.assignment, unaccepted=True)
            plan = make(students, args.assignment, when, args.submissions, args.per_job or None,
                        args.student_minutes)
            args.out.write_text(json.dumps(plan, indent=1) + "\n")
            outputs = {"ready": "true", "batches": json.dumps([b["batch"] for b in plan["batches"]]),
                       "job-minutes": str(plan["job_minutes"])}
            print(f"classplan: {len(students)} students in {len(plan['batches'])} jobs of at most "
                  f"{len(plan['batches'][0]['students'])}, {plan['job_minutes']} min each; deadline {plan['deadline']}")
            for entry in students:
                if not entry["repository"]:
                    print(f"classplan: {entry['student']}: no grade to come, a row with the reason: "
                          f"{entry.get('problem') or 'no repository (the assignment was never accepted)'}")
    except (ValueError, OSError, course.UnknownAssignment) as exc:
        print(f"classplan: {exc}", file=sys.stderr)
        status = 1
    if args.github_output:
        with open(args.github_output, "a", encoding="utf-8") as f:
            f.writelines(f"{key}={value}\n" for key, value in outputs.items())
    return status


if __name__ == "__main__":
    sys.exit(main())
