"""Find the student's module in a submission folder, and read it for things to review.

Only the module file is the student's work (ASSIGNMENTS.md): it may sit at
`PATH/<id>/<module>` or `PATH/assignments/<id>/<module>` (a student's repository).
"""
from __future__ import annotations

import re
from pathlib import Path

from grader.course import Assignment


def candidates(submission: Path, assignment: Assignment) -> list[Path]:
    return [submission / assignment.id / assignment.module,
            submission / "assignments" / assignment.id / assignment.module]


def locate(submission: Path, assignment: Assignment) -> Path | None:
    """The module file itself; a symbolic link does not count (it could point at anything)."""
    for path in candidates(submission, assignment):
        if path.is_file() and not path.is_symlink():
            return path
    return None


# Student code has no business with the test machinery. A match is not a
# verdict (the score is counted outside the student's reach either way), only a
# line in the feedback that an instructor may want to read the module.
_SUSPECT = re.compile(r"\b(_pytest|pytest|pluggy|hypothesis|grader|GRADER_\w+|sys\._getframe|gc\.get_objects)\b")


def review_flags(module: Path) -> list[str]:
    found: set[str] = set()
    for path in sorted(module.parent.rglob("*.py")):
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue  # never loaded by grading
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found.update(m.group(1) for m in _SUSPECT.finditer(text))
    if not found:
        return []
    return [f"{module.name} (or a helper beside it) refers to {', '.join(sorted(found))}: "
            "flagged for the instructor to review"]
