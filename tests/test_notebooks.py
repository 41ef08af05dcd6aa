"""The lab notebooks: they run on the reference, release without a solution, and their scores meet
the hidden tests' in one gradebook."""
from __future__ import annotations

import base64
import csv
import html as html_module
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ASSIGNMENTS, answered_lab, assignment
from nbclient import NotebookClient

from grader import pipeline
from grader.authoring.stripping import HIDDEN_TESTS, region_lines
from grader.classwork import nbgrader_gradebook
from grader.classwork.nbgrader_feedback import OUTPUT_CUT
from grader.course import ROOT
from grader.formats import gradescope
from grader.scoring import FAILED, PASSED, AssignmentResult, Outcome, TestResult, TestSpec

WITH_LABS = [id for id in ASSIGNMENTS if (assignment(id).solution_dir / "lab.ipynb").exists()]
VENV_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # nbgrader calls alembic


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_every_assignment_has_a_lab():
    assert WITH_LABS == ASSIGNMENTS


@pytest.mark.parametrize("id", WITH_LABS)
def test_lab_runs_top_to_bottom_on_the_reference_and_shows_its_plots(id):
    a = assignment(id)
    notebook = nbformat.read(a.solution_dir / "lab.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(a.solution_dir)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images and all(len(base64.b64decode(o.data["image/png"])) > 5000 for o in images)


@pytest.mark.parametrize("id", WITH_LABS)
def test_released_lab_holds_no_solution_and_no_hidden_test(id):
    a = assignment(id)
    source = nbformat.read(a.solution_dir / "lab.ipynb", as_version=4)
    released = nbformat.read(a.skeleton_dir / "lab.ipynb", as_version=4)
    text = json.dumps(released)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    for before, after in zip(source.cells, released.cells):
        meta = nbgrader_meta(before)
        if meta.get("solution"):
            assert after.source in ("YOUR ANSWER HERE", "# YOUR CODE HERE\nraise NotImplementedError()") or \
                "raise NotImplementedError()" in after.source and after.source != before.source
        if meta.get("grade") and "### BEGIN HIDDEN TESTS" in before.source:
            hidden = before.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            assert all(line not in after.source for line in hidden.strip().splitlines())


# The written question the course asks of each assignment: a word that its prompt must contain.
COURSE_QUESTIONS = {"01-cache-aside": "never", "02-sharding": "uneven", "03-queuepi": "ZeroMQ's sockets do",
                    "04-keepalive": "traffic", "05-workqueue": "RabbitMQ"}


@pytest.mark.parametrize("id", WITH_LABS)
def test_lab_asks_the_course_question_as_a_manually_graded_answer(id):
    notebook = nbformat.read(assignment(id).solution_dir / "lab.ipynb", as_version=4)
    cells = notebook.cells
    answers = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
               and nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade")]
    assert len(answers) >= 2 and all(nbgrader_meta(cells[i])["points"] > 0 for i in answers)
    assert any(COURSE_QUESTIONS[id] in cells[i - 1].source for i in answers)


@pytest.mark.parametrize("id", WITH_LABS)
def test_the_hidden_tests_cell_is_worth_what_the_hidden_tests_are(id):
    notebook = nbformat.read(assignment(id).solution_dir / "lab.ipynb", as_version=4)
    cells = [c for c in notebook.cells if nbgrader_meta(c).get("grade_id") == nbgrader_gradebook.HIDDEN_CELL]
    assert len(cells) == 1 and nbgrader_meta(cells[0]).get("task")
    manifest = pipeline.manifest_of(assignment(id))
    assert nbgrader_meta(cells[0])["points"] == sum(spec.points for spec in manifest)


def test_nbgrader_generate_assignment_writes_what_grader_generate_writes(tmp_path):
    """nbgrader copies .py files verbatim; the course's hook must strip them."""
    env = dict(os.environ, PATH=VENV_PATH)
    for id in WITH_LABS:
        done = subprocess.run(["nbgrader", "generate_assignment", id, "--no-db", "--force",
                               f"--CourseDirectory.release_directory={tmp_path}"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        made = {p.relative_to(tmp_path / id): p.read_bytes() for p in (tmp_path / id).rglob("*") if p.is_file()}
        ours = {p.relative_to(assignment(id).skeleton_dir): p.read_bytes()
                for p in assignment(id).skeleton_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert made == ours


# -- one gradebook, three students -----------------------------------------------------


def html_text(page: str) -> str:
    """The text a browser shows for an nbconvert page (code is split into highlighted spans)."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", page))


def _results(id, score, most):
    spec = TestSpec("t.py::test_everything", "test_everything", "Everything works.", most, 10)
    outcome = Outcome(PASSED) if score == most else Outcome(FAILED, "assert 1 == 2")
    passed = TestResult(spec, outcome)
    partial = TestResult(TestSpec("t.py::test_half", "test_half", "", 0, 10), Outcome(PASSED))
    result = AssignmentResult(id, [passed, partial])
    document = gradescope.results_json([result], 1.0)
    document["tests"][0]["score"] = score  # a partial score, as several tests would add up to
    return document


# A cell a student adds to the lab: what of the course can the kernel that autograding runs reach?
PRY = """
import os, resource
get_ipython().events.register("pre_run_cell", lambda info: print(info.raw_cell))  # every later cell's code
for path in ["{root}/solutions/01-cache-aside/squares.py", "{root}/grader/hidden/01-cache-aside/test_make_key.py",
             "{db}", "{root}/nbgrader_config.py", "{root}/solutions/01-cache-aside/lab.ipynb"]:
    try:
        print(open(path).read()[:3000])
    except OSError:
        print("unreachable")
others = [p for p in os.listdir("/proc") if p.isdigit() and open(f"/proc/{{p}}/cmdline").read().find("ipykernel") < 0]
print("no process but its own" if not others else open(f"/proc/{{others[0]}}/cmdline").read())
limit = lambda kind: resource.getrlimit(kind)[0]
print("limits", limit(resource.RLIMIT_AS) <= 4 << 30, limit(resource.RLIMIT_NPROC) <= 256)
"""


def test_gradebook_round_trip_for_three_students(tmp_path):
    id = "01-cache-aside"
    a = assignment(id)
    env = dict(os.environ, PATH=VENV_PATH)
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    dirs = [f"--CourseDirectory.db_url={db}"] + [f"--CourseDirectory.{step}_directory={tmp_path / step}"
                                                 for step in ("release", "submitted", "autograded", "feedback")]

    def nbgrader(*args):
        done = subprocess.run(["nbgrader", *args, *dirs], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]

    nbgrader("generate_assignment", id, "--force")
    released = nbformat.read(tmp_path / "release" / id / "lab.ipynb", as_version=4)
    source = nbformat.read(a.solution_dir / "lab.ipynb", as_version=4)
    prying = answered_lab(released, source)  # mal's answers are right; an extra cell of his pries
    prying.cells.insert(1, nbformat.v4.new_code_cell(PRY.format(root=ROOT, db=tmp_path / "gradebook.db")))
    students = {  # notebook handed in, module handed in
        "ada": (answered_lab(released, source), a.solution_dir / a.module),
        "bob": (released, a.solution_dir / a.module),
        "cy": (answered_lab(released, source), a.skeleton_dir / a.module),
        "mal": (prying, a.solution_dir / a.module),
    }
    for student, (notebook, module) in students.items():  # each student's clone of the template
        folder = tmp_path / "class" / student / "assignments" / id
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / "lab.ipynb")
        shutil.copy(module, folder / a.module)
        shutil.copy(a.skeleton_dir / "test_squares.py", folder)
    (tmp_path / "class" / "dee").mkdir()  # handed in nothing
    done = subprocess.run([sys.executable, "-m", "grader", "gradebook", "collect", id, "--submissions",
                           str(tmp_path / "class"), "--to", str(tmp_path / "submitted")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "submitted" / "ada" / id).iterdir()) == ["lab.ipynb", a.module]
    assert not (tmp_path / "submitted" / "dee").exists()
    nbgrader("autograde", id, "--create")
    pried = nbformat.read(tmp_path / "autograded" / "mal" / id / "lab.ipynb", as_version=4).cells[1]
    said = "".join(output.get("text", "") for output in pried.outputs)
    assert said.splitlines() == ["unreachable"] * 5 + ["no process but its own", "limits True True"], said[:2000]

    from nbgrader.api import Gradebook
    written = {"ada": (3, 2), "bob": (1, 0), "cy": (2, 2)}  # what a grader gives in formgrader
    with Gradebook(db) as gb:
        for student, (first, second) in written.items():
            gb.find_grade("answer_what_memcached_is_for", "lab", id, student).manual_score = first
            gb.find_grade("answer_why_two_thirds", "lab", id, student).manual_score = second
        gb.db.commit()

    results = tmp_path / "results"
    results.mkdir()
    for student, score in {"ada": 77, "bob": 40, "cy": 0, "dee": 12}.items():
        (results / f"{student}.json").write_text(json.dumps(_results(id, score, 77)))
    (tmp_path / "roster.csv").write_text("student,repository\nada,o/a\nbob,o/b\ncy,o/c\ndee,o/d\neve,o/e\n")
    for _ in range(2):  # a regrade imports again: it must replace, not add
        imported = nbgrader_gradebook.import_results(results, db, tmp_path / "roster.csv")
    assert {(i.student, i.score) for i in imported} == {("ada", 77), ("bob", 40), ("cy", 0), ("dee", 12)}

    table = {row["student"]: row for row in nbgrader_gradebook.export_csv(db, tmp_path / "grades.csv")}
    assert {s: table[s]["hidden_tests"] for s in table} == {"ada": 77, "bob": 40, "cy": 0, "dee": 12, "eve": 0,
                                                            "mal": 0}
    assert {s: table[s]["lab_autograded"] for s in table} == {"ada": 4, "bob": 0, "cy": 4, "dee": 0, "eve": 0,
                                                              "mal": 4}
    assert {s: table[s]["lab_written"] for s in table} == {"ada": 5, "bob": 1, "cy": 4, "dee": 0, "eve": 0,
                                                           "mal": 0}
    assert {s: table[s]["total"] for s in table} == {"ada": 86, "bob": 41, "cy": 8, "dee": 12, "eve": 0, "mal": 4}
    assert {row["max_score"] for row in table.values()} == {86}

    nbgrader("export", f"--to={tmp_path / 'nbgrader.csv'}")  # nbgrader's own export agrees on the totals
    with open(tmp_path / "nbgrader.csv") as f:
        theirs = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert theirs == {"ada": 86, "bob": 41, "cy": 8, "dee": 12, "eve": 0, "mal": 4}

    nbgrader("generate_feedback", id)  # the hidden tests' verdicts reach the student, never their code
    html = (tmp_path / "feedback" / "bob" / id / "lab.html").read_text()
    assert "hidden test(s) failed" in html and "test_everything" in html
    hidden = {line.strip() for cell in source.cells if cell.cell_type == "code"
              for line in region_lines(cell.source.splitlines(), HIDDEN_TESTS) if len(line.strip()) > 8}
    assert hidden, "the lab has hidden tests: this check would prove nothing without them"
    for student in ("bob", "mal"):  # mal's hook printed every hidden-test cell's code as it ran
        page = html_text((tmp_path / "feedback" / student / id / "lab.html").read_text())
        shown = {line.strip() for line in page.splitlines()}
        leaked = sorted(hidden & shown)
        assert leaked == [], f"{student}'s feedback shows the lab's hidden tests: {leaked[:3]}"
    assert OUTPUT_CUT in html, "a failing hidden-test cell should say it failed, and show nothing it printed"


def test_the_gradebook_commands_say_which_command_comes_first(tmp_path):
    """Before `grader gradebook init`, import and export name it, rather than failing inside SQLite."""
    db = f"sqlite:///{tmp_path / 'nbgrader' / 'gradebook.db'}"
    (tmp_path / "roster.csv").write_text("student,repository\nada,o/a\n")
    for attempt in (lambda: nbgrader_gradebook.import_results(tmp_path, db, tmp_path / "roster.csv"),
                    lambda: nbgrader_gradebook.export_csv(db, tmp_path / "gradebook.csv")):
        with pytest.raises(nbgrader_gradebook.GradebookError, match="grader gradebook init"):
            attempt()
    (tmp_path / "roster.csv").write_text("student,repository\n")
    with pytest.raises(nbgrader_gradebook.GradebookError, match="roster.example.csv"):
        nbgrader_gradebook.import_results(tmp_path, db, tmp_path / "roster.csv")
