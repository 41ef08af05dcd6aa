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
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from grader.authoring import release
from grader.course import ROOT, Assignment

FILES = Path(__file__).with_name("classroom50_files")
RESULT_SCHEMA = FILES / "result.schema.json"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,38}")  # an assignment slug (wiki/gh-teacher.md, `assignment add`)
PYTHON = "3.12"
APT = ("memcached", "iproute2")  # the harness starts memcached from PATH; iproute2 has `ip`
POINTS_PER_TEST = 1
TEST_TIMEOUT = 120  # seconds, per visible test
TIMEOUT = 600  # seconds for all of them; Classroom 50's grade job stops at 15 minutes


def runtime() -> dict:
    return {"runs-on": "ubuntu-latest", "python": PYTHON, "apt": list(APT)}


def visible_tests(assignment: Assignment) -> list[Path]:
    return sorted(assignment.skeleton_dir.glob("test_*.py"))


def build_bundle(assignment: Assignment, dest: Path, assignments: list[Assignment]) -> list[Path]:
    """The autograder bundle: autograder.py, its settings, the visible tests, the harness. Scanned for leaks."""
    release.fresh(dest)
    config = {"id": assignment.id, "module": assignment.module, "services": list(assignment.services),
              "points_per_test": POINTS_PER_TEST, "test_timeout": TEST_TIMEOUT, "timeout": TIMEOUT}
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
