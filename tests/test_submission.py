"""Every reasonable way of handing in a module is found; nothing ambiguous or linked is graded."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader import submission
from grader.course import Assignment

A = Assignment("01-cache-aside", "squares.py")


def put(root: Path, *paths: str) -> Path:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {rel}\n")
    return root


@pytest.mark.parametrize("layout", [
    "assignments/01-cache-aside/squares.py",  # a clone of the repository
    "01-cache-aside/squares.py",
    "squares.py",  # the module alone
    "caches-and-queues-main/assignments/01-cache-aside/squares.py",  # a zip of the repository folder
    "my work/01-cache-aside/squares.py",
    "upload/squares.py",
    "Squares.py",  # another case
    "Assignments/01-Cache-Aside/SQUARES.PY",
])
def test_each_layout_is_found(tmp_path, layout):
    put(tmp_path, layout, "README.md")
    found = submission.find(tmp_path, A)
    assert found.module == tmp_path / layout and found.notes == [] and found.problem == ""


def test_the_repository_layout_wins_and_the_note_says_what_was_not_graded(tmp_path):
    put(tmp_path, "squares.py", "assignments/01-cache-aside/squares.py", "old/squares.py")
    found = submission.find(tmp_path, A)
    assert found.module == tmp_path / "assignments/01-cache-aside/squares.py"
    assert found.notes == ["graded assignments/01-cache-aside/squares.py; also found, not graded: "
                           "squares.py, old/squares.py"]


def test_the_exact_name_wins_over_another_case_beside_it(tmp_path):
    put(tmp_path, "Squares.py", "squares.py")
    assert submission.find(tmp_path, A).module == tmp_path / "squares.py"


@pytest.mark.parametrize("files", [
    ["Squares.py", "SQUARES.py"],  # neither is the exact name
    ["a-main/assignments/01-cache-aside/squares.py", "b-main/assignments/01-cache-aside/squares.py"],
])
def test_two_equally_good_candidates_are_refused_naming_both(tmp_path, files):
    put(tmp_path, *files)
    found = submission.find(tmp_path, A)
    assert found.module is None
    assert "ambiguous" in found.problem and all(f in found.problem for f in files)


def test_the_choice_does_not_depend_on_the_order_files_were_written(tmp_path):
    files = ["z/squares.py", "squares.py", "01-cache-aside/Squares.py", "a/01-cache-aside/squares.py"]
    first = submission.find(put(tmp_path / "one", *files), A)
    second = submission.find(put(tmp_path / "two", *reversed(files)), A)
    assert first.module.relative_to(tmp_path / "one") == second.module.relative_to(tmp_path / "two")
    assert first.notes == second.notes


def test_a_link_is_never_graded_even_when_it_is_the_only_candidate(tmp_path):
    secret = put(tmp_path / "elsewhere", "squares.py") / "squares.py"
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "squares.py").symlink_to(secret)
    (upload / "repo-main").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    found = submission.find(upload, A)
    assert found.module is None
    assert "Symbolic links are never graded" in found.problem and "squares.py" in found.problem


def test_a_link_is_passed_over_for_a_real_file_and_said(tmp_path):
    put(tmp_path, "elsewhere/squares.py", "upload/01-cache-aside/squares.py")
    upload = tmp_path / "upload"
    (upload / "assignments").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    found = submission.find(upload, A)
    assert found.module == upload / "01-cache-aside/squares.py"
    assert any("Symbolic links" in note for note in found.notes)


def test_archivers_folders_are_not_searched(tmp_path):
    put(tmp_path, "__MACOSX/squares.py", ".git/squares.py")
    assert submission.find(tmp_path, A).module is None


def test_nothing_found_says_what_to_upload_and_what_was_there(tmp_path):
    put(tmp_path, "work/square.py", "notes.txt")
    problem = submission.find(tmp_path, A).problem
    assert "Upload the file squares.py" in problem
    for accepted in ("assignments/01-cache-aside/squares.py", "01-cache-aside/squares.py", "inside one folder"):
        assert accepted in problem
    assert "found instead: work/square.py" in problem
    assert str(tmp_path) not in problem  # paths as the student uploaded them, not the grader's
