"""The class roster: who the students are and where their repositories live.

A CSV file with a header row. `repository` (owner/name on GitHub) is required;
`student` names the student in the gradebook (GitHub Classroom's roster export
calls it `identifier`; `github_username` is used when neither is given).
The committed classroom/roster.csv is the header alone, so that no made-up student
reaches a gradebook; classroom/roster.example.csv shows a row.

Run as `python -m grader.roster FILE` (standard library only, so a workflow can
call it before installing anything) to print the roster as a JSON list for a
GitHub Actions matrix.
"""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RosterError(ValueError):
    pass


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    students, seen = [], set()
    for number, row in enumerate(rows, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        repository = row.get("repository", "")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise RosterError(f"{path}:{number}: 'repository' must be owner/name, not {repository!r}")
        name = row.get("student") or row.get("identifier") or row.get("github_username") or repository.split("/")[1]
        name = _UNSAFE.sub("_", name).strip("._") or f"student{number}"
        if name in seen:
            raise RosterError(f"{path}:{number}: the student {name!r} appears twice")
        seen.add(name)
        students.append({"student": name, "repository": repository})
    if not students:
        raise RosterError(f"{path}: the roster lists nobody: add one row per student under its header "
                          "(classroom/roster.example.csv shows one)")
    return students


if __name__ == "__main__":
    try:
        print(json.dumps(read(Path(sys.argv[1]))))
    except (OSError, RosterError, IndexError) as exc:
        sys.exit(f"roster: {exc}")
