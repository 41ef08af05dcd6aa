"""A throwaway folder per graded assignment, holding copies of everything the tests run.

Grading never runs in the submission folder or in the course repository: the hidden
tests are copied in (so student code cannot edit them for the next student), and
only the student's Python modules are copied beside them, without any file that
pytest or Python would act on by itself (conftest.py, pytest.ini, sitecustomize...).

The student's modules go into a box of their own (`box/code`): the only folder of
ours that the wall around student processes shows them (wall.py); the hidden tests
beside it are never shown.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.course import HIDDEN, Assignment

# Files that configure pytest or Python just by being there: never copied.
IGNORED = {"conftest.py", "sitecustomize.py", "usercustomize.py", "pytest.ini", "pyproject.toml",
           "setup.cfg", "setup.py", "tox.ini", "__pycache__"}

INI = """\
[pytest]
addopts = -p no:cacheprovider -p no:stepwise -q --no-header --tb=short
timeout = {timeout}
timeout_method = signal
markers =
    points(n): how many points a hidden test is worth
"""
DEFAULT_TIMEOUT = 30  # seconds a hidden test may take unless it says otherwise (@pytest.mark.timeout)


@dataclass(frozen=True)
class Sandbox:
    root: Path
    tests: Path  # the assignment's hidden tests, below the shared hidden conftest
    student: Path | None  # the student's modules (box/code); None when the module was not found
    work: Path  # the current directory of every child process
    home: Path
    ini: Path


def _student_files(directory: str, names: list[str]) -> set[str]:
    base = Path(directory)
    return {n for n in names
            if n in IGNORED or n.startswith(".") or (base / n).is_symlink()
            or ((base / n).is_file() and not n.endswith(".py"))}


def build(assignment: Assignment, module: Path | None, root: Path) -> Sandbox:
    """The sandbox of one assignment's grading in the new folder `root`."""
    root.mkdir(parents=True)
    tests = root / "tests"
    tests.mkdir()
    for shared in HIDDEN.glob("*.py"):
        shutil.copy2(shared, tests / shared.name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(assignment.hidden_dir, tests / assignment.id, ignore=ignore)
    student = None
    if module is not None:
        student = root / "box" / "code"
        shutil.copytree(module.parent, student, ignore=_student_files)
        if module.name != assignment.module:  # Squares.py: imported as the contract names it
            (student / module.name).rename(student / assignment.module)
        hand_over(student.parent)
    work, home = root / "work", root / "home"
    work.mkdir()
    home.mkdir()
    ini = root / "pytest.ini"
    ini.write_text(INI.format(timeout=DEFAULT_TIMEOUT))
    return Sandbox(root=root, tests=tests, student=student, work=work, home=home, ini=ini)


def hand_over(box: Path) -> None:
    """Make the box readable by anyone (the student uid, as root): it holds only the submission's
    .py files, and only its own sandbox shows it. `home` is the scratch of a student process
    graded without a wall (--unsealed)."""
    (box / "home").mkdir(exist_ok=True)
    for path in [box, *box.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
