"""The roster: a CSV of students and their repositories, turned into a job matrix."""
import json
import subprocess
import sys

import pytest

from grader.classwork.roster import RosterError, read
from grader.course import ROOT


def test_roster_rows_become_students(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("identifier,github_username,repository\nAda L.,ada,org/cq-ada\n,bob,org/cq-bob\n")
    assert read(path) == [{"student": "Ada_L", "repository": "org/cq-ada"},
                          {"student": "bob", "repository": "org/cq-bob"}]


@pytest.mark.parametrize("text, problem", [
    ("student,repository\nada,not-a-repo\n", "owner/name"),
    ("student,repository\nada,org/a\nada,org/b\n", "twice"),
    ("student,repository\n", "nobody"),
])
def test_bad_rosters_say_where(tmp_path, text, problem):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(RosterError, match=problem):
        read(path)


def test_the_workflow_can_read_the_roster_before_installing_anything():
    done = subprocess.run([sys.executable, "-S", "-m", "grader.classwork.roster",
                           str(ROOT / "classroom" / "roster.example.csv")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["repository"].count("/") == 1


# -- the three kinds of roster a teacher has today ------------------------------------

FIXTURES = ROOT / "tests" / "fixtures" / "rosters"
CLASSROOM50 = {"classroom50": "my-org/cq-fall", "assignment": "01-cache-aside"}


def test_a_classroom50_roster_names_repositories_as_classroom50_does():
    students = read(FIXTURES / "classroom50-roster.csv", **CLASSROOM50)
    assert students == read(FIXTURES / "plain-roster.csv")  # the same class, written out by hand
    assert [s["repository"] for s in students][1] == "my-org/cq-fall-01-cache-aside-grace-h"  # lowercased
    assert "prof-x" not in {s["student"] for s in students}  # staff hold no student repository


def test_github_classrooms_grades_csv_gives_the_same_students_and_their_old_repositories():
    students = read(FIXTURES / "github-classroom-grades.csv")
    assert [s["student"] for s in students] == [s["student"] for s in read(FIXTURES / "plain-roster.csv")]
    assert [s["repository"] for s in students] == [
        "my-org/01-cache-aside-ada-l", "my-org/01-cache-aside-grace-h", "my-org/01-cache-aside-alan-t"]


def test_the_workflow_reads_each_kind_before_installing_anything():
    for name in ("classroom50-roster.csv", "github-classroom-grades.csv", "plain-roster.csv"):
        done = subprocess.run([sys.executable, "-S", "-m", "grader.classwork.roster", str(FIXTURES / name),
                               "--classroom50", "my-org/cq-fall", "--assignment", "01-cache-aside"],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        assert len(json.loads(done.stdout)) == 3


@pytest.mark.parametrize("options, problem", [
    ({}, "--classroom50 ORG/CLASSROOM"),
    ({"classroom50": "my-org", "assignment": "01-cache-aside"}, "--classroom50 ORG/CLASSROOM"),
    ({"classroom50": "my-org/cq-fall", "assignment": "all"}, "one assignment"),
])
def test_a_classroom50_roster_without_its_classroom_says_what_to_add(options, problem):
    with pytest.raises(RosterError, match=problem):
        read(FIXTURES / "classroom50-roster.csv", **options)


def test_a_grades_csv_with_a_foreign_url_says_where(tmp_path):
    path = tmp_path / "grades.csv"
    lines = (FIXTURES / "github-classroom-grades.csv").read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1].replace("https://github.com/my-org/", "ftp://x/")]) + "\n")
    with pytest.raises(RosterError, match=r"grades.csv:2: 'student_repository_url'"):
        read(path)


def test_the_committed_roster_names_nobody_and_says_what_to_write():
    """A made-up student in the committed roster would reach every gradebook and CSV."""
    with pytest.raises(RosterError, match="add one row per student.*roster.example.csv"):
        read(ROOT / "classroom" / "roster.csv")


# -- Classroom 50's web app writes rows that have no GitHub account yet ---------------

WEB = FIXTURES / "classroom50-web-roster.csv"


def test_rows_without_a_github_account_are_planned_with_the_reason_and_the_others_as_usual():
    students = {s["student"]: s for s in read(WEB, **CLASSROOM50, unaccepted=True)}
    assert students["ada-l"] == {"student": "ada-l", "repository": "my-org/cq-fall-01-cache-aside-ada-l"}
    assert students["alan-t"]["repository"] == "my-org/cq-fall-01-cache-aside-alan-t"  # role '' is a student
    reasons = {name: s.get("problem", "") for name, s in students.items() if not s["repository"]}
    assert set(reasons) == {"pending_example.edu", "Grace_Hopper", "Octo_Fez", "Mallory_Tables"}
    assert all(why.startswith("no GitHub") for why in reasons.values()), reasons
    assert "invitation to pending@example.edu is still pending" in reasons["pending_example.edu"]
    assert "unlinked" in reasons["Grace_Hopper"] and "github_id 4242" in reasons["Octo_Fez"]


def test_staff_rows_are_kept_with_their_role_since_staff_may_be_enrolled_as_students_too():
    students = {s["student"]: s for s in read(WEB, **CLASSROOM50, unaccepted=True)}
    assert students["prof-x"]["role"] == "teacher" and students["ta-tom"]["role"] == "ta"
    assert students["prof-x"]["repository"] == "my-org/cq-fall-01-cache-aside-prof-x"
    assert not any("staff-invite" in name for name in students)  # staff invited by email: no account yet


def test_the_matrix_leaves_out_rows_without_a_repository_and_says_why(capsys):
    assert [s["student"] for s in read(WEB, **CLASSROOM50)] == ["ada-l", "alan-t"]
    said = capsys.readouterr().err
    assert said.count("left out") == 4 and "invitation to pending@example.edu is still pending" in said


def test_a_malformed_username_costs_only_its_own_row(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("username,first_name,last_name,email,section,github_id,role\nada-l,,,,,,\nbad name!,,,,,,\n")
    students = read(path, **CLASSROOM50, unaccepted=True)
    assert students[0]["repository"] and not students[1]["repository"]
    assert "must be a GitHub login" in students[1]["problem"]
