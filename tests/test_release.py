"""What leaves the repository: the student template holds no secret and its tests behave;
the published solutions are complete; the Gradescope bundle grades on its own."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ASSIGNMENTS, assignment

from grader import course
from grader.authoring import release, workflows


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    dest = tmp_path_factory.mktemp("template") / "repo"
    release.build_template(dest, course.available())
    return dest


def test_template_holds_every_assignment_and_the_tools(template):
    for id in ASSIGNMENTS:
        a = assignment(id)
        assert (template / "assignments" / id / a.module).exists()
        assert (template / "assignments" / id / "README.md").exists()
    for name in ("harness.py", "conftest.py", "pyproject.toml", "README.md", ".github/workflows/classroom.yml"):
        assert (template / name).is_file(), name


def test_template_has_no_solution_no_hidden_test_no_instructor_workflow(template):
    assert release.scan(template, course.available()) == []
    names = {p.name for p in template.rglob("*")}
    assert not names & {"grade.yml", "ci.yml", "hidden", "solutions", "setup.sh"}
    for id in ASSIGNMENTS:
        a = assignment(id)
        reference = (a.solution_dir / a.module).read_text()
        assert (template / "assignments" / id / a.module).read_text() != reference


def test_the_scan_finds_a_planted_leak(template, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(template, leaky)
    a = assignment(ASSIGNMENTS[0])
    shutil.copy(a.solution_dir / a.module, leaky / "assignments" / a.id / a.module)
    hidden = next(a.hidden_dir.glob("test_*.py"))
    shutil.copy(hidden, leaky / hidden.name)
    leaks = release.scan(leaky, course.available())
    assert any("marker" in leak for leak in leaks)
    assert any("a hidden test file" in leak for leak in leaks)


def _pytest(folder):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder,
                          capture_output=True, text=True, timeout=600, env=env)


def test_template_tests_fail_on_the_skeletons_pointing_at_the_function(template):
    done = _pytest(template)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "still to write" in done.stdout and "NotImplementedError" in done.stdout


def test_template_tests_pass_with_the_reference_modules(template, tmp_path):
    solved = tmp_path / "solved"
    shutil.copytree(template, solved)
    for id in ASSIGNMENTS:
        a = assignment(id)
        shutil.copy(a.solution_dir / a.module, solved / "assignments" / id / a.module)
    done = _pytest(solved)
    assert done.returncode == 0, done.stdout[-3000:]


def test_template_workflow_has_a_step_per_assignment(template):
    import yaml
    document = yaml.safe_load((template / ".github/workflows/classroom.yml").read_text())
    assert workflows.problems(document, course.available()) == []
    assert document["name"] == "Autograding Tests" and list(document["jobs"]) == ["run-autograding-tests"]


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    dest = tmp_path_factory.mktemp("solutions") / "published"
    release.build_solutions(dest, course.available())
    return dest


def test_solutions_release_has_the_code_and_no_markers(solutions):
    texts = {p.relative_to(solutions): p.read_text() for p in solutions.rglob("*") if p.is_file()}
    assert not any("BEGIN SOLUTION" in t or "END SOLUTION" in t for t in texts.values())
    for id in ASSIGNMENTS:
        a = assignment(id)
        published = texts[Path("assignments") / id / a.module]
        assert "NotImplementedError()" not in published
        compile(published, a.module, "exec")
    assert release.scan(solutions, course.available(), solutions=True) == []


def test_solutions_release_runs_its_own_visible_tests(solutions, template):
    for name in ("harness.py", "conftest.py", "pyproject.toml"):  # what `grader release` ships to run them
        assert (solutions / name).read_bytes() == (template / name).read_bytes(), name
    a = assignment(ASSIGNMENTS[0])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "MEMCACHED_SERVERS")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"assignments/{a.id}"],
                          cwd=solutions, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0 and " passed" in done.stdout, done.stdout[-3000:]


def test_solutions_release_refuses_a_hidden_test(solutions, tmp_path):
    a = assignment(ASSIGNMENTS[0])
    leaky = tmp_path / "leaky"
    shutil.copytree(solutions, leaky)
    hidden = next(a.hidden_dir.glob("test_*.py"))
    shutil.copy(hidden, leaky / "assignments" / a.id / "test_more.py")
    assert any("test_more.py" in leak for leak in release.scan(leaky, course.available(), solutions=True))
