"""Gradescope's results.json: the shape autograder platforms read.

`visibility` is Gradescope's own setting for each test: `visible`, or not shown
to the student until the due date (`after_due_date`), until the grades are
published (`after_published`), or ever (`hidden`). While the tests are not shown,
neither is the score (Gradescope hides the total of hidden tests, and the summary
here leaves it out), but the student still sees at once whether the module was found
and imports: one check per assignment, always visible, worth nothing.
"""
from __future__ import annotations

from grader.formats import number
from grader.scoring import AssignmentResult

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
_SHOWN = {"hidden": "are not shown here", "after_due_date": "are shown after the due date",
          "after_published": "are shown when the grades are published"}


UNSEALED = "unsealed"  # said on every result graded without the wall around student code


def _tests(result: AssignmentResult, visibility: str) -> list[dict]:
    tests = []
    for test in result.tests:
        output = test.spec.description if result.sealed else f"[{UNSEALED}] {test.spec.description}"
        if not test.passed:
            output += f"\n\n{test.outcome.status}: {test.outcome.reason}".rstrip()
        tests.append({
            "name": f"{result.assignment}::{test.spec.name}",
            "score": number(test.score),
            "max_score": number(test.spec.points),
            "status": "passed" if test.passed else "failed",
            "output": output.strip(),
            "visibility": visibility,
        })
    return tests


def _check(result: AssignmentResult, visibility: str) -> dict:
    """What a student may see before the tests are shown: found and importing, or why not."""
    verdict = result.problem or (f"Your module was found and imports. The tests' results and your score "
                                 f"{_SHOWN[visibility]}.")
    return {
        "name": f"{result.assignment}::your submission",
        "score": 0,
        "max_score": 0,
        "status": "failed" if result.problem else "passed",
        "output": "\n".join([verdict] + [n for n in result.notes if n != result.problem]),
        "visibility": "visible",
    }


def results_json(results: list[AssignmentResult], seconds: float, visibility: str = "visible") -> dict:
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    tests, summary = [], []
    for result in results:
        if visibility == "visible":
            summary.append(f"{result.assignment}: {number(result.score)} / {number(result.max_score)}"
                           + ("" if result.sealed else f" ({UNSEALED})"))
            summary += [f"  {note}" for note in result.notes]
        else:
            tests.append(_check(result, visibility))
            summary.append(f"{result.assignment}: {tests[-1]['output'].splitlines()[0]}")
        tests += _tests(result, visibility)
    document = {
        "score": number(sum(a.score for a in results)),
        "max_score": number(sum(a.max_score for a in results)),
        "execution_time": round(seconds, 2),
        "output": "\n".join(summary),
        "tests": tests,
    }
    if not all(result.sealed for result in results):
        document["extra_data"] = {UNSEALED: True}  # Gradescope keeps extra_data without reading it
    return document
