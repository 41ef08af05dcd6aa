"""Every GitHub workflow (this repository's and the student template's) validates against GitHub's
schema offline, and holds together where a schema cannot see: services and MEMCACHED_SERVERS agree,
every assignment has a grader step, and the reporter lists every step."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader import course
from grader.authoring import workflows
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


GRADE = ROOT / ".github" / "workflows" / "grade.yml"


def _grade_workflow() -> dict:
    return yaml.safe_load(GRADE.read_text())


def test_instructor_workflow_grades_each_student_on_servers_of_its_own():
    """No service containers, no MEMCACHED_SERVERS: servers a batch shares would carry one student's changes
    to their settings into the next student's grading (the red team's `lru_crawler disable`)."""
    job = _grade_workflow()["jobs"]["grade"]
    assert workflows.service_ports(job) == set() and workflows.servers_used(job) == []
    assert "MEMCACHED_SERVERS" not in GRADE.read_text().split("jobs:", 1)[1]


def test_no_job_both_holds_a_secret_and_runs_student_code():
    jobs = _grade_workflow()["jobs"]
    holding = {name for name, job in jobs.items() if workflows.holds_secret(job)}
    running = {name for name, job in jobs.items() if workflows.runs_student_code(job)}
    assert holding == {"fetch"} and running == {"grade"}
    assert GRADE.read_text().count("secrets.") == 1  # STUDENT_REPOS_TOKEN, in the fetch step alone


def test_grading_jobs_get_no_token_no_checkout_and_no_solutions():
    document = _grade_workflow()
    assert document["permissions"] == {}  # every job's GITHUB_TOKEN, unless a job asks for more
    asking = {name for name, job in document["jobs"].items() if "permissions" in job}
    assert asking == {"plan"} and document["jobs"]["plan"]["permissions"] == {"contents": "read"}
    assert not workflows.runs_student_code(document["jobs"]["plan"])
    checkouts = [(name, s) for name, job in document["jobs"].items() for s in job["steps"]
                 if s.get("uses", "").startswith("actions/checkout")]
    assert [name for name, _ in checkouts] == ["plan"]
    assert all(s["with"]["persist-credentials"] is False for _, s in checkouts)
    course = next(s for s in document["jobs"]["plan"]["steps"] if s.get("with", {}).get("name") == "course")
    kept = course["with"]["path"].split()
    assert "grader/" in kept and not any("solutions" in p or p in (".", "./", "*") for p in kept)


def test_the_checks_catch_a_secret_next_to_student_code():
    document = _grade_workflow()
    document["jobs"]["grade"]["env"] = {"TOKEN": "${{ secrets.STUDENT_REPOS_TOKEN }}"}
    assert "job grade: holds a secret and runs student code" in workflows.problems(document)


def test_grading_jobs_upload_only_results_files_and_collect_keeps_artifacts_apart():
    jobs = _grade_workflow()["jobs"]
    uploads = [s["with"] for s in jobs["grade"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert [u["path"] for u in uploads] == ["results/*.json"]
    downloads = [s["with"] for s in jobs["collect"]["steps"]
                 if s.get("uses", "").startswith("actions/download-artifact")]
    assert all(not d.get("merge-multiple") for d in downloads)
    placeholders = {s["with"]["name"] for s in jobs["plan"]["steps"] if "upload-artifact" in s.get("uses", "")}
    assert {"manifest-000", "results-000"} <= placeholders  # so a lone match keeps its folder


def test_scheduled_runs_need_the_variables_and_a_past_deadline():
    plan = _grade_workflow()["jobs"]["plan"]
    assert "github.event_name != 'schedule'" in plan["if"]
    assert "vars.GRADING_ASSIGNMENT != ''" in plan["if"] and "vars.GRADING_DEADLINE != ''" in plan["if"]
    step = next(s for s in plan["steps"] if s.get("id") == "plan")
    assert "--only-after-deadline" in step["run"] and "schedule" in step["env"]["SCHEDULED"]
    for name, job in _grade_workflow()["jobs"].items():
        assert all("notebooks" not in str(s.get("run", "")) for s in job["steps"]), name
    grade = _grade_workflow()["jobs"]["grade"]
    assert any("SETUP_EXTRAS= bash setup.sh" in str(s.get("run", "")) for s in grade["steps"])


def _every_workflow(template_workflow) -> list[Path]:
    return [*REPOSITORY, template_workflow]


def test_every_workflow_pins_the_node_24_majors(template_workflow):
    found = []
    for path in _every_workflow(template_workflow):
        document = yaml.safe_load(path.read_text())
        found += [f"{path.name}: {p}" for p in workflows.outdated_actions(document)]
        used = {str(s.get("uses", "")).split("@")[0] for job in document["jobs"].values() for s in job["steps"]}
        assert "actions/checkout" in used, path
    assert found == []


def test_the_checks_catch_a_node_20_major():
    document = workflows.student_workflow(course.available())
    _student_job(document)["steps"][0]["uses"] = "actions/checkout@v4"
    assert any("actions/checkout@v4" in p for p in workflows.problems(document))


def test_student_workflow_updates_apt_and_leaves_time_for_a_hang():
    document = workflows.student_workflow(course.available())
    job = _student_job(document)
    assert workflows.grader_minutes(job) + workflows.SETUP_MARGIN <= job["timeout-minutes"]
    job["timeout-minutes"] = workflows.grader_minutes(job)
    install = next(s for s in job["steps"] if "apt-get install" in str(s.get("run", "")))
    install["run"] = install["run"].replace("sudo apt-get update -q\n", "")
    found = workflows.problems(document, course.available())
    assert any("one hang would leave no score" in p for p in found)
    assert any("apt-get install before apt-get update" in p for p in found)


def _actionlint() -> str | None:
    beside = Path(sys.executable).with_name("actionlint")
    return str(beside) if beside.exists() else shutil.which("actionlint")


@pytest.mark.skipif(_actionlint() is None, reason="actionlint is not installed (its PyPI wrapper downloads "
                                                  "the binary at build time)")
def test_every_workflow_passes_actionlint(template_workflow):
    done = subprocess.run([_actionlint(), "-no-color", *map(str, _every_workflow(template_workflow))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    run = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "bash .ci/run" in ci
    assert ".venv/bin/pytest" in run and "bash setup.sh && .venv/bin/pytest" in readme


def test_the_course_artifact_grades_every_assignment_without_solutions(tmp_path):
    """What the plan job keeps for grading is enough: every assignment is there, no solution is."""
    steps = _grade_workflow()["jobs"]["plan"]["steps"]
    kept = next(s for s in steps if s.get("with", {}).get("name") == "course")["with"]["path"].split()
    for path in kept:
        source = ROOT / path
        if source.is_dir():
            shutil.copytree(source, tmp_path / path, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, tmp_path / path)
    assert not (tmp_path / "solutions").exists()
    done = subprocess.run([sys.executable, "-c", "from grader import course; print(course.ROOT, "
                           "*[a.id for a in course.available()])"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert done.stdout.split() == [str(tmp_path), *[a.id for a in course.available()]], done.stderr


def test_collect_attaches_the_class_report_and_puts_its_headline_in_the_summary():
    steps = _grade_workflow()["jobs"]["collect"]["steps"]
    runs = [str(s.get("run", "")) for s in steps]
    install = next(r for r in runs if "pip install" in r)
    assert "./course[report]" in install  # matplotlib and Jinja2, which grading itself never needs
    report = next(r for r in runs if "grader report" in r)
    assert "--plan course/plan.json" in report and '--summary "$GITHUB_STEP_SUMMARY"' in report
    assert runs.index(report) > runs.index(next(r for r in runs if "grader collect" in r))
    out = report.split("--out ")[1].split()[0].strip('"').replace("$ASSIGNMENT", "*")
    uploads = [s["with"]["path"] for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert out in uploads, (out, uploads)


def test_the_course_artifact_can_draw_the_report(tmp_path):
    """The page's template travels with grader/: the collect job renders it from the course artifact alone."""
    steps = _grade_workflow()["jobs"]["plan"]["steps"]
    kept = next(s for s in steps if s.get("with", {}).get("name") == "course")["with"]["path"].split()
    assert "grader/" in kept
    shutil.copytree(ROOT / "grader", tmp_path / "grader", ignore=shutil.ignore_patterns("__pycache__", "hidden"))
    results = tmp_path / "results"
    results.mkdir()
    (results / "ada.json").write_text('{"tests": [{"name": "01-cache-aside::test_x", "score": 1, "max_score": 2, '
                                      '"status": "failed", "output": "x\\n\\nfailed: no"}]}')
    done = subprocess.run([sys.executable, "-m", "grader", "report", str(results), "--out", str(tmp_path / "r.html")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "1 student graded" in (tmp_path / "r.html").read_text()
