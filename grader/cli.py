"""`grader`: the instructors' command line."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from grader import course, generate, gradescope, harness, pipeline, report
from grader.child import GradingError

# Exit statuses: 0 grading ran (whatever the score); the others mean it could not.
USAGE, NO_SERVICE, BROKEN = 2, 3, 4


def fail(status: int, message: str) -> int:
    print(f"grader: {message}", file=sys.stderr)
    return status


def cmd_grade(args) -> int:
    try:
        assignments = course.select(args.assignment)
    except course.UnknownAssignment as exc:
        return fail(USAGE, str(exc))
    folder = Path(args.submission)
    if not folder.is_dir():
        return fail(USAGE, f"no such submission folder: {folder}")
    started = time.monotonic()
    try:
        results = pipeline.grade(assignments, folder)
    except harness.MemcachedUnavailable as exc:
        return fail(NO_SERVICE, str(exc))
    except GradingError as exc:
        return fail(BROKEN, str(exc))
    report.show(results)
    if args.results:
        document = gradescope.results_json(results, time.monotonic() - started)
        Path(args.results).write_text(json.dumps(document, indent=2) + "\n")
    return 0


def cmd_generate(args) -> int:
    try:
        assignments = course.select(args.assignment)
    except course.UnknownAssignment as exc:
        return fail(USAGE, str(exc))
    if args.check:
        drift = [line for a in assignments for line in generate.drift(a)]
        for line in drift:
            print(line)
        if drift:
            return fail(1, "assignments/ differs from what `grader generate` makes: run it and commit")
        return 0
    for assignment in assignments:
        written = generate.write(assignment)
        print(f"{assignment.skeleton_dir.relative_to(course.ROOT)}: {len(written)} files")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="grade a submission with the hidden tests")
    g.add_argument("assignment", help="an assignment id, or 'all'")
    g.add_argument("--submission", required=True, metavar="PATH",
                   help="folder holding PATH/<id>/<module> or PATH/assignments/<id>/<module>")
    g.add_argument("--results", metavar="FILE", help="also write Gradescope's results.json here")
    g.set_defaults(run=cmd_grade)

    s = sub.add_parser("generate", help="make assignments/<id>/ (the skeletons) from solutions/<id>/")
    s.add_argument("assignment", nargs="?", default="all", help="an assignment id, or 'all' (the default)")
    s.add_argument("--check", action="store_true", help="change nothing; fail if assignments/ has drifted")
    s.set_defaults(run=cmd_generate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
