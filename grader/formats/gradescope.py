"""Gradescope's results.json: the shape autograder platforms read."""
from __future__ import annotations

from grader.formats import number
from grader.scoring import PASSED, AssignmentResult


def results_json(results: list[AssignmentResult], seconds: float) -> dict:
    tests = []
    for assignment in results:
        for test in assignment.tests:
            output = test.spec.description
            if test.outcome.status != PASSED:
                output += f"\n\n{test.outcome.status}: {test.outcome.reason}".rstrip()
            tests.append({
                "name": f"{assignment.assignment}::{test.spec.name}",
                "score": number(test.score),
                "max_score": number(test.spec.points),
                "status": "passed" if test.outcome.status == PASSED else "failed",
                "output": output.strip(),
                "visibility": "visible",
            })
    summary = []
    for assignment in results:
        summary.append(f"{assignment.assignment}: {number(assignment.score)} / {number(assignment.max_score)}")
        summary += [f"  {note}" for note in assignment.notes]
    return {
        "score": number(sum(a.score for a in results)),
        "max_score": number(sum(a.max_score for a in results)),
        "execution_time": round(seconds, 2),
        "output": "\n".join(summary),
        "tests": tests,
    }
