"""Turn a reference module into a student skeleton, as nbgrader's ClearSolutions does.

Lines between `### BEGIN SOLUTION` and `### END SOLUTION` become one
`raise NotImplementedError()` at the indentation of the BEGIN marker; lines between
`### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS` disappear. Everything else
(signatures, docstrings, given code) is kept as it is.
"""
from __future__ import annotations

import re

_MARKER = re.compile(r"^(?P<indent>[ \t]*)#+\s*(?P<edge>BEGIN|END)\s+(?P<kind>SOLUTION|HIDDEN TESTS)\s*$")
STUB = "raise NotImplementedError()"


class MarkerError(ValueError):
    """Markers that do not pair up: generating from them would leak or break code."""


def strip_solutions(text: str, *, source: str = "<module>") -> str:
    out: list[str] = []
    open_kind: str | None = None
    open_line = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        match = _MARKER.match(line.rstrip("\r\n"))
        if match is None:
            if open_kind is None:
                out.append(line)
            continue
        edge, kind = match["edge"], match["kind"]
        if edge == "BEGIN":
            if open_kind is not None:
                raise MarkerError(f"{source}:{number}: BEGIN {kind} inside {open_kind} opened at line {open_line}")
            open_kind, open_line = kind, number
            if kind == "SOLUTION":
                out.append(f"{match['indent']}{STUB}\n")
        else:
            if open_kind != kind:
                raise MarkerError(f"{source}:{number}: END {kind} without a matching BEGIN")
            open_kind = None
    if open_kind is not None:
        raise MarkerError(f"{source}:{open_line}: BEGIN {open_kind} is never closed")
    return "".join(out)


def drop_markers(text: str, *, source: str = "<module>") -> str:
    """The published solution: solution regions kept without their marker lines, hidden tests gone."""
    strip_solutions(text, source=source)  # the same checks: markers must pair up
    out, hidden = [], False
    for line in text.splitlines(keepends=True):
        match = _MARKER.match(line.rstrip("\r\n"))
        if match is None:
            if not hidden:
                out.append(line)
        elif match["kind"] == "HIDDEN TESTS":
            hidden = match["edge"] == "BEGIN"
    return "".join(out)


def solution_lines(text: str, *, source: str = "<module>") -> list[str]:
    """The lines inside solution regions, markers excluded: the answers a student must not be handed."""
    strip_solutions(text, source=source)  # the same checks: markers must pair up
    out, kind = [], None
    for line in text.splitlines():
        match = _MARKER.match(line)
        if match is not None:
            kind = match["kind"] if match["edge"] == "BEGIN" else None
        elif kind == "SOLUTION":
            out.append(line)
    return out


def has_markers(text: str) -> bool:
    return any(_MARKER.match(line) for line in text.splitlines())
