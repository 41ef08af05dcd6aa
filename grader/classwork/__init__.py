"""Running a class: rosters and deadlines, fetching and grading every student, collecting the
results against the roster, and the nbgrader gradebook."""
