"""Which commit of a student's repository is graded: the last submission before the deadline.

- `last-commit`: the last commit on the checked-out branch committed before the deadline
  (plain GitHub, repositories made by GitHub Classroom, Classroom 50 in every-push mode).
- `last-submit-tag`: the last `submit/*` tag before the deadline (Classroom 50 in tag mode,
  where only a pushed `submit/*` tag is a submission: wiki/Autograders.md, "Which commits
  grade"). Its time is the later of the time in the tag's name, when it has Classroom 50's
  `submit/<YYYY-MM-DDTHH-MM-SSZ>-<short-sha>` shape (cli/shared/contract/contract.go,
  BuildSubmitTag), and the tagged commit's committer date: a tag pushed late onto an old
  commit, or a hand-named tag on a late commit, both count as late.

Both times come from the student's side (a clock, a tag name), as commit dates always
have; the instructors' guide (docs/instructors.md, "Commit dates can be forged") says what
to compare them with when it matters.

Run as `python -m grader.classwork.deadline REPO --deadline ISO-8601 [--mode MODE]` (standard
library only): prints the graded commit's hash, or nothing when there is none.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

MODES = ("last-commit", "last-submit-tag")
_TAG_TIME = re.compile(r"submit/(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z(?:-.*)?")


def parse_deadline(text: str) -> datetime:
    """An ISO 8601 instant with a time zone ('2026-12-01T23:59:00Z' or '...+02:00')."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"the deadline {text!r} is not ISO 8601, e.g. 2026-12-01T23:59:00Z") from None
    if when.tzinfo is None:
        raise ValueError(f"the deadline {text!r} has no time zone: add Z (UTC) or an offset such as +01:00")
    return when


def tag_time(tag: str) -> datetime | None:
    """The UTC instant written in a Classroom 50 submit tag's name, or None for any other name."""
    match = _TAG_TIME.fullmatch(tag)
    if not match:
        return None
    day, hours, minutes, seconds = match.groups()
    return datetime.fromisoformat(f"{day}T{hours}:{minutes}:{seconds}+00:00")


def submitted_at(tag: str, committed: datetime) -> datetime:
    named = tag_time(tag)
    return committed if named is None else max(named, committed)


def last_tag_before(tags: list[tuple[str, str, datetime]], deadline: datetime) -> str | None:
    """The commit of the last (tag, commit, committer date) submitted by the deadline; None if none was."""
    on_time = [(submitted_at(tag, committed), tag, commit) for tag, commit, committed in tags
               if submitted_at(tag, committed) <= deadline]
    return max(on_time)[2] if on_time else None


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def submit_tags(repo: Path) -> list[tuple[str, str, datetime]]:
    """Every `submit/*` tag of `repo`: (name, commit it points at, that commit's committer date)."""
    out = _git(repo, "for-each-ref", "--format=%(refname:strip=2)%09%(objectname)%09%(*objectname)",
               "refs/tags/submit/")
    tags = []
    for line in out.splitlines():
        name, target, peeled = line.split("\t")
        commit = peeled or target  # an annotated tag points at a tag object
        stamp = _git(repo, "show", "-s", "--format=%ct", commit).strip()
        tags.append((name, commit, datetime.fromtimestamp(int(stamp), timezone.utc)))
    return tags


def graded_commit(repo: Path, deadline: datetime, mode: str = "last-commit") -> str | None:
    if mode == "last-submit-tag":
        return last_tag_before(submit_tags(repo), deadline)
    if mode != "last-commit":
        raise ValueError(f"unknown mode {mode!r}: {' or '.join(MODES)}")
    return _git(repo, "rev-list", "-1", f"--before={deadline.isoformat()}", "HEAD").strip() or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.classwork.deadline", description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--deadline", required=True)
    parser.add_argument("--mode", default="last-commit", choices=MODES)
    args = parser.parse_args(argv)
    try:
        commit = graded_commit(args.repo, parse_deadline(args.deadline), args.mode)
    except (ValueError, subprocess.CalledProcessError) as exc:
        print(f"deadline: {getattr(exc, 'stderr', '') or exc}", file=sys.stderr)
        return 1
    print(commit or "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
