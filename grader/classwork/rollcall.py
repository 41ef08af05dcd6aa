"""A class's grades against its plan: every rostered student gets a row, graded or not.

The collecting job downloads each artifact into a folder of its own:
`manifest-<batch>/manifest.json` from the fetch (which ran no student code) and
`results-<batch>/` from a grading job (where student code ran). From a batch's results
it accepts only `<student>.json` of that batch's own students, so a file a submission
dropped in a classmate's name, or into another batch's folder, is never read. The
commit, its date and the deadline come from the fetch's manifest, never from the
grading job. A Classroom 50 staff row (kept by the roster because staff may be enrolled
as students too) whose fetch found no repository is left out of the rows and named in the
summary: that member is staff only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from grader.classwork.roster import STAFF_ROLES
from grader.formats import class_csv
from grader.formats.markdown import cell

DETAILS = ("repository", "commit", "committed_at", "pushed_at", "deadline")


@dataclass
class Rollcall:
    students: list[class_csv.Student]
    ignored: list[str]  # files in results folders that no student of that batch owns
    staff: list[str] = field(default_factory=list)  # staff rows of the roster that hold no student repository


def _staff_only(entry: dict, fetched: dict | None) -> bool:
    """A teacher or TA of a Classroom 50 roster who turned out not to be enrolled as a student too."""
    return entry.get("role") in STAFF_ROLES and bool(fetched) and fetched["problem"].startswith("no repository")


def _manifest(folder: Path, batch: str) -> dict[str, dict]:
    try:
        document = json.loads((folder / f"manifest-{batch}" / "manifest.json").read_text())
        return {entry["student"]: entry for entry in document["students"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _row(entry: dict, fetched: dict | None, results: Path, batch: str) -> class_csv.Student:
    name = entry["student"]
    if fetched is None:
        found = class_csv.Student(name, problem=f"not fetched: the fetch job of batch {batch} failed or was "
                                                 "cancelled (see the run's log)")
    elif fetched.get("problem"):
        found = class_csv.Student(name, problem=fetched["problem"])
    elif (results / f"{name}.json").is_file():
        found = class_csv.read(results / f"{name}.json")
        found.name = name
    else:
        found = class_csv.Student(name, problem=f"no results file: the grading job of batch {batch} crashed, "
                                                 "timed out or was cancelled (see the run's log)")
    found.details = {key: (fetched or entry).get(key, "") for key in DETAILS}
    return found


def collect(plan: dict, folder: Path) -> Rollcall:
    students, ignored, staff = [], [], []
    for batch in plan["batches"]:
        name = batch["batch"]
        fetched, results = _manifest(folder, name), folder / f"results-{name}"
        own = {entry["student"] for entry in batch["students"]}
        for entry in batch["students"]:
            mine = fetched.get(entry["student"]) if fetched else None
            if _staff_only(entry, mine):
                staff.append(f"{entry['student']} ({entry['role']})")
            else:
                students.append(_row(entry, mine, results, name))
        if results.is_dir():
            ignored += [str(p.relative_to(folder)) for p in sorted(results.rglob("*"))
                        if p.is_file() and not (p.parent == results and p.suffix == ".json" and p.stem in own)]
    return Rollcall(students, ignored, staff)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def pushed_late(student: class_csv.Student) -> bool:
    pushed, due = student.details.get("pushed_at"), student.details.get("deadline")
    return bool(pushed and due) and _instant(pushed) > _instant(due)


def summary(rollcall: Rollcall) -> str:
    """The class table, then every student without a grade and why, then what was ignored."""
    text = f"## Grades\n\n{class_csv.markdown(rollcall.students)}\n"
    missing = [s for s in rollcall.students if s.problem]
    if missing:
        text += f"### Not graded, or not fully ({len(missing)})\n\n"
        text += "".join(f"- {cell(s.name)}: {cell(s.problem, 200)}\n" for s in missing) + "\n"
    late = [s for s in rollcall.students if pushed_late(s)]
    if late:
        text += f"### Committed before the deadline, pushed after it ({len(late)}): graded all the same\n\n"
        text += "".join(f"- {cell(s.name)}: committed {s.details['committed_at']}, pushed "
                        f"{s.details['pushed_at']}\n" for s in late) + "\n"
    if rollcall.staff:
        text += (f"### Staff on the roster without a student repository ({len(rollcall.staff)}): left out\n\n"
                 + "".join(f"- {cell(s)}\n" for s in rollcall.staff) + "\n")
    if rollcall.ignored:
        text += f"### Ignored ({len(rollcall.ignored)}): files no student of that batch owns\n\n"
        text += "".join(f"- `{cell(p)}`\n" for p in rollcall.ignored[:50]) + "\n"
    return text
