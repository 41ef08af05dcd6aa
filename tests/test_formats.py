"""The result formats: GitHub Classroom's runner result, Markdown summaries, the class CSV."""
from __future__ import annotations

import csv
import json

from grader.formats import class_csv, classroom, gradescope, markdown
from grader.scoring import FAILED, PASSED, AssignmentResult, Outcome, TestResult, TestSpec


def result():
    a = TestSpec("t.py::test_a", "test_a", "A works.", 3, 10)
    b = TestSpec("t.py::test_b", "test_b", "B works.", 2, 10)
    return AssignmentResult("01-x", [TestResult(a, Outcome(PASSED)),
                                     TestResult(b, Outcome(FAILED, "assert 1 == 2 | really\nsecond line"))],
                            notes=["a note"])


def test_runner_result_is_what_the_reporter_adds_up():
    runner = classroom.runner_result([result()])
    assert runner["version"] == 1 and runner["status"] == "fail" and runner["max_score"] == 5
    assert [(t["name"], t["status"], t["score"]) for t in runner["tests"]] == [
        ("01-x::test_a", "pass", 3), ("01-x::test_b", "fail", 0)]
    assert "assert 1 == 2" in runner["tests"][1]["message"]


def test_markdown_summary_keeps_each_test_on_one_row():
    text = markdown.summary([result()], title="ada")
    assert text.startswith("## ada")
    assert "### 01-x: 3 / 5 points" in text
    rows = [line for line in text.splitlines() if line.startswith("| `test_")]
    assert len(rows) == 2 and rows[1].count(" | ") == 2 and "\\|" in rows[1] and "<br>" in rows[1]


def test_class_csv_totals_results_files(tmp_path):
    (tmp_path / "ada.json").write_text(json.dumps(gradescope.results_json([result()], 1.0)))
    (tmp_path / "bob.json").write_text("{ not json")
    students = class_csv.collect(tmp_path)
    class_csv.write_csv(students, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[0] == {"student": "ada", "01-x": "3", "total": "3", "max_score": "5", "problem": "",
                       "wall": "sealed"}
    assert rows[1]["student"] == "bob" and rows[1]["total"] == "0" and "unreadable" in rows[1]["problem"]
    assert "| ada | 3 / 5 | **3** |" in class_csv.markdown(students)
