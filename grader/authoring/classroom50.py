"""What a teacher hands to Classroom 50 for each assignment, and how Classroom 50 names things.

Classroom 50 (foundation50/classroom50, GPL-3.0; read, never copied) replaced GitHub
Classroom: `gh teacher assignment add <org> <classroom> <slug> --template OWNER/REPO
--runtime FILE --submission-mode every-push|tag` registers an assignment, and
`gh student accept` makes each student's repository from the template. Per assignment,
`write` makes a folder with:

- `template/`: the student template for that assignment alone, without
  `.github/workflows/autograde.yaml` (wiki/Assignment-Templates.md: "Never put
  .github/workflows/autograde.yaml in the template"; accept adds its own) and without
  our preview workflow (Classroom 50's runner gives the preview);
- `runtime.json`: the `runtime` block (wiki/Autograders.md, "The runtime block":
  `runs-on`, a language version, `apt` packages; no service containers), so memcached
  comes from apt and the harness starts it from PATH;
- `autograder/`: the bundle to commit at `<classroom>/autograders/<slug>/` of the
  org's `classroom50` repository. Its `autograder.py` runs the VISIBLE tests only and
  writes `result.json`: publish-pages.yaml tars that folder onto the public Pages
  site, so a hidden test there would be public.

Classroom 50's grade job stops at 15 minutes (autograde-runner.yaml, `timeout-minutes:
15`), and a job stopped there publishes no result at all. Its own steps take part of
that (checkout, Python, apt-get, fetching the bundle, publishing the Release), so the
bundle's worst case (installing the test tools, then every visible test hanging until
its time limit) must fit in what they leave, with room to spare: `budget` works it out
per assignment and `write` refuses an assignment that does not fit. At run time
`autograder.py` keeps to the same budget: when it runs out, the tests that finished are
scored and the Release says the rest were stopped.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from grader.authoring import release
from grader.course import ROOT, Assignment

FILES = Path(__file__).with_name("classroom50_files")
RESULT_SCHEMA = FILES / "result.schema.json"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,38}")  # an assignment slug (wiki/gh-teacher.md, `assignment add`)
PYTHON = "3.12"
APT = ("memcached", "iproute2")  # the harness starts memcached from PATH; iproute2 has `ip`
POINTS_PER_TEST = 1
JOB_SECONDS = 15 * 60  # Classroom 50's grade job (autograde-runner.yaml: timeout-minutes: 15)
RUNNER_SECONDS = 180  # its own steps in that job, around the bundle's: checkout, Python, apt, the Release
SPARE_SECONDS = 120  # room to spare: a slow runner, a slow package mirror
INSTALL_SECONDS = 150  # pip installing the test tools (about 10 s from PyPI's wheels)
TEST_TIMEOUT = 60  # seconds, per visible test (a reference's take about a second each)


@dataclass(frozen=True)
class Budget:
    """The bundle's worst case against Classroom 50's grading job, in seconds."""
    tests: int  # visible tests
    install: int = INSTALL_SECONDS
    per_test: int = TEST_TIMEOUT
    job: int = JOB_SECONDS
    runner: int = RUNNER_SECONDS

    @property
    def worst(self) -> int:
        """Installing the test tools, then every visible test running until its time limit."""
        return self.install + self.tests * self.per_test

    @property
    def spare(self) -> int:
        return self.job - self.runner - self.worst

    def __str__(self) -> str:
        return (f"worst case {self.worst} s (installing {self.install} s, then {self.tests} visible tests of at most "
                f"{self.per_test} s) of the {self.job // 60} minutes Classroom 50's grading job has, "
                f"{self.runner} s kept for its own steps: {self.spare} s to spare")


def visible_count(assignment: Assignment) -> int:
    """How many visible tests pytest will run (a parametrized one counts once per case it lists)."""
    count = 0
    for path in visible_tests(assignment):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                cases = [len(d.args[1].elts) for d in node.decorator_list if isinstance(d, ast.Call)
                         and "parametrize" in ast.unparse(d.func) and len(d.args) > 1
                         and isinstance(d.args[1], (ast.List, ast.Tuple))]
                count += max(cases, default=1)
    return count


def budget(assignment: Assignment) -> Budget:
    """Its worst case; raises ValueError, saying what to change, when it leaves less than SPARE_SECONDS."""
    found = Budget(visible_count(assignment))
    if found.spare < SPARE_SECONDS:
        raise ValueError(f"{assignment.id}: the preview does not fit Classroom 50's grading job: {found}, less "
                         f"than the {SPARE_SECONDS} s it should keep; give it fewer visible tests or lower "
                         "TEST_TIMEOUT in grader/authoring/classroom50.py")
    return found


def runtime() -> dict:
    return {"runs-on": "ubuntu-latest", "python": PYTHON, "apt": list(APT)}


def visible_tests(assignment: Assignment) -> list[Path]:
    return sorted(assignment.skeleton_dir.glob("test_*.py"))


def build_bundle(assignment: Assignment, dest: Path, assignments: list[Assignment]) -> list[Path]:
    """The autograder bundle: autograder.py, its settings, the visible tests, the harness. Scanned for leaks."""
    release.fresh(dest)
    limits = budget(assignment)
    config = {"id": assignment.id, "module": assignment.module, "services": list(assignment.services),
              "points_per_test": POINTS_PER_TEST, "install_timeout": limits.install,
              "test_timeout": limits.per_test, "timeout": limits.tests * limits.per_test,
              "job_minutes": limits.job // 60}
    release.write(dest / "assignment.json", json.dumps(config, indent=2) + "\n")
    release.write(dest / "autograder.py", (FILES / "autograder.py").read_bytes())
    release.write(dest / "harness.py", (ROOT / "grader" / "harness.py").read_bytes())
    release.write(dest / "conftest.py", (release.TEMPLATE / "conftest.py").read_bytes())
    release.write(dest / "requirements.txt", "".join(f"{d}\n" for d in release.student_dependencies()))
    for path in visible_tests(assignment):
        release.write(dest / "tests" / path.name, path.read_bytes())
    return release.refuse_leaks(dest, assignments)


def write(assignment: Assignment, out: Path, assignments: list[Assignment]) -> Path:
    """`out/<id>/`: template/, runtime.json and autograder/, for `gh teacher assignment add`."""
    if not SLUG.fullmatch(assignment.id):
        raise ValueError(f"{assignment.id!r} cannot be a Classroom 50 assignment slug ({SLUG.pattern})")
    budget(assignment)  # before anything is written: one that cannot fit is refused whole
    folder = out / assignment.id
    release.fresh(folder)
    release.build_template(folder / "template", [assignment], preview_workflow=False)
    release.write(folder / "runtime.json", json.dumps(runtime(), indent=2) + "\n")
    build_bundle(assignment, folder / "autograder", assignments)
    return folder


def teacher_commands(assignment: Assignment, folder: Path, org: str, classroom: str, due: str) -> str:
    """The commands that register `assignment` with Classroom 50, in order (for the teacher's machine)."""
    template = f"{org}/template-{assignment.id}"  # not <classroom>-<slug>-*: that prefix names student repos
    config = folder.parent / "classroom50"
    return "\n".join([
        f"# {assignment.id}: the template repository (students never see this command)",
        f"(cd {folder}/template && git init -q -b main && git add -A && git commit -qm 'Template' &&",
        f"  gh repo create {template} --private --source . --push && gh repo edit {template} --template)",
        "# the preview autograder, in the org's config repository (Classroom 50 publishes it on Pages)",
        f"[ -d {config} ] || gh repo clone {org}/classroom50 {config}",
        f"mkdir -p {config}/{classroom}/autograders && rm -rf {config}/{classroom}/autograders/{assignment.id}",
        f"cp -r {folder}/autograder {config}/{classroom}/autograders/{assignment.id}",
        f"git -C {config} add -A && git -C {config} commit -qm '{assignment.id}: preview autograder' "
        f"&& git -C {config} push",
        f"gh teacher assignment add {org} {classroom} {assignment.id} --name {assignment.id} "
        f"--template {template} --due {due} --runtime {folder}/runtime.json --submission-mode tag",
        "",
    ])
