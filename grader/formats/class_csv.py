"""A class's grades: one Gradescope-shaped results file per student, totalled into one CSV.

The results files are the same whether they come from local class grading or from
the artifacts of the GitHub grading workflow; the file's name (without .json) is
the student's identifier.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.formats import number
from grader.formats.markdown import cell


@dataclass
class Student:
    name: str
    scores: dict[str, float] = field(default_factory=dict)  # assignment -> points earned
    maxima: dict[str, float] = field(default_factory=dict)  # assignment -> points possible
    problem: str = ""  # why there is no grade, when there is none
    unsealed: bool = False  # graded without the wall around student code (--unsealed): not to be trusted
    details: dict[str, str] = field(default_factory=dict)  # e.g. the graded commit, its date, the deadline
    tests: list[dict] = field(default_factory=list)  # the results file's tests, as written (for `grader report`)

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def read(path: Path) -> Student:
    student = Student(path.stem)
    try:
        document = json.loads(path.read_text())
        for test in document["tests"]:
            assignment = test["name"].split("::", 1)[0]
            student.scores[assignment] = student.scores.get(assignment, 0) + float(test["score"])
            student.maxima[assignment] = student.maxima.get(assignment, 0) + float(test["max_score"])
        student.tests = list(document["tests"])
        student.problem = (document.get("extra_data") or {}).get("problem", "")
        student.unsealed = bool((document.get("extra_data") or {}).get("unsealed"))
        if not document["tests"]:
            student.problem = document.get("output", "no tests were graded")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        student.problem = f"unreadable results file: {exc}"
    return student


def collect(folder: Path) -> list[Student]:
    return [read(path) for path in sorted(folder.glob("*.json"))]


def assignments_of(students: list[Student]) -> list[str]:
    return sorted({a for s in students for a in s.maxima})


def class_maxima(students: list[Student]) -> dict[str, float]:
    return {a: max(s.maxima.get(a, 0) for s in students) for a in assignments_of(students)}


def write_csv(students: list[Student], path: Path) -> None:
    assignments = assignments_of(students)
    maxima = class_maxima(students)
    details = list(dict.fromkeys(key for s in students for key in s.details))
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["student", *assignments, "total", "max_score", *details, "problem", "wall"])
        for s in students:
            out.writerow([s.name, *[number(s.scores.get(a, 0)) for a in assignments], number(s.total),
                          number(sum(maxima.values())), *[s.details.get(key, "") for key in details], s.problem,
                          "unsealed" if s.unsealed else "sealed"])


def markdown(students: list[Student]) -> str:
    assignments = assignments_of(students)
    maxima = class_maxima(students)  # also for a student without a grade
    lines = ["| Student | " + " | ".join(assignments) + " | Total |",
             "|---|" + "---:|" * (len(assignments) + 1)]
    for s in students:
        cells = [f"{number(s.scores.get(a, 0))} / {number(s.maxima.get(a) or maxima[a])}" for a in assignments]
        total = f"**{number(s.total)}**" + (f" ({cell(s.problem, 120)})" if s.problem else "") \
            + (" (unsealed)" if s.unsealed else "")
        lines.append(f"| {cell(s.name)} | " + " | ".join(cells) + f" | {total} |")
    return "\n".join(lines) + "\n"
