"""Fetch one batch of the plan: each student's repository, at its last submission before the deadline.

This is the only step that holds the token that reads student repositories, and it
runs no student code: it clones bare (no checkout, so no filter, hook or submodule
of the student's runs), picks the commit with grader.classwork.deadline, and exports the
assignment folders' regular files at that commit (no symbolic links). What it
writes is all a grading job ever sees of a student:

    OUT/submissions/<student>/assignments/<id>/...   the files graded
    OUT/manifest.json   per student: repository, commit, its date, the deadline, or the problem

A student without a repository or without a submission before the deadline gets a
manifest entry with the problem and no folder: nothing is graded, and the class CSV
says why.

Commit dates come from the student's clock. With `--push-times`, the manifest also
records when GitHub saw the graded commit arrive: the first push (repository
activity API) after which a branch contained it. The grade is not changed; the class
summary lists every commit dated before the deadline but pushed after it.

Run as `python -m grader.classwork.fetch --plan plan.json --batch 001 --out DIR` (standard
library only). `--source` says where repositories live: `https://github.com/{repository}.git`
by default; a local path such as `/srv/repos/{repository}` works the same (the
self-tests use one). A token in STUDENT_REPOS_TOKEN goes to git as an HTTP header
through git's environment, never on a command line or into a file.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from grader.classwork import classplan, deadline

GITHUB = "https://github.com/{repository}.git"
TOKEN_ENV = "STUDENT_REPOS_TOKEN"
MAX_BYTES = 20 * 1024 * 1024  # a submission's files, all together: far above any honest one
ACTIVITY = "https://api.github.com/repos/{repository}/activity?per_page=100"
PUSHES = {"push", "force_push", "branch_creation", "merge_queue_merge", "pr_merge"}


def _git_env() -> dict[str, str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    token = os.environ.get(TOKEN_ENV, "")
    env.pop(TOKEN_ENV, None)
    if token:  # as actions/checkout does it: an extra header, scoped to github.com
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.https://github.com/.extraheader",
                   GIT_CONFIG_VALUE_0=f"AUTHORIZATION: basic {basic}")
    return env


def _git(repo: Path, *args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], stdout=stdout, stderr=subprocess.PIPE,
                          env=_git_env(), timeout=300, check=True)


def _last_line(error: subprocess.CalledProcessError) -> str:
    text = (error.stderr or b"").decode(errors="replace").strip().splitlines()
    return text[-1] if text else f"git exited with status {error.returncode}"


def export(repo: Path, commit: str, assignments: list[str], dest: Path) -> int:
    """Write the regular files of the assignments' folders at `commit` under `dest`; returns their count."""
    paths = [p for a in assignments for p in (f"assignments/{a}", a)]
    present = _git(repo, "ls-tree", "--name-only", commit, "--", *paths).stdout.decode().split()
    if not present:
        return 0
    archive = _git(repo, "archive", "--format=tar", commit, "--", *present).stdout
    count = total = 0
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue  # links and devices never leave the repository
            total += member.size
            if total > MAX_BYTES:
                raise ValueError(f"the submission's files exceed {MAX_BYTES // 2**20} MiB")
            tar.extract(member, dest, filter="data")
            count += 1
    return count


def first_push(activities: list[dict], commit: str, contains) -> str:
    """When the first push (oldest first) whose new head `contains(head, commit)` happened; '' if none did."""
    pushes = sorted((a for a in activities if a.get("activity_type") in PUSHES and a.get("after")),
                    key=lambda a: a["timestamp"])
    return next((a["timestamp"] for a in pushes if contains(a["after"], commit)), "")


def activities(repository: str, pages: int = 10) -> list[dict]:
    """The repository's push history as GitHub recorded it (newest first, at most `pages` pages)."""
    found, url = [], ACTIVITY.format(repository=repository)
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if os.environ.get(TOKEN_ENV):
        headers["Authorization"] = f"Bearer {os.environ[TOKEN_ENV]}"
    for _ in range(pages):
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            found += json.load(response)
            links = response.headers.get("Link", "")
        following = [part.split(";")[0].strip(" <>") for part in links.split(",") if 'rel="next"' in part]
        if not following:
            break
        url = following[0]
    return found


def _pushed_at(repo: Path, repository: str, commit: str) -> tuple[str, str]:
    def contains(head: str, wanted: str) -> bool:
        try:
            _git(repo, "merge-base", "--is-ancestor", wanted, head)
            return True
        except subprocess.CalledProcessError:
            return False  # not an ancestor, or a head a force push has since removed
    try:
        return first_push(activities(repository), commit, contains), ""
    except (OSError, ValueError, urllib.error.URLError) as exc:
        return "", f"push time unavailable: {exc}"


def fetch_one(entry: dict, plan: dict, source: str, out: Path, push_times: bool = False) -> dict:
    """Fetch one student; returns the manifest entry (with `problem` when there is nothing to grade)."""
    record = {**entry, "commit": "", "committed_at": "", "deadline": plan["deadline"],
              "submissions": plan["submissions"], "problem": ""}
    if not entry.get("repository"):
        return {**record, "problem": entry.get("problem")
                or "no repository: the roster names none (the assignment was never accepted)"}
    with tempfile.TemporaryDirectory(prefix="fetch-") as scratch:
        repo = Path(scratch) / "repo.git"
        try:
            _git(Path(scratch), "clone", "--bare", "--quiet", source.format(repository=entry["repository"]), str(repo))
        except subprocess.CalledProcessError as exc:
            return {**record, "problem": f"no repository: {entry['repository']} could not be cloned (missing, "
                                         f"renamed, or the token cannot read it): {_last_line(exc)}"}
        try:
            commit = deadline.graded_commit(repo, deadline.parse_deadline(plan["deadline"]), plan["submissions"])
        except subprocess.CalledProcessError:
            commit = None  # an empty repository has no HEAD
        if commit is None:
            what = "submit/* tag" if plan["submissions"] == "last-submit-tag" else "commit"
            return {**record, "problem": f"no {what} before the deadline {plan['deadline']}"}
        stamp = _git(repo, "show", "-s", "--format=%ct", commit).stdout.decode().strip()
        record.update(commit=commit, committed_at=datetime.fromtimestamp(int(stamp), timezone.utc).isoformat()
                      .replace("+00:00", "Z"))
        if push_times:
            record["pushed_at"], record["note"] = _pushed_at(repo, entry["repository"], commit)
        target = out / "submissions" / entry["student"]
        try:
            files = export(repo, commit, plan["assignments"], target)
        except (ValueError, tarfile.TarError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            return {**record, "problem": f"the submission could not be exported: {exc}"}
        if not files:
            target.mkdir(parents=True, exist_ok=True)  # graded all the same: every test says what is missing
    return record


def fetch_batch(plan: dict, batch: str, source: str, out: Path, jobs: int = 4, push_times: bool = False) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    students = classplan.batch_of(plan, batch)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        entries = list(pool.map(lambda entry: fetch_one(entry, plan, source, out, push_times), students))
    manifest = {"batch": batch, "deadline": plan["deadline"], "students": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None, prog: str = "python -m grader.classwork.fetch") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    p.add_argument("--plan", type=Path, required=True)
    p.add_argument("--batch", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--source", default=GITHUB, help="where a repository is, with {repository} for owner/name")
    p.add_argument("--jobs", type=int, default=4, help="repositories fetched at once")
    p.add_argument("--push-times", action="store_true", help="record when GitHub saw each graded commit pushed")
    args = p.parse_args(argv)
    try:
        manifest = fetch_batch(classplan.load(args.plan), args.batch, args.source, args.out, args.jobs,
                               args.push_times)
    except (OSError, ValueError, KeyError) as exc:
        print(f"fetch: {exc}", file=sys.stderr)
        return 1
    for entry in manifest["students"]:
        print(f"{entry['student']:<24} {entry['commit'][:12] or '-':<12} {entry['problem']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
