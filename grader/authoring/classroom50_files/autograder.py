"""The preview score of one assignment, for Classroom 50: the visible tests only.

`grader classroom50` puts this file in each assignment's autograder bundle, with
`assignment.json`, the visible tests, the test harness and `requirements.txt`.
Classroom 50's runner runs it as `python autograder.py` in the student's checkout
and reads `./result.json` (foundation50/classroom50, wiki/Autograders.md, "The
result.json contract" and "Writing an autograder.py": schema
`classroom50/result/v1`, integer `score` / `max-score`, a `tests` list; exit 0
whenever grading ran, non-zero for an infrastructure error).

A bundle is published on the course's public Pages site, so nothing here may be
secret: the grade comes from the hidden tests, which the instructor runs after the
deadline. The student's own tests, conftest.py and pytest settings are never used:
only the module files of the assignment's folder are copied next to the bundle's
tests. Standard library only (it runs before anything is installed).
"""
from __future__ import annotations

import ast
import datetime
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA = "classroom50/result/v1"
IMPORTS = ("pytest", "pytest_timeout", "hypothesis", "pymemcache", "zmq", "mirakuru")
GRACE = 15  # seconds an interrupted pytest has to write its report


def manifest(tests: Path) -> list[str]:
    """Every visible test as 'test_file.py::test_name', read from the bundle's own copies."""
    names = []
    for path in sorted(tests.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names += [f"{path.name}::{node.name}" for node in tree.body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")]
    return names


def student_folder(checkout: Path, config: dict) -> Path | None:
    """Where the student's module is: assignments/<id>/, <id>/, or the top of the repository."""
    for folder in (checkout / "assignments" / config["id"], checkout / config["id"], checkout):
        if (folder / config["module"]).is_file():
            return folder
    return None


def stage(work: Path, config: dict, student: Path | None) -> Path:
    """A fresh folder: the bundle's tests and harness, and the student's modules beside the tests."""
    tests = work / config["id"]
    tests.mkdir(parents=True)
    for name in ("harness.py", "conftest.py"):
        shutil.copy(HERE / name, work / name)
    (work / "pytest.ini").write_text("[pytest]\n")
    if student is not None:
        for path in student.glob("*.py"):
            if not path.name.startswith("test_") and path.name != "conftest.py":
                shutil.copy(path, tests / path.name)
    for path in (HERE / "tests").glob("test_*.py"):
        shutil.copy(path, tests / path.name)
    return tests


def run_pytest(work: Path, config: dict, report: Path, seconds: float) -> str:
    """Run the visible tests for at most `seconds`; '' when pytest finished, else what stopped it.

    Bounded, so that Classroom 50's grading job (stopped at `job_minutes`, with nothing
    published) always gets a result.json: at the end of the time pytest is interrupted
    first, so that it still writes the report of the tests that finished.
    """
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(work),
               "-c", str(work / "pytest.ini"), "-o", f"timeout={config['test_timeout']}",
               f"--junitxml={report}", config["id"]]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    process = subprocess.Popen(command, cwd=work, env=env, start_new_session=True)
    try:
        process.wait(timeout=max(seconds, 1))
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # pytest stops and still writes the report of what finished
        try:
            process.wait(timeout=GRACE)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        return (f"The visible tests ran out of this preview's time ({seconds:.0f} s: Classroom 50 stops its "
                f"grading job at {config['job_minutes']} minutes) and were stopped; those that finished are scored.")
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything the tests left running
        except ProcessLookupError:
            pass
    return ""


def outcomes(report: Path) -> dict[str, bool]:
    """'test_file.py::test_name' -> passed, from pytest's JUnit XML (a parametrized test passes if all its cases do)."""
    if not report.is_file():
        return {}
    found: dict[str, bool] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname', '').split('.')[-1]}.py::{case.get('name', '').split('[')[0]}"
        ok = not any(child.tag in ("failure", "error", "skipped") for child in case)
        found[name] = found.get(name, True) and ok
    return found


def result(config: dict, passed: dict[str, bool], names: list[str]) -> dict:
    points = config["points_per_test"]
    tests = [{"test-name": name, "passed": passed.get(name, False),
              "score": points if passed.get(name, False) else 0, "max-score": points} for name in names]
    env = os.environ.get
    commit = env("COMMIT_URL") or "local"
    return {
        "schema": SCHEMA,
        "classroom": env("CLASSROOM") or "local",
        "assignment": env("ASSIGNMENT") or config["id"],
        "assignment_type": env("ASSIGNMENT_TYPE") or "individual",
        "owner": env("OWNER") or env("USERNAME") or env("GITHUB_ACTOR") or "local",
        "submission": env("SUBMISSION_TAG") or "submit/local",
        "commit": commit,
        "release": env("RELEASE_URL") or commit,
        "review": env("REVIEW_URL") or commit,
        "datetime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": sum(t["score"] for t in tests),
        "max-score": sum(t["max-score"] for t in tests),
        "tests": tests,
    }


def release_body(document: dict, config: dict, note: str) -> str:
    lines = [f"### Preview of {config['id']}: {document['score']}/{document['max-score']} visible tests pass", "",
             "| visible test | result |", "|---|---|"]
    lines += [f"| `{t['test-name']}` | {'pass' if t['passed'] else 'FAIL'} |" for t in document["tests"]]
    lines += ["", *([note, ""] if note else []),
              f"Run them yourself: `pytest assignments/{config['id']}` shows why a test fails.",
              "This preview is not your grade: hidden tests, run after the deadline on your last submission "
              "before it, check every rule of the handout."]
    return "\n".join(lines) + "\n"


def install_missing(seconds: float) -> str:
    """The test tools, when the runner's Python lacks them, within `seconds`; '' when all are there."""
    if all(importlib.util.find_spec(name) for name in IMPORTS):
        return ""
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(HERE / "requirements.txt")],
                              timeout=seconds)
    except subprocess.TimeoutExpired:
        return f"pip could not install the test tools within {seconds:.0f} s (the preview's share of the job)"
    return "" if done.returncode == 0 else "pip could not install the test tools (see the log above)"


def main() -> int:
    started = time.monotonic()
    config = json.loads((HERE / "assignment.json").read_text())
    if "memcached" in config["services"] and not shutil.which("memcached"):
        print("::error::memcached is not on PATH: the assignment's runtime must list apt: [\"memcached\"] "
              "(made by `grader classroom50`)", file=sys.stderr)
        return 1
    problem = install_missing(config["install_timeout"])
    if problem:
        print(f"::error::{problem}", file=sys.stderr)
        return 1
    checkout = Path.cwd()
    names = manifest(HERE / "tests")
    student = student_folder(checkout, config)
    note = "" if student else f"No `{config['module']}` found (looked in assignments/{config['id']}/): nothing to test."
    with tempfile.TemporaryDirectory(prefix="classroom50-") as scratch:
        work = Path(scratch)
        report = work / "report.xml"
        stage(work, config, student)
        left = config["install_timeout"] + config["timeout"] - (time.monotonic() - started)  # unused install time too
        note = note or run_pytest(work, config, report, left)
        passed = outcomes(report)
    document = result(config, passed, names)
    (checkout / "result.json").write_text(json.dumps(document, indent=2) + "\n")
    (checkout / "release-body.md").write_text(release_body(document, config, note))
    print(f"preview score: {document['score']}/{document['max-score']}" + (f"\n{note}" if note else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
