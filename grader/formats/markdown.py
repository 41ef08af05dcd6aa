"""A Markdown summary of one submission's grade, for $GITHUB_STEP_SUMMARY."""
from __future__ import annotations

from grader.formats import number
from grader.scoring import AssignmentResult


def cell(text: str, limit: int = 300) -> str:
    """One table cell: no pipes or newlines may break the row."""
    text = text if len(text) <= limit else text[:limit] + " …"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def summary(results: list[AssignmentResult], title: str = "") -> str:
    lines = [f"## {title}", ""] if title else []
    for result in results:
        lines += [f"### {result.assignment}: {number(result.score)} / {number(result.max_score)} points", ""]
        lines += [f"> {cell(note)}" for note in result.notes]
        lines += ["", "| Test | Points | Result |", "|---|---:|---|"]
        for test in result.tests:
            passed = test.passed
            outcome = "✅ passed" if passed else f"❌ {test.outcome.status}: {test.outcome.reason}"
            lines.append(f"| `{cell(test.spec.name)}` | {number(test.score)} / {number(test.spec.points)} "
                         f"| {cell(outcome)} |")
        lines.append("")
    return "\n".join(lines) + "\n"
