"""The runner result that GitHub Classroom's autograding-grading-reporter reads.

A runner step publishes it base64-encoded as its `result` output; the reporter
finds it in the environment variable `<STEP-ID>_RESULTS` and adds up the scores.
"""
from __future__ import annotations

from grader.formats import number
from grader.scoring import AssignmentResult


def runner_result(results: list[AssignmentResult]) -> dict:
    tests = []
    for assignment in results:
        for test in assignment.tests:
            passed = test.passed
            message = test.spec.description if passed else f"{test.outcome.status}: {test.outcome.reason}"
            tests.append({
                "name": f"{assignment.assignment}::{test.spec.name}",
                "status": "pass" if passed else "fail",
                "score": number(test.score),
                "message": message,
            })
    return {
        "version": 1,
        "status": "pass" if all(t["status"] == "pass" for t in tests) else "fail",
        "max_score": number(sum(a.max_score for a in results)),
        "tests": tests,
    }
