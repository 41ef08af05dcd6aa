"""Gradescope's results.json: the shape autograder platforms read."""
from __future__ import annotations

from grader.scoring import PASSED, AssignmentResult


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 2)


def results_json(results: list[AssignmentResult], seconds: float) -> dict:
    tests = []
    for assignment in results:
        for test in assignment.tests:
            output = test.spec.description
            if test.outcome.status != PASSED:
                output += f"\n\n{test.outcome.status}: {test.outcome.reason}".rstrip()
            tests.append({
                "name": f"{assignment.assignment}::{test.spec.name}",
                "score": _number(test.score),
                "max_score": _number(test.spec.points),
                "status": "passed" if test.outcome.status == PASSED else "failed",
                "output": output.strip(),
                "visibility": "visible",
            })
    summary = []
    for assignment in results:
        summary.append(f"{assignment.assignment}: {_number(assignment.score)} / {_number(assignment.max_score)}")
        summary += [f"  {note}" for note in assignment.notes]
    return {
        "score": _number(sum(a.score for a in results)),
        "max_score": _number(sum(a.max_score for a in results)),
        "execution_time": round(seconds, 2),
        "output": "\n".join(summary),
        "tests": tests,
    }
