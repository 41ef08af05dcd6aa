"""What leaves the repository: the student template holds no secret and its tests behave;
the published solutions are complete; the Gradescope bundle grades on its own."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ASSIGNMENTS, assignment

from grader import course, release, workflows


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


def test_solutions_release_has_the_code_and_no_markers(tmp_path):
    files = release.build_solutions(tmp_path / "solutions", course.available())
    texts = {p.relative_to(tmp_path / "solutions"): p.read_text() for p in files}
    assert not any("BEGIN SOLUTION" in t or "END SOLUTION" in t for t in texts.values())
    for id in ASSIGNMENTS:
        a = assignment(id)
        published = texts[Path(id) / a.module]
        assert "NotImplementedError()" not in published
        compile(published, a.module, "exec")


def test_gradescope_bundle_grades_on_its_own(tmp_path):
    id = ASSIGNMENTS[0]
    a = assignment(id)
    bundle = tmp_path / "bundle.zip"
    release.build_gradescope_bundle(a, bundle)
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        z.extractall(tmp_path / "source")
    assert {"setup.sh", "run_autograder", "pyproject.toml"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not [n for n in names if n.startswith(("assignments/", "tests/")) or
                (n.startswith("solutions/") and not n.endswith(".keep"))]
    assert any(n.startswith(f"grader/hidden/{id}/test_") for n in names)
    root = tmp_path / "autograder"  # Gradescope's layout: source/ (the bundle), submission/, results/
    root.mkdir()
    (tmp_path / "source").rename(root / "source")
    (root / "submission").mkdir()
    shutil.copy(a.skeleton_dir / a.module, root / "submission" / a.module)  # the module uploaded alone
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), GRADER=f"{sys.executable} -m grader",
               PYTHONPATH=str(root / "source"))
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results = (root / "results" / "results.json").read_text()
    assert '"score": 0' in results and f"{id}::" in results
