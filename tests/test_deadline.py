"""Which commit is graded: the last commit, or the last submit/* tag, before the deadline, read from a
real git repository with the dates a student's clock would give it."""
from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone

import pytest

from grader.classwork import deadline

DEADLINE = deadline.parse_deadline("2026-12-01T23:59:00Z")


def _git(repo, *args, date=None):
    env = dict(os.environ, GIT_AUTHOR_NAME="s", GIT_AUTHOR_EMAIL="s@x", GIT_COMMITTER_NAME="s",
               GIT_COMMITTER_EMAIL="s@x")
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _commit(repo, date):
    (repo / "squares.py").write_text(f"# {date}\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", date, date=date)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def test_the_last_commit_before_the_deadline(repo):
    early = _commit(repo, "2026-11-30T10:00:00Z")
    _commit(repo, "2026-12-02T10:00:00Z")
    assert deadline.graded_commit(repo, DEADLINE) == early


def test_in_tag_mode_only_submit_tags_count(repo):
    submitted = _commit(repo, "2026-11-30T10:00:00Z")
    _git(repo, "tag", "submit/2026-11-30T10-01-00Z-" + submitted[:7], submitted)
    _commit(repo, "2026-12-01T12:00:00Z")  # committed in time, never submitted
    assert deadline.graded_commit(repo, DEADLINE, "last-submit-tag") == submitted
    assert deadline.graded_commit(repo, DEADLINE, "last-commit") != submitted


def test_a_submit_tag_named_after_the_deadline_is_late_even_on_an_early_commit(repo):
    first = _commit(repo, "2026-11-29T10:00:00Z")
    _git(repo, "tag", "submit/2026-11-29T10-01-00Z-" + first[:7], first)
    second = _commit(repo, "2026-11-30T10:00:00Z")
    _git(repo, "tag", "-a", "-m", "late", "submit/2026-12-02T08-00-00Z-" + second[:7], second)  # annotated
    assert deadline.graded_commit(repo, DEADLINE, "last-submit-tag") == first


def test_a_hand_named_submit_tag_counts_at_its_commits_date(repo):
    on_time = _commit(repo, "2026-11-30T10:00:00Z")
    _git(repo, "tag", "submit/final", on_time)
    late = _commit(repo, "2026-12-03T10:00:00Z")
    _git(repo, "tag", "submit/2026-11-01T00-00-00Z-backdated", late)  # an early name on a late commit
    assert deadline.graded_commit(repo, DEADLINE, "last-submit-tag") == on_time


def test_no_submission_before_the_deadline_grades_nothing(repo):
    late = _commit(repo, "2026-12-05T10:00:00Z")
    _git(repo, "tag", "submit/2026-12-05T10-00-00Z-" + late[:7], late)
    assert deadline.graded_commit(repo, DEADLINE, "last-submit-tag") is None
    assert deadline.graded_commit(repo, DEADLINE, "last-commit") is None


def test_the_command_prints_the_commit_for_the_workflow(repo, capsys):
    commit = _commit(repo, "2026-11-30T10:00:00Z")
    _git(repo, "tag", "submit/2026-11-30T10-00-00Z-" + commit[:7], commit)
    assert deadline.main([str(repo), "--deadline", "2026-12-02T00:00:00+01:00", "--mode", "last-submit-tag"]) == 0
    assert capsys.readouterr().out.strip() == commit


def test_tag_names_read_as_classroom50_writes_them():
    assert deadline.tag_time("submit/2026-06-01T14-32-05Z-a1b2c3d") == datetime(2026, 6, 1, 14, 32, 5,
                                                                                 tzinfo=timezone.utc)
    assert deadline.tag_time("submit/anything") is None


@pytest.mark.parametrize("text, problem", [("tomorrow", "ISO 8601"), ("2026-12-01T23:59:00", "time zone")])
def test_a_bad_deadline_says_how_to_write_it(text, problem):
    with pytest.raises(ValueError, match=problem):
        deadline.parse_deadline(text)
