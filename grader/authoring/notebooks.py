"""The lab notebooks, through nbgrader: the student version of each, and the .py files beside them.

nbgrader's own GenerateAssignment makes the student notebooks (solutions and hidden
tests cleared, cells locked, checksums computed), so `grader generate` and
`nbgrader generate_assignment` write the same files. nbgrader copies every other
file verbatim, which for a .py file would publish its solution regions: the
post-convert hook below strips them.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from grader.authoring.stripping import MarkerError, strip_solutions
from grader.course import CATALOGUE, ROOT, SKELETONS, Assignment

log = logging.getLogger("grader.authoring.notebooks")


class NotebooksUnavailable(RuntimeError):
    """nbgrader is not installed: the notebooks extra is missing."""


def _nbgrader():
    try:
        from nbgrader.converters import GenerateAssignment
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config
    except ImportError as exc:
        raise NotebooksUnavailable("the lab notebooks need nbgrader: pip install -e '.[notebooks]' "
                                   f"(or run setup.sh) ({exc})") from exc
    return GenerateAssignment, CourseDirectory, Config


def student_notebooks(assignment: Assignment, db_url: str | None = None, course_id: str = "") -> dict[Path, bytes]:
    """The student version of every notebook of `assignment`: relative path -> contents.

    With `db_url`, nbgrader also records the notebooks' graded cells in that gradebook,
    as `nbgrader generate_assignment` does, without touching assignments/.
    """
    notebooks = sorted(assignment.solution_dir.rglob("*.ipynb"))
    notebooks = [p for p in notebooks if ".ipynb_checkpoints" not in p.parts]
    if not notebooks:
        return {}
    GenerateAssignment, CourseDirectory, Config = _nbgrader()
    with tempfile.TemporaryDirectory(prefix="grader-notebooks-") as out:
        config = Config()
        config.CourseDirectory.root = str(ROOT)
        config.CourseDirectory.source_directory = "solutions"
        config.CourseDirectory.release_directory = out
        config.CourseDirectory.assignment_id = assignment.id
        if db_url is None:
            config.GenerateAssignment.no_database = True  # as `--no-db` does: the gradebook is the instructor's
            config.SaveCells.enabled = False
        config.CourseDirectory.db_url = db_url or f"sqlite:///{out}/unused.db"  # some steps open it all the same
        config.CourseDirectory.course_id = course_id
        converter = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
        converter.log.setLevel(logging.WARNING)
        converter.start()
        released = Path(out) / assignment.id
        return {p.relative_to(released): p.read_bytes() for p in sorted(released.rglob("*.ipynb"))}


def _release_dir(assignment_id: str) -> Path:
    """Where the running nbgrader app released to (its configuration may move it), else assignments/<id>."""
    try:
        from traitlets.config import Application
        coursedir = getattr(Application.instance(), "coursedir", None) if Application.initialized() else None
        if coursedir is not None:
            return Path(coursedir.format_path(coursedir.release_directory, ".", assignment_id))
    except Exception:  # noqa: BLE001 - any trouble finding the app means the default layout
        pass
    return SKELETONS / assignment_id


def strip_released_modules(assignment: str, student: str, notebooks, **_) -> None:
    """nbgrader's post-convert hook for generate_assignment: strip the .py files it copied.

    nbgrader swallows a hook's exceptions, so this one fails closed: if any file
    cannot be stripped, every .py file of the release is removed.
    """
    ids = [a.id for a in CATALOGUE] if assignment in ("*", "", None) else [assignment]
    for id in ids:
        released = _release_dir(id)
        modules = sorted(released.rglob("*.py")) if released.is_dir() else []
        try:
            stripped = {path: strip_solutions(path.read_text(encoding="utf-8"), source=str(path)) for path in modules}
        except (MarkerError, OSError, UnicodeDecodeError):
            for path in modules:
                path.unlink(missing_ok=True)
            log.error("could not strip the solutions from %s: removed every .py file there", released)
            raise
        for path, text in stripped.items():
            path.chmod(0o644)
            path.write_text(text, encoding="utf-8")
