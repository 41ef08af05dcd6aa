"""The terminal table: the tests that lost points in detail, every test only when asked, one table of the
assignments at the end, and a student's text printed as written, never read as rich markup."""
from __future__ import annotations

import io

from rich.console import Console

from grader import report
from grader.scoring import FAILED, PASSED, AssignmentResult, Outcome, TestResult, TestSpec


def result(id: str, failing: dict[str, str], passing: list[str], notes=()) -> AssignmentResult:
    tests = [TestResult(TestSpec(f"{id}::{n}", n, f"what {n} checks", 2, 10), Outcome(FAILED, why))
             for n, why in failing.items()]
    tests += [TestResult(TestSpec(f"{id}::{n}", n, f"what {n} checks", 1, 10), Outcome(PASSED)) for n in passing]
    return AssignmentResult(id, tests, list(notes), seconds=3.25)


def shown(results, verbose=False) -> str:
    console = Console(file=io.StringIO(), width=160)
    report.show(results, console, verbose)
    return console.file.getvalue()


CLASS = [result("01-a", {}, [f"test_fine_{n}" for n in range(20)]),
         result("02-b", {"test_broken": "AssertionError: got 3"}, ["test_fine_b"])]


def test_only_the_tests_that_lost_points_are_shown_then_one_table_of_the_assignments():
    text = shown(CLASS)
    assert "test_broken" in text and "AssertionError: got 3" in text and "what test_broken checks" in text
    assert "test_fine" not in text  # 21 passing tests, not one line of them
    assert "02-b: 1 / 3 points, 1 of 2 tests lost points" in text
    table = text[text.index("Assignments"):]
    assert "01-a" in table and "20 / 20" in table and "0 of 20" in table and "3.2 s" in table
    assert "02-b" in table and "1 / 3" in table and "Total: 21 / 23 points" in text
    assert len(text.splitlines()) < 30


def test_verbose_shows_every_test():
    text = shown(CLASS, verbose=True)
    assert all(f"test_fine_{n}" in text for n in range(20)) and "test_fine_b" in text


def test_a_students_text_is_printed_as_written_never_as_markup():
    reason = "expected [bold]x[/bold] got [/] and [red]"
    note = "squares.py: [/] is not a module [link=file:///etc/passwd]name[/link]"
    text = shown([result("01-a", {"test_t": reason}, [], notes=[note])])
    assert f"failed: {reason}" in text
    assert f"note: {note}" in text
