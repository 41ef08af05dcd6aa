"""nbgrader's gradebook as the course's one gradebook: hidden-test scores beside the notebooks'.

Every lab notebook ends with a task cell `hidden_tests`, worth what the module's
hidden tests are worth. Importing a class's results files (one Gradescope-shaped
`<student>.json` per student, from `grade-class` or the grading workflow) writes
each student's pytest score into that cell as its score, and the failing tests as
its comment, so formgrader, feedback and `nbgrader export` all see it. Importing
again after a regrade overwrites, it never adds.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.course import ROOT
from grader.formats import class_csv, number

HIDDEN_CELL = "hidden_tests"
LAB = "lab"
COURSE = "caches-and-queues"
DEFAULT_DB = f"sqlite:///{ROOT / 'nbgrader' / 'gradebook.db'}"  # where nbgrader_config.py puts it


class GradebookError(RuntimeError):
    pass


def _api():
    try:
        from nbgrader import api
    except ImportError as exc:
        raise GradebookError("the gradebook needs nbgrader: pip install -e '.[notebooks]'") from exc
    # nbgrader's Gradebook runs the `alembic` command: make this environment's own findable
    bin_dir = str(Path(sys.executable).parent)
    if shutil.which("alembic") is None and bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return api


def _open(api, db_url: str):
    """The gradebook at `db_url`, which `grader gradebook init` must have made (nbgrader would only say
    'unable to open database file')."""
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).is_file():
        raise GradebookError(f"no gradebook at {db_url.removeprefix('sqlite:///')}: "
                             "run `.venv/bin/grader gradebook init <id>` first, for each assignment")
    return api.Gradebook(db_url, COURSE)


def feedback(results: dict, assignment: str) -> str:
    """The comment a student reads beside the hidden-tests score: each test that failed, and why."""
    failed = [t for t in results.get("tests", []) if t["name"].startswith(f"{assignment}::") and
              t["score"] < t["max_score"]]
    if not failed:
        return "Every hidden test passed."
    lines = [f"{len(failed)} hidden test(s) failed:"]
    for test in failed:
        reason = test.get("output", "").strip().split("\n\n", 1)[-1]
        lines.append(f"- {test['name'].split('::', 1)[1]} ({number(test['score'])}/{number(test['max_score'])}): "
                     f"{reason[:500]}")
    return "\n".join(lines)


def init(assignment, db_url: str) -> list[str]:
    """Record `assignment`'s lab notebooks (cells, points, checksums) in the gradebook, creating it.

    nbgrader generates the notebooks afresh into a scratch folder, so assignments/
    is never touched; what it makes must be what the students were given.
    """
    _api()
    if db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    from grader.authoring import notebooks
    released = notebooks.student_notebooks(assignment, db_url=db_url, course_id=COURSE)
    if not released:
        raise GradebookError(f"{assignment.id} has no lab notebook: there is nothing to record")
    stale = [str(rel) for rel, data in released.items() if not (assignment.skeleton_dir / rel).is_file()
             or (assignment.skeleton_dir / rel).read_bytes() != data]
    if stale:
        raise GradebookError(f"assignments/{assignment.id}/{', '.join(stale)} is not what solutions/ makes now: "
                             f"run `.venv/bin/grader generate {assignment.id}`, commit and release it, then init again")
    return sorted(str(rel) for rel in released)


@dataclass
class Imported:
    student: str
    assignment: str
    score: float
    created_submission: bool


def import_results(results_dir: Path, db_url: str, roster: Path | None = None) -> list[Imported]:
    """Write every results file's hidden-test scores into the gradebook at `db_url`."""
    api = _api()
    from grader.classwork import roster as roster_file

    done: list[Imported] = []
    try:
        rostered = [row["student"] for row in roster_file.read(roster)] if roster is not None else []
    except (OSError, roster_file.RosterError) as exc:
        raise GradebookError(str(exc)) from None
    with _open(api, db_url) as gb:
        for name in rostered:
            gb.update_or_create_student(name)
        for path in sorted(results_dir.glob("*.json")):
            student = class_csv.read(path)
            if student.problem and not student.maxima:
                raise GradebookError(f"{path}: {student.problem}")
            results = json.loads(path.read_text())
            gb.update_or_create_student(student.name)
            for assignment, score in sorted(student.scores.items()):
                done.append(_import_one(api, gb, student.name, assignment, score, student.maxima[assignment],
                                        feedback(results, assignment)))
    return done


def _import_one(api, gb, student: str, assignment: str, score: float, most: float, comment: str) -> Imported:
    try:
        cell = gb.find_graded_cell(HIDDEN_CELL, LAB, assignment)
    except api.MissingEntry:
        raise GradebookError(f"the gradebook has no {assignment}/{LAB}.ipynb with a '{HIDDEN_CELL}' cell: "
                             f"run `.venv/bin/grader gradebook init {assignment}` first") from None
    if abs(cell.max_score - most) > 1e-9:
        raise GradebookError(f"{assignment}'s {HIDDEN_CELL} cell is worth {number(cell.max_score)} points but its "
                             f"hidden tests {number(most)}: update the lab notebook and generate again")
    created = False
    try:
        gb.find_submission(assignment, student)
    except api.MissingEntry:
        gb.add_submission(assignment, student)  # no notebook handed in: the tests still count
        created = True
    grade = gb.find_grade(HIDDEN_CELL, LAB, assignment, student)
    grade.manual_score = score
    grade.needs_manual_grade = False
    gb.find_comment(HIDDEN_CELL, LAB, assignment, student).manual_comment = comment
    gb.db.commit()
    return Imported(student, assignment, score, created)


# -- handing notebooks to nbgrader ---------------------------------------------------

SUBMITTED = ROOT / "nbgrader" / "submitted"  # nbgrader_config.py's submitted_directory


def collect(assignment, submissions: Path, to: Path = SUBMITTED) -> dict[str, list[str]]:
    """Copy each student's lab notebook and modules into nbgrader's submitted/<student>/<id>/.

    `submissions` holds one folder per student, laid out as for `grader grade`.
    Returns, per student, the files copied (none when the student handed in nothing).
    """
    from grader import submission

    copied: dict[str, list[str]] = {}
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        module = submission.locate(folder, assignment)
        home = module.parent if module else next(
            (c.parent for c in submission.candidates(folder, assignment) if (c.parent / "lab.ipynb").is_file()), None)
        files = [] if home is None else sorted(
            p for p in home.iterdir() if p.is_file() and not p.is_symlink()
            and (p.suffix == ".py" and not p.name.startswith("test_") or p.name == "lab.ipynb"))
        target = to / folder.name / assignment.id
        if files:
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            for path in files:
                shutil.copy2(path, target / path.name)
        copied[folder.name] = [p.name for p in files]
    return copied


# -- one CSV of everything -------------------------------------------------------

COLUMNS = ["student", "assignment", "hidden_tests", "hidden_tests_max", "lab_autograded", "lab_autograded_max",
           "lab_written", "lab_written_max", "total", "max_score", "needs_manual_grade"]


def _kind(cell) -> str:
    """Which column a graded cell's points go to."""
    if cell.name == HIDDEN_CELL:
        return "hidden_tests"
    return "lab_written" if cell.cell_type == "markdown" else "lab_autograded"


def rows(db_url: str) -> list[dict]:
    """Per student and assignment: hidden tests, autograded and written notebook points, and totals."""
    api = _api()
    out = []
    with _open(api, db_url) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for student in sorted(gb.students, key=lambda s: s.id):
                row = {c: 0.0 for c in COLUMNS[2:-1]}
                row.update(student=student.id, assignment=assignment.name, needs_manual_grade=False)
                for notebook in assignment.notebooks:
                    for cell in list(notebook.grade_cells) + list(notebook.task_cells):
                        row[f"{_kind(cell)}_max"] += cell.max_score
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                except api.MissingEntry:
                    submission = None
                if submission is not None:
                    for notebook in submission.notebooks:
                        for grade in notebook.grades:
                            row[_kind(grade.cell)] += grade.score or 0.0
                    row["needs_manual_grade"] = bool(submission.needs_manual_grade)
                row["total"] = row["hidden_tests"] + row["lab_autograded"] + row["lab_written"]
                row["max_score"] = row["hidden_tests_max"] + row["lab_autograded_max"] + row["lab_written_max"]
                out.append({k: (number(v) if isinstance(v, float) else v) for k, v in row.items()})
    return out


def export_csv(db_url: str, path: Path) -> list[dict]:
    table = rows(db_url)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    return table
