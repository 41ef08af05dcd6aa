"""`grader generate`: the student skeletons in assignments/ are made, never edited.

Every file of solutions/<id>/ goes to assignments/<id>/; Python files lose their
solution regions on the way (see stripping.py), and notebooks are made by
nbgrader's generate_assignment (see notebooks.py). `drift` says how the committed
skeletons differ from a fresh generation, so a self-test can insist on none.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from grader.authoring import notebooks
from grader.authoring.stripping import has_markers, strip_solutions
from grader.course import Assignment

SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}


def sources(assignment: Assignment) -> list[Path]:
    root = assignment.solution_dir
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(root).parts)
                  and p.suffix != ".pyc")


def students_files(assignment: Assignment) -> list[str]:
    """The files of solutions/<id>/ whose student version is not the same file: the module and any .py
    with solution regions. Grading must use the student's copy of these, never the reference's."""
    written = {assignment.module}
    for path in sources(assignment):
        if path.suffix == ".py" and has_markers(path.read_text(encoding="utf-8")):
            written.add(path.relative_to(assignment.solution_dir).as_posix())
    return sorted(written)


def render(assignment: Assignment) -> dict[Path, bytes]:
    """What assignments/<id>/ must hold: relative path -> contents."""
    out = {}
    for path in sources(assignment):
        rel = path.relative_to(assignment.solution_dir)
        if path.suffix == ".py":
            out[rel] = strip_solutions(path.read_text(encoding="utf-8"), source=str(path)).encode("utf-8")
        elif path.suffix != ".ipynb":
            out[rel] = path.read_bytes()
    out.update(notebooks.student_notebooks(assignment))  # nbgrader's own generation
    return out


def write(assignment: Assignment) -> list[Path]:
    files = render(assignment)
    target = assignment.skeleton_dir
    if target.exists():
        shutil.rmtree(target)
    for rel, data in files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_bytes(data)
    return [target / rel for rel in files]


def drift(assignment: Assignment) -> list[str]:
    """One line per difference between assignments/<id>/ and a fresh generation."""
    wanted = render(assignment)
    target = assignment.skeleton_dir
    present = {p.relative_to(target) for p in target.rglob("*")
               if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(target).parts)} if target.exists() else set()
    lines = []
    for rel in sorted(wanted.keys() - present):
        lines.append(f"missing: {target / rel}")
    for rel in sorted(present - wanted.keys()):
        lines.append(f"not generated: {target / rel}")
    for rel in sorted(wanted.keys() & present):
        if (target / rel).read_bytes() != wanted[rel]:
            lines.append(f"differs: {target / rel}")
    return lines
