"""Self-tests of the course repository: shared helpers for grading submissions in tests."""
from __future__ import annotations

import contextlib
import copy
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from grader import course, lockdown, pipeline, sandbox
from grader.child import Limits
from grader.scoring import AssignmentResult
from grader.settings import Settings
from grader.student_process import Zygote, box_of

# Short enough that a hang or a stuck import costs seconds here, not minutes.
QUICK = Limits(import_seconds=5, grace=2, linger=1)


def assignment(id: str) -> course.Assignment:
    return next(a for a in course.CATALOGUE if a.id == id)


def grade(id: str, folder: Path, limits: Limits = QUICK, only=None) -> AssignmentResult:
    return pipeline.grade([assignment(id)], folder, limits=limits, only=only)[0]


@functools.cache
def graded(id: str, which: str) -> AssignmentResult:
    """The reference solution's or the skeleton's grade, once per session (per pytest-xdist
    worker: mark the tests that call it with `shares(id, which)`)."""
    folder = {"reference": course.SOLUTIONS, "skeleton": course.SKELETONS}[which]
    return grade(id, folder)


def answered_lab(released, source):
    """A student's notebook: the released one with every answer cell filled in from the source."""
    answers = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    notebook = copy.deepcopy(released)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "\n".join(line for line in answers[grade_id].source.splitlines()
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return notebook


def shares(id: str, which: str) -> pytest.MarkDecorator:
    """Tests that call graded(id, which) run on one pytest-xdist worker (`--dist loadgroup`),
    so that each grading is done once, not once per worker."""
    return pytest.mark.xdist_group(f"graded-{id}-{which}")


def each(which: str) -> list:
    """Every assignment as a parameter, each carrying its `shares(id, which)` mark."""
    return [pytest.param(id, marks=shares(id, which)) for id in ASSIGNMENTS]


def by_test(result: AssignmentResult) -> dict[str, float]:
    return {t.spec.nodeid: t.score for t in result.tests}


def function_of(nodeid_or_name: str) -> str:
    """'dir/test_x.py::test_y[3]' -> 'test_y'."""
    return nodeid_or_name.split("::")[-1].split("[")[0]


@pytest.fixture
def submission(tmp_path):
    """submission(id, module_text, files={name: text}) -> a folder laid out as PATH/<id>/<module>.

    `files` are placed beside the module; a name starting with '/' goes at the
    top of the submission folder instead.
    """

    def make(id: str, text: str, files: dict[str, str] | None = None) -> Path:
        folder = tmp_path / "submission"
        target = folder / id
        target.mkdir(parents=True, exist_ok=True)
        (target / assignment(id).module).write_text(text)
        for name, content in (files or {}).items():
            path = folder / name[1:] if name.startswith("/") else target / name
            path.write_text(content)
        return folder

    return make


@contextlib.contextmanager
def zygote_for(module: str, source: str, sealed: bool = True) -> Iterator[Zygote]:
    """A zygote for a box holding `module`.py with `source`, handed over as grading hands boxes over."""
    with tempfile.TemporaryDirectory(prefix="grader-test-") as folder:
        box = Path(folder) / module
        (box / "code").mkdir(parents=True)
        (box / "code" / f"{module}.py").write_text(source)
        sandbox.hand_over(box)
        uid = lockdown.student_uid(Settings.from_environment()) if sealed else None
        zygote = Zygote(box_of(box / "code", module, sealed, uid))
        try:
            yield zygote
        finally:
            zygote.close()


# As root: a mount namespace where the Python of this machine can be reached by anyone (a pyenv under
# /root, which only root may enter, is shown again over an empty /root), then the command as nobody
# (group root: the checkout is root's, 0750). An instructor's laptop, where Python is the user's own.
AS_NOBODY = """
mkdir -p /run/grader-python-view
mount --bind /root /run/grader-python-view
mount -t tmpfs -o mode=0755 tmpfs /root
for entry in /run/grader-python-view/.pyenv; do
  [ -e "$entry" ] && mkdir -p "/root/${entry##*/}" && mount --bind "$entry" "/root/${entry##*/}"
done
exec setpriv --reuid 65534 --regid 0 --clear-groups env HOME=/tmp "$@"
"""


def as_nobody(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `command` as an unprivileged user (see AS_NOBODY); skips the test where that cannot be done."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        pytest.skip("needs root (to become an unprivileged user), unshare and setpriv")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", AS_NOBODY, "sh",
                           *command], capture_output=True, text=True, timeout=timeout, cwd="/tmp")


ASSIGNMENTS = [a.id for a in course.available()]
