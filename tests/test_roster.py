"""The roster: a CSV of students and their repositories, turned into a job matrix."""
import json
import subprocess
import sys

import pytest

from grader.course import ROOT
from grader.roster import RosterError, read


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
    done = subprocess.run([sys.executable, "-S", "-m", "grader.roster",
                           str(ROOT / "classroom" / "roster.example.csv")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["repository"].count("/") == 1


def test_the_committed_roster_names_nobody_and_says_what_to_write():
    """A made-up student in the committed roster would reach every gradebook and CSV."""
    with pytest.raises(RosterError, match="add one row per student.*roster.example.csv"):
        read(ROOT / "classroom" / "roster.csv")
