"""Ways of writing grading results down, one format a module.

- gradescope: Gradescope's results.json (also the per-student file of class grading);
- classroom: the runner result that GitHub Classroom's grading reporter reads;
- markdown: a summary for a GitHub job ($GITHUB_STEP_SUMMARY);
- gradebook: a whole class's results files, as one CSV of totals.
"""


def number(x: float) -> float | int:
    """3.0 -> 3 and 2.5 -> 2.5: points as people write them."""
    return int(x) if float(x).is_integer() else round(x, 2)
