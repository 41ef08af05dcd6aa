"""Classroom 50: per assignment a template it accepts, a runtime file, and a preview autograder that
grades the visible tests only, writes result.json in Classroom 50's documented shape, and holds no
secret (its bundle is published on a public Pages site)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ASSIGNMENTS, assignment

from grader import course
from grader.authoring import classroom50, release

RUNNER_ENV = {  # what Classroom 50's runner.py hands an autograder.py (wiki/Autograders.md, "Contract")
    "CLASSROOM": "cq-fall", "SUBMISSION_TAG": "submit/2026-11-29T09-00-00Z-abcdef1", "OWNER": "ada-l",
    "USERNAME": "ada-l", "ASSIGNMENT_TYPE": "individual",
    "COMMIT_URL": "https://github.com/my-org/cq-fall-x-ada-l/commit/abcdef1",
    "RELEASE_URL": "https://github.com/my-org/cq-fall-x-ada-l/releases/tag/submit%2F2026-11-29T09-00-00Z-abcdef1",
    "REVIEW_URL": "https://github.com/my-org/cq-fall-x-ada-l/compare/1234567...abcdef1",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("classroom50")
    for a in course.available():
        classroom50.write(a, out, course.available())
    return out


def _autograde(bundle: Path, checkout: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "MEMCACHED_SERVERS")}
    environment.update(RUNNER_ENV, ASSIGNMENT=bundle.parent.name, **env)
    return subprocess.run([sys.executable, str(bundle / "autograder.py")], cwd=checkout, env=environment,
                          capture_output=True, text=True, timeout=300)


def _checkout(built: Path, id: str, tmp_path: Path, module_from: Path | None = None) -> Path:
    """A student's repository as Classroom 50 makes it: the template, plus .classroom50.yaml."""
    checkout = tmp_path / "checkout"
    shutil.copytree(built / id / "template", checkout)
    (checkout / ".classroom50.yaml").write_text(f'classroom: "cq-fall"\nassignment: "{id}"\n')
    if module_from is not None:
        a = assignment(id)
        shutil.copy(module_from / a.module, checkout / "assignments" / id / a.module)
    return checkout


def _valid_result(checkout: Path) -> dict:
    document = json.loads((checkout / "result.json").read_text())
    jsonschema.validate(document, json.loads(classroom50.RESULT_SCHEMA.read_text()))
    assert document["score"] == sum(t["score"] for t in document["tests"]) <= document["max-score"]
    assert document["max-score"] == sum(t["max-score"] for t in document["tests"])
    assert all(t["score"] <= t["max-score"] for t in document["tests"])
    return document


def test_every_assignment_gets_a_template_a_runtime_and_a_bundle(built):
    for id in ASSIGNMENTS:
        assert classroom50.SLUG.fullmatch(id)  # what `gh teacher assignment add` accepts
        a, folder = assignment(id), built / id
        assert (folder / "template" / "assignments" / id / a.module).is_file()
        assert not (folder / "template" / ".github").exists()  # Classroom 50's runner gives the preview
        runtime = json.loads((folder / "runtime.json").read_text())
        assert set(runtime) <= {"runs-on", "python", "apt"}  # Classroom 50 has no service containers
        assert {"memcached", "iproute2"} <= set(runtime["apt"])
        visible = sorted(p.name for p in a.skeleton_dir.glob("test_*.py"))
        assert visible and sorted(p.name for p in (folder / "autograder" / "tests").iterdir()) == visible
        assert (folder / "autograder" / "autograder.py").is_file()


def test_nothing_a_bundle_or_template_holds_is_secret(built):
    assert release.scan(built, course.available()) == []


def test_the_scan_finds_a_hidden_test_or_a_shim_planted_in_a_bundle(built, tmp_path):
    a = assignment(ASSIGNMENTS[0])
    leaky = tmp_path / "leaky"
    shutil.copytree(built / a.id, leaky)
    hidden = next(a.hidden_dir.glob("test_*.py"))
    tests = next((leaky / "autograder" / "tests").glob("test_*.py"))
    tests.write_text(tests.read_text() + hidden.read_text())
    shim = leaky / "template" / ".github" / "workflows" / "autograde.yaml"
    shim.parent.mkdir(parents=True)
    shim.write_text("name: ours\n")
    leaks = release.scan(leaky, course.available())
    assert any(str(tests.relative_to(leaky)) in leak for leak in leaks)
    assert any("autograde.yaml" in leak for leak in leaks)
    with pytest.raises(release.LeakError):
        release.refuse_leaks(leaky, course.available())


def test_the_bundle_gives_the_skeleton_nothing_even_with_a_conftest_forcing_passes(built, tmp_path):
    id = ASSIGNMENTS[0]
    checkout = _checkout(built, id, tmp_path)
    folder = checkout / "assignments" / id
    (folder / "conftest.py").write_text(
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
    for test in folder.glob("test_*.py"):
        test.write_text("def test_nothing():\n    pass\n")  # the student's copy of the visible tests, gutted
    done = _autograde(built / id / "autograder", checkout)
    assert done.returncode == 0, done.stderr[-3000:]
    document = _valid_result(checkout)
    assert document["score"] == 0 and document["max-score"] > 0
    assert (document["classroom"], document["assignment"]) == ("cq-fall", id)
    assert "not your grade" in (checkout / "release-body.md").read_text()


def test_the_bundle_gives_the_reference_every_point(built, tmp_path):
    id = ASSIGNMENTS[0]
    checkout = _checkout(built, id, tmp_path, module_from=assignment(id).solution_dir)
    done = _autograde(built / id / "autograder", checkout)
    assert done.returncode == 0, done.stderr[-3000:]
    document = _valid_result(checkout)
    assert document["score"] == document["max-score"] > 0
    assert all(t["passed"] for t in document["tests"])


def test_without_memcached_on_path_the_bundle_says_what_to_install(built, tmp_path):
    id = next(i for i in ASSIGNMENTS if "memcached" in assignment(i).services)
    checkout = _checkout(built, id, tmp_path)
    done = _autograde(built / id / "autograder", checkout, PATH=str(tmp_path / "empty"))
    assert done.returncode != 0 and "memcached" in done.stderr and "apt" in done.stderr
    assert not (checkout / "result.json").exists()


def test_our_schema_refuses_what_classroom50_would(built):
    schema = json.loads(classroom50.RESULT_SCHEMA.read_text())
    good = {"schema": "classroom50/result/v1", "classroom": "c", "assignment": "a", "assignment_type": "individual",
            "owner": "o", "submission": "submit/x", "commit": "u", "release": "u", "review": "u",
            "datetime": "2026-11-29T09:00:00Z", "score": 1, "max-score": 1,
            "tests": [{"test-name": "t", "passed": True, "score": 1, "max-score": 1}]}
    jsonschema.validate(good, schema)
    for broken in ({"score": 0.5}, {"schema": "classroom50/result/v2"}, {"submission": "main"},
                   {"datetime": "2026-11-29 09:00"}, {"tests": [{"test-name": "t", "passed": "yes"}]},
                   {"usernames": ["o"]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, **broken}, schema)


def test_the_printed_commands_register_the_assignment(built):
    a = assignment(ASSIGNMENTS[0])
    text = classroom50.teacher_commands(a, built / a.id, "my-org", "cq-fall", "2026-12-01T23:59:00Z")
    assert f"gh teacher assignment add my-org cq-fall {a.id} " in text
    assert f"--runtime {built / a.id}/runtime.json --submission-mode tag" in text
    assert f"cq-fall/autograders/{a.id}" in text


# -- Classroom 50's grading job stops at 15 minutes ----------------------------------------------------

def test_every_bundles_worst_case_fits_the_grading_job_with_room_to_spare(built):
    for id in ASSIGNMENTS:
        limits = classroom50.budget(assignment(id))
        assert limits.job == 15 * 60 and limits.spare >= classroom50.SPARE_SECONDS, str(limits)
        assert limits.runner + limits.worst + limits.spare == limits.job
        config = json.loads((built / id / "autograder" / "assignment.json").read_text())
        assert config["install_timeout"] + config["timeout"] == limits.worst  # what autograder.py keeps to
        assert config["test_timeout"] * limits.tests == config["timeout"]


def test_the_budget_counts_the_tests_pytest_runs():
    """Counted from the visible tests' source, as pytest collects them (a parametrized case counts once each)."""
    files = [str(p) for id in ASSIGNMENTS for p in classroom50.visible_tests(assignment(id))]
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", "-n", "0",
                           "-p", "no:cacheprovider", *files], capture_output=True, text=True, timeout=120,
                          cwd=course.ROOT)
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected, done.stdout + done.stderr
    for id in ASSIGNMENTS:
        assert classroom50.visible_count(assignment(id)) == sum(f"/{id}/" in line for line in collected), id


def test_an_assignment_that_cannot_fit_is_refused_saying_what_to_change(monkeypatch, tmp_path):
    a = assignment(ASSIGNMENTS[-1])
    monkeypatch.setattr(classroom50, "visible_count", lambda _: 40)
    with pytest.raises(ValueError, match="does not fit Classroom 50's grading job.*fewer visible tests"):
        classroom50.write(a, tmp_path, course.available())
    assert not (tmp_path / a.id).exists()


def test_a_preview_that_runs_out_of_time_scores_what_finished_and_says_so(built, tmp_path):
    id = ASSIGNMENTS[0]
    bundle = tmp_path / "autograder"
    shutil.copytree(built / id / "autograder", bundle)
    config = json.loads((bundle / "assignment.json").read_text())
    (bundle / "assignment.json").write_text(json.dumps({**config, "install_timeout": 0, "timeout": 6}))
    a = assignment(id)
    module = (a.solution_dir / a.module).read_text().replace(
        "def fetch_square(", "def fetch_square(*args, **kwargs):\n    import time\n    time.sleep(120)\n\n\n"
                             "def _fetch_square(", 1)
    checkout = _checkout(built, id, tmp_path)
    (checkout / "assignments" / id / a.module).write_text(module)
    done = _autograde(bundle, checkout)
    assert done.returncode == 0, done.stderr[-3000:]
    document = _valid_result(checkout)
    assert 0 < document["score"] < document["max-score"]  # the test before the hang was scored
    body = (checkout / "release-body.md").read_text()
    assert "ran out of this preview's time" in body and "15 minutes" in body
