"""The class at a glance as one self-contained HTML file, and its headline numbers in Markdown.

The page holds everything it shows: the histograms are PNGs made with matplotlib and
inlined as base64, the style is inline, and there is no script. Its Content Security
Policy allows nothing else (no script, no request), so even a student's text that got
through unescaped could neither run nor call out. It does not get through: the template
is rendered by Jinja2 with autoescaping on, so every name, reason and message a student's
repository or submission put into the results is shown as text.

matplotlib and Jinja2 are the `report` extra (setup.sh installs it): a grader that only
grades never imports them.
"""
from __future__ import annotations

import base64
import io
from datetime import datetime, timezone
from pathlib import Path

from grader.classwork.overview import AssignmentView, Overview
from grader.formats import number
from grader.formats.markdown import cell

TEMPLATE = Path(__file__).with_name("class_report.html.j2")
NEEDS = "pip install -e '.[report]' (setup.sh installs it)"


class ReportError(RuntimeError):
    pass


def histogram(view: AssignmentView) -> str:
    """The spread of `view`'s scores as a PNG, base64: one bar per point (or per twentieth of the maximum)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display
    top = max(view.max_score, max(view.scores, default=0), 1)
    width = max(1.0, top / 20)
    edges = [i * width for i in range(int(top / width) + 2)]
    figure = Figure(figsize=(6.4, 2.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.hist(view.scores, bins=edges, color="#3465a4", edgecolor="white")
    axes.set_xlabel(f"points (of {number(view.max_score)})")
    axes.set_ylabel("students")
    axes.set_xlim(0, edges[-1])
    axes.yaxis.get_major_locator().set_params(integer=True)
    if view.scores:
        axes.axvline(view.mean, color="#cc0000", linewidth=1.5, label=f"mean {number(view.mean)}")
        axes.legend(loc="upper left", frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def html(view: Overview, title: str = "") -> str:
    try:
        import jinja2
        import matplotlib  # noqa: F401  (here, so that a missing one is said before any work)
    except ImportError as exc:
        raise ReportError(f"`grader report` needs matplotlib and Jinja2 ({exc.name} is missing): {NEEDS}") from None
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    environment.filters["points"] = number
    environment.filters["percent"] = lambda share: f"{100 * share:.0f}%"
    template = environment.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(view=view, title=title or "The class at a glance",
                           charts={a.id: histogram(a) for a in view.assignments},
                           made=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def headline(view: Overview, where: str = "") -> str:
    """The numbers a run's summary shows ($GITHUB_STEP_SUMMARY); `where` says where the full report is."""
    graded = view.graded
    lines = ["## The class at a glance", "",
             f"- **{len(view.students)}** students: **{len(graded)}** graded, **{len(view.missing)}** without a grade",
             f"- total of the graded: mean **{number(view.mean_total)}**, median **{number(view.median_total)}** "
             f"of {number(view.max_total)}"]
    for a in view.assignments:
        worst = next((t for t in a.tests if t.passed < t.graded), None)
        broken = (f"; most broken: `{cell(worst.test, 80)}` (passed by {worst.passed} of {worst.graded})"
                  if worst else "")
        lines.append(f"- {a.id}: mean {number(a.mean)} of {number(a.max_score)}{broken}")
    if view.push_times:
        lines.append(f"- **{len(view.late)}** commits dated before the deadline but pushed after it")
    if where:
        lines += ["", where]
    return "\n".join(lines) + "\n\n"
