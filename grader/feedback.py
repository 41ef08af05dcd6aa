"""What a student reads of a failure: the test's own message, without the test tools' advice.

Hypothesis and pytest write to whoever runs them ("use Verbosity.verbose to view",
"You can reproduce this test case by temporarily adding @reproduce_failure(...)",
"use -v to show"); a student who handed in a module can act on none of it, and an
"Explanation:" block lists lines of the hidden tests. `clean` keeps the message and
the failing example and drops that advice. It also indents (by 8 spaces, enough
inside a list item too) a line that Markdown would turn into a heading, a `#` line or
an underline of `=` or `-`, so that nbgrader's feedback shows it as the text it is.
"""
from __future__ import annotations

import re

# Lines that only address the person running the tool: dropped whole.
_ADVICE = re.compile(
    r"^\s*#\s*The test (?:always failed|sometimes passed) when commented parts were varied together"
    r"|@reproduce_failure\("  # print_blob's line, whatever its wording in this version
    r"|\b(?:add(?:ing)?|use) @seed\("  # a failure Hypothesis could not replay
    r"|\bprint_blob\b|\bsuppress_health_check\b"
    r"|^\s*\(note: .*Verbosity\.\w+.*\)\s*$"  # "(note: 1 other explicit example also failed ...)"
    r"|^\s*Use -v to get more diff\s*$")
# Advice at the end of an otherwise useful line: "Omitting 3 identical items, use -vv to show".
_TRAILING = re.compile(r",?\s*\(?\buse '?-v+'? to (?:show|see)\)?|\s*\([^()\n]*Verbosity\.\w+[^()\n]*\)")
_EXPLANATION = re.compile(r"^(\s*)Explanation:\s*$")
_HEADING = re.compile(r"^ {0,7}(?:#|=+\s*$|-+\s*$)")  # fewer than 8 spaces: a heading in a list


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Student text made safe to print and to store: a lone surrogate (which no terminal and no UTF-8
    file takes) as its escape, and every control character but newline and tab (a terminal's escape
    sequences: clear the screen, set the title, write the clipboard) as `\\x..`."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def clean(reason: str) -> str:
    """`reason` without the test tools' own instructions, printable, and safe to show as Markdown."""
    reason = printable(reason)
    kept: list[str] = []
    explanation: int | None = None  # the indentation of an "Explanation:" block being skipped
    for line in reason.splitlines():
        if explanation is not None:
            if not line.strip() or _indent(line) > explanation:
                continue  # the block's body: lines of the test files
            explanation = None
        match = _EXPLANATION.match(line)
        if match:
            explanation = len(match[1])
            continue
        if _ADVICE.search(line):
            continue
        trimmed = _TRAILING.sub("", line)
        if line.strip() and not trimmed.strip():
            continue
        kept.append(" " * 8 + trimmed.lstrip() if _HEADING.match(trimmed) else trimmed)
    # Blank lines left behind by what was removed, at the end or doubled, go too.
    text = re.sub(r"\n\s*\n(\s*\n)+", "\n\n", "\n".join(kept))
    return text.strip("\n").rstrip()
