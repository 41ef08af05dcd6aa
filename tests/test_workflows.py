"""Every GitHub workflow (this repository's and the student template's) validates against GitHub's
schema offline, and holds together where a schema cannot see: services and MEMCACHED_SERVERS agree,
every assignment has a grader step, and the reporter lists every step."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader import course, workflows
from grader.course import ROOT

REPOSITORY = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))


@pytest.fixture(scope="module")
def template_workflow(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "classroom.yml"
    path.write_text(workflows.dump(workflows.student_workflow(course.available())))
    return path


def _schema_check(path: Path):
    checker = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path", REPOSITORY, ids=lambda p: p.name)
def test_repository_workflow_matches_githubs_schema(path: Path):
    done = _schema_check(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_template_workflow_matches_githubs_schema(template_workflow):
    done = _schema_check(template_workflow)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", REPOSITORY, ids=lambda p: p.name)
def test_repository_workflow_holds_together(path: Path):
    assert workflows.problems(yaml.safe_load(path.read_text())) == []


def test_template_workflow_grades_every_assignment(template_workflow):
    document = yaml.safe_load(template_workflow.read_text())
    assert workflows.problems(document, course.available()) == []


def _student_job(document):
    return document["jobs"]["run-autograding-tests"]


def test_the_checks_catch_a_missing_service():
    document = workflows.student_workflow(course.available())
    _student_job(document)["services"].pop("memcached-3")
    assert any("11213" in p for p in workflows.problems(document, course.available()))


def test_the_checks_catch_a_missing_grader_step_and_a_stale_reporter():
    document = workflows.student_workflow(course.available())
    steps = _student_job(document)["steps"]
    grader = next(s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command"))
    steps.remove(grader)
    found = workflows.problems(document, course.available())
    assert any(f"no grader step for {grader['with']['test-name']}" in p for p in found)
    assert any("is no grader step" in p for p in found)


def test_the_checks_catch_a_reporter_that_misses_a_step():
    document = workflows.student_workflow(course.available())
    reporter = _student_job(document)["steps"][-1]
    reporter["with"]["runners"] = "someone-else"
    reporter["env"] = {}
    found = workflows.problems(document, course.available())
    assert any("does not list step" in p for p in found) and any("_RESULTS" in p for p in found)


def test_instructor_workflow_grades_with_service_containers_and_keeps_secrets_out_of_reach():
    document = yaml.safe_load((ROOT / ".github" / "workflows" / "grade.yml").read_text())
    job = document["jobs"]["grade"]
    assert workflows.service_ports(job) == {11211, 11212, 11213}
    assert workflows.servers_used(job) == [{11211, 11212, 11213}]
    checkouts = [s for job in document["jobs"].values() for s in job["steps"]
                 if s.get("uses", "").startswith("actions/checkout")]
    assert checkouts and all(s["with"]["persist-credentials"] is False for s in checkouts)
    text = (ROOT / ".github" / "workflows" / "grade.yml").read_text()
    assert text.count("secrets.STUDENT_REPOS_TOKEN") == 1 and "sudo" in text


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    run = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "bash .ci/run" in ci
    assert ".venv/bin/pytest" in run and "bash setup.sh && .venv/bin/pytest" in readme
