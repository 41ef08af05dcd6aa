"""The Gradescope autograder: built, unpacked where AUTOGRADER_ROOT says, and run on uploads
as students make them; it holds no solution, and shows the tests only when it is told to."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import assignment

from grader.authoring import bundle, release

A = assignment("01-cache-aside")
REFERENCE = (A.solution_dir / A.module).read_bytes()


def unpack(zip_path: Path, root: Path) -> Path:
    """Gradescope's layout: source/ (the bundle), submission/, results/."""
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
        for info in z.infolist():  # zipfile does not restore modes
            os.chmod(root / "source" / info.filename, info.external_attr >> 16)
    return root


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """Build the bundle with its default visibility; returns a function grading one upload with it."""
    zip_path = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    bundle.build(A, zip_path)

    def run(files: dict[str, bytes], zip_of: Path = zip_path) -> dict:
        root = unpack(zip_of, tmp_path_factory.mktemp("autograder"))
        (root / "submission").mkdir()
        for rel, data in files.items():
            (root / "submission" / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / "submission" / rel).write_bytes(data)
        # The course's own environment stands in for what setup.sh installs into source/.venv.
        env = dict(os.environ, AUTOGRADER_ROOT=str(root), GRADER=f"{sys.executable} -m grader",
                   PYTHONPATH=str(root / "source"))
        done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads((root / "results" / "results.json").read_text())

    run.zip_path = zip_path
    return run


def check_of(results: dict) -> dict:
    [check] = [t for t in results["tests"] if t["name"] == f"{A.id}::your submission"]
    return check


def test_the_bundle_holds_the_scripts_the_grader_and_no_solution(autograder, tmp_path):
    root = unpack(autograder.zip_path, tmp_path)
    source = root / "source"
    for script in ("setup.sh", "run_autograder"):
        assert (source / script).stat().st_mode & stat.S_IXUSR
        assert subprocess.run(["bash", "-n", str(source / script)]).returncode == 0
        text = (source / script).read_text()
        assert "/autograder/source" not in text and "${AUTOGRADER_ROOT:-/autograder}" in text
    assert (source / "gradescope.env").read_text() == f"ASSIGNMENT={A.id}\nVISIBILITY=after_due_date\nUNSEALED=\n"
    names = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
    assert any(n.startswith(f"grader/hidden/{A.id}/test_") for n in names)
    assert not [n for n in names if n.startswith(("assignments/", "tests/", "grader/hidden/02"))
                or (n.startswith("solutions/") and not n.endswith(".keep"))]
    # No line of a solution region (module or lab) outside the hidden tests, which share
    # a few plain lines with the reference, such as `result = function(*args)`.
    secret = release._solution_lines(A)
    assert secret
    shown = [(p, line) for p in source.rglob("*") if p.is_file() and "hidden" not in p.parts
             for line in p.read_text(errors="replace").splitlines() if line.strip() in secret]
    assert shown == []


def test_a_solution_line_in_the_bundle_is_refused(tmp_path):
    files = bundle.contents(A, "after_due_date")
    files["grader/extra.py"] = REFERENCE
    assert any("grader/extra.py" in leak for leak in bundle.leaks(files, A))


def test_a_zip_of_the_repository_earns_full_marks_and_shows_the_tests_after_the_due_date(autograder):
    repo = "caches-and-queues-main"
    results = autograder({f"{repo}/assignments/{A.id}/{A.module}": REFERENCE,
                          f"{repo}/assignments/{A.id}/README.md": b"# handout\n",
                          f"{repo}/harness.py": b"", f"{repo}/README.md": b"# mine\n"})
    assert results["score"] == results["max_score"] > 0
    graded = [t for t in results["tests"] if t["name"] != f"{A.id}::your submission"]
    assert graded and {t["visibility"] for t in graded} == {"after_due_date"}
    check = check_of(results)
    assert check["visibility"] == "visible" and check["status"] == "passed" and check["max_score"] == 0
    assert f"/ {results['max_score']}" not in results["output"]  # the score waits for the tests
    assert "test_" not in results["output"] + check["output"]


def test_the_module_alone_in_another_case_earns_full_marks(autograder):
    results = autograder({"Squares.py": REFERENCE})
    assert results["score"] == results["max_score"] > 0


def test_an_upload_without_the_module_says_at_once_what_to_upload(autograder):
    results = autograder({"square.py": REFERENCE, "notes.txt": b"hello\n"})
    assert results["score"] == 0
    check = check_of(results)
    assert check["visibility"] == "visible" and check["status"] == "failed"
    for words in ("Upload the file squares.py", f"assignments/{A.id}/squares.py", "found instead: square.py"):
        assert words in check["output"] and words in results["output"]


def test_visibility_is_an_option_of_the_bundle(autograder, tmp_path):
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope-bundle", A.id, "--out",
                           str(tmp_path / "visible.zip"), "--visibility", "visible"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = autograder({}, zip_of=tmp_path / "visible.zip")
    assert {t["visibility"] for t in results["tests"]} == {"visible"}
    assert not [t for t in results["tests"] if t["name"].endswith("::your submission")]
    assert f"{A.id}: 0 / {results['max_score']}" in results["output"] and "was not found" in results["output"]
    wrong = subprocess.run([sys.executable, "-m", "grader", "gradescope-bundle", A.id, "--out",
                            str(tmp_path / "x.zip"), "--visibility", "sometimes"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "after_published" in wrong.stderr


def test_an_unsealed_bundle_grades_without_the_wall_and_says_so(autograder, tmp_path):
    """For a Gradescope container that allows no namespace: the instructor's explicit choice, on every result."""
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope-bundle", A.id, "--out",
                           str(tmp_path / "unsealed.zip"), "--unsealed"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = autograder({"squares.py": REFERENCE}, zip_of=tmp_path / "unsealed.zip")
    assert results["score"] == results["max_score"] > 0 and results["extra_data"] == {"unsealed": True}
    assert "unsealed: student code ran without the wall" in check_of(results)["output"]
