"""The score table on the terminal: every test, its points and, for a failure, why."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.formats import number
from grader.scoring import PASSED, AssignmentResult

STYLE = {PASSED: "green"}


def table(result: AssignmentResult) -> Table:
    """Every test of `result`; student text goes in as Text, never as markup (a reason may hold '[/]')."""
    title = f"{result.assignment}: {number(result.score)} / {number(result.max_score)} points"
    if not result.sealed:
        title += " (unsealed)"
    t = Table(title=title, title_justify="left", expand=True, show_lines=result.score < result.max_score)
    t.add_column("Test", ratio=2, overflow="fold")
    t.add_column("Points", justify="right", no_wrap=True)
    t.add_column("Result", ratio=3, overflow="fold")
    for test in result.tests:
        name = Text(test.spec.name, style="bold")
        if test.spec.description and not test.passed:
            name.append(f"\n{test.spec.description}", style="dim")
        outcome = Text(test.outcome.status, style=STYLE.get(test.outcome.status, "red"))
        if not test.passed and test.outcome.reason:
            outcome.append(f": {test.outcome.reason}")
        t.add_row(name, f"{number(test.score)} / {number(test.spec.points)}", outcome)
    return t


def show(results: list[AssignmentResult], console: Console | None = None) -> None:
    console = console or Console(width=None if Console().is_terminal else 120)
    for result in results:
        console.print(table(result))
        for note in result.notes:
            console.print(Text("note: ", style="yellow").append(note), highlight=False)
        console.print()
    if len(results) > 1:
        score = sum(r.score for r in results)
        most = sum(r.max_score for r in results)
        console.print(f"[bold]Total: {number(score)} / {number(most)} points[/bold]")
