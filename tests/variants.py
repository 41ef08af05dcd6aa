"""Wrong submissions made from a reference module by small, exact edits.

Each variant is one realistic student mistake, and names the hidden tests meant
to catch it. Edits are exact text replacements that must each match once, so a
variant that no longer applies to the reference fails loudly instead of
silently testing the reference.
"""
from __future__ import annotations

from dataclasses import dataclass

from grader import course


@dataclass(frozen=True)
class Variant:
    assignment: str
    name: str
    mistake: str
    catches: tuple[str, ...]  # hidden test functions that must lose points
    edits: tuple[tuple[str, str], ...]

    def source(self) -> str:
        a = next(a for a in course.CATALOGUE if a.id == self.assignment)
        text = (a.solution_dir / a.module).read_text()
        for old, new in self.edits:
            count = text.count(old)
            if count != 1:
                raise AssertionError(f"variant {self.name}: {old!r} occurs {count} times in {a.module}, not once")
            text = text.replace(old, new)
        return text
