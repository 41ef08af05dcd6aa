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
- **Classroom 50's roster.csv** (`username,first_name,last_name,email,section,github_id,role`,
  and a `status` column from its web app; foundation50/classroom50, wiki/Web-Teacher-Guide.md
  "Roster CSV fields", cli/shared/testdata/roster_row_cases.json): it names no repository,
  so the organisation, classroom and assignment slug are needed to name it as Classroom 50
  does (see `classroom50_repository`). Its web app writes rows that have no GitHub account
  yet: a pending invitation (an email, no username), a row marked `unlinked` in `status`
  (a name only), a `github_id` without a username. Such a row has no repository to grade:
  it gets the reason instead (`problem`), and the others are graded. The `role` column is
  only a snapshot of a member's highest role (wiki/Staff-TAs-and-Multiple-Teachers.md,
  "Staff who are also students"): a teacher or TA may be enrolled as a student too, so a
  staff row with a username is kept, marked with its `role`, and the class's grading leaves
  it out only when it turns out to hold no student repository.

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


def _plain(row: dict, where: str, **_) -> dict | None:
    repository = row.get("repository", "")
    if not _REPOSITORY.fullmatch(repository):
        raise RosterError(f"{where}: 'repository' must be owner/name, not {repository!r}")
    name = row.get("student") or row.get("identifier") or row.get("github_username") or repository.split("/")[1]
    return {"student": name, "repository": repository}


def _github_classroom(row: dict, where: str, **_) -> dict | None:
    url = row.get("student_repository_url", "")
    name = row.get("roster_identifier") or row.get("github_username") or ""
    if not url:
        return {"student": name, "repository": ""}  # the assignment was never accepted
    match = _GITHUB_URL.fullmatch(url)
    if not match:
        raise RosterError(f"{where}: 'student_repository_url' must be https://github.com/owner/name, not {url!r}")
    return {"student": name, "repository": match["repository"]}


def _undefanged(cell: str) -> str:
    """A cell as typed: Classroom 50 writes `'=x` for a cell starting with a spreadsheet formula trigger."""
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r" else cell


def _unlinked(row: dict) -> tuple[str, str]:
    """A name for a row without a GitHub account (its person's name, else the address), and why it has no grade."""
    first, last, email = (_undefanged(row.get(k, "")) for k in ("first_name", "last_name", "email"))
    name = " ".join(part for part in (first, last) if part) or email
    if row.get("github_id"):
        why = (f"no GitHub username on the roster yet (github_id {row['github_id']} only): open the classroom's "
               "roster in Classroom 50 to refresh it")
    elif row.get("status", "").lower() == "unlinked":
        why = "no GitHub account linked yet (unlinked on the Classroom 50 roster): link or re-invite them there"
    elif email:
        why = f"no GitHub account linked yet: the invitation to {email} is still pending"
    else:
        why = "no GitHub account linked yet: the roster row names nobody on GitHub"
    return name, why


def _classroom50(row: dict, where: str, classroom50: str | None = None, assignment: str | None = None):
    if not classroom50 or classroom50.count("/") != 1 or not assignment or assignment == "all":
        raise RosterError(f"{where}: a Classroom 50 roster names no repositories: give the classroom as "
                          "--classroom50 ORG/CLASSROOM and one assignment's slug as --assignment")
    username, role = row.get("username", ""), row.get("role", "").lower()
    login = re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", username)
    if role in STAFF_ROLES and not login:
        return None  # staff invited by email: no account of theirs can hold a student repository yet
    if not username:
        name, why = _unlinked(row)
        return {"student": name, "repository": "", "problem": why}
    if not login:
        return {"student": username, "repository": "",
                "problem": f"{where}: 'username' must be a GitHub login, not {username!r}: fix the row in Classroom 50"}
    org, classroom = classroom50.split("/")
    found = {"student": username, "repository": classroom50_repository(org, classroom, assignment, username)}
    return {**found, "role": role} if role in STAFF_ROLES else found


_READERS = {"plain": _plain, "github-classroom": _github_classroom, "classroom50": _classroom50}


def read(path: Path, classroom50: str | None = None, assignment: str | None = None,
         unaccepted: bool = False) -> list[dict[str, str]]:
    """The students, each `{"student", "repository"}`. With `unaccepted`, every row the class's grading
    must account for: one without a repository has the repository '' (and, when the roster says why,
    a `problem`), so that it gets a row with the reason; a Classroom 50 staff row has its `role`.
    Without it, those rows are left out, each with a line on stderr."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = [h.strip().lower() for h in reader.fieldnames or []]
    reader_of_row = _READERS[kind(header)]
    students, seen = [], set()
    for number, row in enumerate(rows, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        found = reader_of_row(row, f"{path}:{number}", classroom50=classroom50, assignment=assignment)
        if found is None or (not unaccepted and found.get("role")):
            continue
        if not found["repository"] and not unaccepted:
            why = found.get("problem") or "the assignment was never accepted"
            print(f"roster: {path}:{number}: {found['student'] or 'a student'} has no repository ({why}): left out",
                  file=sys.stderr)
            continue
        name = _UNSAFE.sub("_", found["student"]).strip("._") or f"student{number}"
        if name in seen and found.get("problem"):
            name = f"{name}-{number}"  # a row without an account: named after its line, never refused
        if name in seen:
            raise RosterError(f"{path}:{number}: the student {name!r} appears twice")
        seen.add(name)
        students.append({**found, "student": name})
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
