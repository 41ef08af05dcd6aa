"""The class roster: who the students are and where their repositories live.

One CSV file with a header row, in any of three shapes, all read into the same list of
`{"student": name in the gradebook, "repository": "owner/name"}`:

- **plain**: `student,repository` (`identifier` or `github_username` may name the
  student instead; the repository's name is the last resort);
- **GitHub Classroom's grades CSV**, as `gh classroom assignment-grades` wrote it
  (github/gh-classroom, cmd/gh-classroom/assignment-grades/assignment_grades.go:
  `assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,
  student_repository_name,student_repository_url,submission_timestamp,points_awarded,
  points_available[,group_name]`), which classroom-export-utility saved for every
  assignment before the retirement: the student is `roster_identifier`, else
  `github_username`; the repository comes from `student_repository_url`;
- **Classroom 50's roster.csv** (`username,first_name,last_name,email,section`, then
  `github_id,role` in the config repository; foundation50/classroom50, wiki/gh-teacher.md):
  it names no repository, so the organisation, classroom and assignment slug are needed
  to name it as Classroom 50 does (see `classroom50_repository`). Staff rows (role
  teacher, hta or ta) are left out: they hold no student repository.

Run as `python -m grader.classwork.roster FILE [--classroom50 ORG/CLASSROOM --assignment SLUG]`
(standard library only, so a workflow can call it before installing anything) to
print the roster as a JSON list for a GitHub Actions matrix.

The committed classroom/roster.csv is the header alone, so that no made-up student
reaches a gradebook; classroom/roster.example.csv shows a row.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_REPOSITORY = re.compile(r"[\w.-]+/[\w.-]+")
_GITHUB_URL = re.compile(r"https?://[^/]+/(?P<repository>[\w.-]+/[\w.-]+?)(?:\.git)?/?")
STAFF_ROLES = {"teacher", "hta", "ta"}


class RosterError(ValueError):
    pass


def classroom50_repository(org: str, classroom: str, slug: str, username: str) -> str:
    """`org/<classroom>-<slug>-<username>`, lowercased, as Classroom 50 names a student's repository
    (cli/shared/contract/contract.go, AssignmentRepoName; wiki/gh-student.md, `accept`)."""
    return f"{org}/{classroom}-{slug}-{username}".lower()


def kind(header: list[str]) -> str:
    """'classroom50', 'github-classroom' or 'plain', from a roster's (lowercased) header."""
    if "student_repository_url" in header:
        return "github-classroom"
    if "username" in header and "repository" not in header:
        return "classroom50"
    return "plain"


def _plain(row: dict, where: str, **_) -> tuple[str, str] | None:
    repository = row.get("repository", "")
    if not _REPOSITORY.fullmatch(repository):
        raise RosterError(f"{where}: 'repository' must be owner/name, not {repository!r}")
    name = row.get("student") or row.get("identifier") or row.get("github_username") or repository.split("/")[1]
    return name, repository


def _github_classroom(row: dict, where: str, **_) -> tuple[str, str] | None:
    url = row.get("student_repository_url", "")
    name = row.get("roster_identifier") or row.get("github_username") or ""
    if not url:
        return name, ""  # the assignment was never accepted
    match = _GITHUB_URL.fullmatch(url)
    if not match:
        raise RosterError(f"{where}: 'student_repository_url' must be https://github.com/owner/name, not {url!r}")
    return name, match["repository"]


def _classroom50(row: dict, where: str, classroom50: str | None = None, assignment: str | None = None):
    if row.get("role", "").lower() in STAFF_ROLES:
        return None
    if not classroom50 or classroom50.count("/") != 1 or not assignment or assignment == "all":
        raise RosterError(f"{where}: a Classroom 50 roster names no repositories: give the classroom as "
                          "--classroom50 ORG/CLASSROOM and one assignment's slug as --assignment")
    username = row.get("username", "")
    if not re.fullmatch(r"[A-Za-z0-9-]+", username):
        raise RosterError(f"{where}: 'username' must be a GitHub login, not {username!r}")
    org, classroom = classroom50.split("/")
    return username, classroom50_repository(org, classroom, assignment, username)


_READERS = {"plain": _plain, "github-classroom": _github_classroom, "classroom50": _classroom50}


def read(path: Path, classroom50: str | None = None, assignment: str | None = None,
         unaccepted: bool = False) -> list[dict[str, str]]:
    """The students; one who never accepted the assignment (no repository) only with `unaccepted`,
    with the repository '' (the class's grading gives them a row with the reason)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = [h.strip().lower() for h in reader.fieldnames or []]
    reader_of_row = _READERS[kind(header)]
    students, seen = [], set()
    for number, row in enumerate(rows, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        found = reader_of_row(row, f"{path}:{number}", classroom50=classroom50, assignment=assignment)
        if found is None:
            continue
        name, repository = found
        if not repository and not unaccepted:
            print(f"roster: {path}:{number}: {name or 'a student'} has no repository "
                  "(the assignment was never accepted): left out", file=sys.stderr)
            continue
        name = _UNSAFE.sub("_", name).strip("._") or f"student{number}"
        if name in seen:
            raise RosterError(f"{path}:{number}: the student {name!r} appears twice")
        seen.add(name)
        students.append({"student": name, "repository": repository})
    if not students:
        raise RosterError(f"{path}: the roster lists nobody: add one row per student under its header "
                          "(classroom/roster.example.csv shows one)")
    return students


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.classwork.roster", description="Print a roster as JSON.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--classroom50", metavar="ORG/CLASSROOM", help="for a Classroom 50 roster.csv")
    parser.add_argument("--assignment", metavar="SLUG", help="for a Classroom 50 roster.csv")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(read(args.file, args.classroom50 or None, args.assignment or None)))
    except (OSError, RosterError) as exc:
        print(f"roster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
