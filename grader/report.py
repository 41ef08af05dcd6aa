"""The score table on the terminal: the tests that lost points, why, and one line per assignment.

By default only the tests that lost points are shown in detail (with `verbose`, every test),
and the run ends with one table of the assignments: points and time. Every text a test or a
submission supplied (a reason, a note) goes to rich as `Text`, never as markup, so that a
student's "[/]" or "[red]" prints as written.
"""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.formats import number
from grader.scoring import PASSED, AssignmentResult

STYLE = {PASSED: "green"}


def table(result: AssignmentResult, verbose: bool = False) -> Table:
    """The assignment's tests that lost points (with `verbose`, all of them), each with why."""
    shown = [t for t in result.tests if verbose or not t.passed]
    lost = len([t for t in result.tests if not t.passed])
    title = f"{result.assignment}: {number(result.score)} / {number(result.max_score)} points"
    if not result.sealed:
        title += " (unsealed)"
    if not verbose:
        title += f", {lost} of {len(result.tests)} tests lost points"
    t = Table(title=title, title_justify="left", expand=True, show_lines=result.score < result.max_score)
    t.add_column("Test", ratio=2, overflow="fold")
    t.add_column("Points", justify="right", no_wrap=True)
    t.add_column("Result", ratio=3, overflow="fold")
    for test in shown:
        name = Text(test.spec.name, style="bold")
        if test.spec.description and not test.passed:
            name.append(f"\n{test.spec.description}", style="dim")
        outcome = Text(test.outcome.status, style=STYLE.get(test.outcome.status, "red"))
        if not test.passed and test.outcome.reason:
            outcome.append(f": {test.outcome.reason}")
        t.add_row(name, f"{number(test.score)} / {number(test.spec.points)}", outcome)
    return t


def summary(results: list[AssignmentResult]) -> Table:
    """One row per assignment: its points, how many tests lost them, how long it took."""
    t = Table(title="Assignments", title_justify="left")
    t.add_column("Assignment")
    t.add_column("Points", justify="right")
    t.add_column("Tests that lost points", justify="right")
    t.add_column("Time", justify="right")  # no total: assignments may be graded side by side
    for r in results:
        lost = len([test for test in r.tests if not test.passed])
        style = "green" if r.tests and not lost else "red" if lost else ""
        points = Text(f"{number(r.score)} / {number(r.max_score)}", style=style)
        t.add_row(r.assignment + ("" if r.sealed else " (unsealed)"), points,
                  f"{lost} of {len(r.tests)}", f"{r.seconds:.1f} s")
    return t


def show(results: list[AssignmentResult], console: Console | None = None, verbose: bool = False) -> None:
    console = console or Console(width=None if Console().is_terminal else 120)
    for result in results:
        if verbose or result.score < result.max_score or not result.tests:
            console.print(table(result, verbose))
        for note in result.notes:
            console.print(Text.assemble(("note: ", "yellow"), note), highlight=False)
        if verbose or result.notes or result.score < result.max_score:
            console.print()
    console.print(summary(results))
    score = sum(r.score for r in results)
    most = sum(r.max_score for r in results)
    console.print(Text(f"Total: {number(score)} / {number(most)} points", style="bold"))
