"""Grading a whole class locally: every student gets the right total, whatever the others did."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import psutil
from conftest import ASSIGNMENTS, assignment, graded, shares


@shares(ASSIGNMENTS[0], "reference")
def test_a_class_of_reference_skeleton_broken_and_hanging(tmp_path):
    id = ASSIGNMENTS[0]
    a = assignment(id)
    submissions = tmp_path / "submissions"
    reference = (a.solution_dir / a.module).read_text()
    modules = {
        "ada": reference,
        "bob": (a.skeleton_dir / a.module).read_text(),
        "cy": reference + "\ndef broken(:\n",
        # Students are graded in name order, two at a time: "abe", who hangs, comes first, so
        # that his limit runs out while the others are graded (ada, beside him, has it to herself).
        "abe": "import time\n" + reference.replace(
            "    ### BEGIN SOLUTION\n", "    ### BEGIN SOLUTION\n    while True:\n        try:\n"
            "            time.sleep(60)\n        except BaseException:\n            pass\n", 1),
    }
    for student, text in modules.items():
        (submissions / student / id).mkdir(parents=True)
        (submissions / student / id / a.module).write_text(text)
    (submissions / "eve").mkdir()  # submitted nothing at all
    out = tmp_path / "out"
    scratch = tmp_path / "tmp"  # every sandbox of this run lives below it
    scratch.mkdir()
    done = subprocess.run([sys.executable, "-m", "grader", "grade-class", id, "--submissions", str(submissions),
                           "--out", str(out), "--jobs", "2", "--timeout", "30"],
                          capture_output=True, text=True, timeout=900, env=dict(os.environ, TMPDIR=str(scratch)))
    assert done.returncode == 0, done.stderr
    left = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"]) if str(scratch) in " ".join(
        p.info["cmdline"] or [])]
    assert left == [], "the hanging student's test processes outlived the class grading"
    assert list(scratch.iterdir()) == []
    with open(out / "hidden-tests.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    full = graded(id, "reference").max_score
    assert float(rows["ada"][id]) == full
    assert [float(rows[s][id]) for s in ("abe", "bob", "cy", "eve")] == [0, 0, 0, 0]
    assert {float(row["max_score"]) for row in rows.values()} == {full}
    assert "did not finish within 30 s" in rows["abe"]["problem"]
    hanging = json.loads((out / "abe.json").read_text())
    assert hanging["max_score"] == full and all(t["score"] == 0 for t in hanging["tests"])
    assert "could not be imported" in json.loads((out / "cy.json").read_text())["output"]
    assert (out / "ada.log").read_text().count("passed") > 10  # the table each student can be given


def test_a_class_is_not_graded_at_all_where_no_wall_can_be_built(tmp_path):
    """No bubblewrap: grade-class refuses before grading anyone, rather than giving every student 0."""
    (tmp_path / "submissions" / "ada").mkdir(parents=True)
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "memcached").symlink_to(shutil.which("memcached"))
    done = subprocess.run([sys.executable, "-m", "grader", "grade-class", ASSIGNMENTS[0], "--submissions",
                           str(tmp_path / "submissions"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env={**os.environ, "PATH": str(bare)}, timeout=120)
    assert done.returncode == 4 and "bwrap is not installed" in done.stderr
    assert not (tmp_path / "out").exists()
