"""Turn a reference module into a student skeleton, as nbgrader's ClearSolutions does.

Lines between `### BEGIN SOLUTION` and `### END SOLUTION` become one
`raise NotImplementedError()` at the indentation of the BEGIN marker; lines between
`### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS` disappear. Everything else
(signatures, docstrings, given code) is kept as it is.
"""
from __future__ import annotations

import re
from typing import Iterator

_MARKER = re.compile(r"^(?P<indent>[ \t]*)#+\s*(?P<edge>BEGIN|END)\s+(?P<kind>SOLUTION|HIDDEN TESTS)\s*$")
STUB = "raise NotImplementedError()"
SOLUTION, HIDDEN_TESTS = "SOLUTION", "HIDDEN TESTS"


class MarkerError(ValueError):
    """Markers that do not pair up: generating from them would leak or break code."""


def marker(line: str) -> re.Match | None:
    """The marker a line is (its `indent`, `edge` BEGIN or END, and `kind`), or None.

    The one definition of a marker: generation, release and every leak check use it.
    """
    return _MARKER.match(line.rstrip("\r\n"))


def has_markers(text: str) -> bool:
    return any(marker(line) for line in text.splitlines())


def walk(text: str, *, source: str = "<module>") -> Iterator[tuple[str, re.Match | None, str | None]]:
    """Each line (ends kept) with the marker it is and the kind of region it lies in.

    Raises MarkerError where markers do not pair up, so nothing is generated from them.
    """
    open_kind: str | None = None
    open_line = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        match = marker(line)
        if match is not None:
            edge, kind = match["edge"], match["kind"]
            if edge == "BEGIN" and open_kind is not None:
                raise MarkerError(f"{source}:{number}: BEGIN {kind} inside {open_kind} opened at line {open_line}")
            if edge == "END" and open_kind != kind:
                raise MarkerError(f"{source}:{number}: END {kind} without a matching BEGIN")
            open_kind, open_line = (kind, number) if edge == "BEGIN" else (None, open_line)
        yield line, match, open_kind if match is None else None
    if open_kind is not None:
        raise MarkerError(f"{source}:{open_line}: BEGIN {open_kind} is never closed")


def strip_solutions(text: str, *, source: str = "<module>") -> str:
    out: list[str] = []
    for line, match, inside in list(walk(text, source=source)):
        if match is not None and match["edge"] == "BEGIN" and match["kind"] == SOLUTION:
            out.append(f"{match['indent']}{STUB}\n")
        elif match is None and inside is None:
            out.append(line)
    return "".join(out)


def drop_markers(text: str, *, source: str = "<module>") -> str:
    """The published solution: solution regions kept without their marker lines, hidden tests gone."""
    return "".join(line for line, match, inside in list(walk(text, source=source))
                   if match is None and inside != HIDDEN_TESTS)


def solution_lines(text: str, *, source: str = "<module>") -> list[str]:
    """The lines inside solution regions, markers excluded: the answers a student must not be handed."""
    return region_lines(text.splitlines(), SOLUTION, strict=True, source=source)


def region_lines(lines: list[str], kind: str, *, strict: bool = False, source: str = "<module>") -> list[str]:
    """The lines between BEGIN and END markers of `kind`, without their ends.

    Not strict: for scanning what may leak (notebook cells, where a region may not close
    in the same cell), markers need not pair up.
    """
    if strict:
        return [line.rstrip("\r\n") for line, match, inside in list(walk("\n".join(lines) + "\n", source=source))
                if inside == kind]
    found, open_kind = [], None
    for line in lines:
        match = marker(line)
        if match is not None:
            open_kind = match["kind"] if match["edge"] == "BEGIN" else None
        elif open_kind == kind:
            found.append(line)
    return found
