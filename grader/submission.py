"""Find the student's module in a submission folder, and read it for things to review.

Only the module file is the student's work (docs/contract.md). Students hand it in in
many shapes, and each is accepted, in this order of preference:

1. `assignments/<id>/<module>`: a clone of their repository;
2. `<id>/<module>`;
3. `<module>`: the file uploaded on its own;
4. any of these inside one top folder of any name: a zip of the repository folder
   (GitHub's "Download ZIP" unpacks to `<repo>-main/`).

Names match in any case (`Squares.py`, `01-Cache-Aside/`), the exact name first.
The first layout that holds the module wins, and when others hold one too, the note
says which was graded and which were not. Never accepted: a symbolic link, or a path
through one (it could point at anything on the grading machine), and two equally good
candidates (two top folders, or `Squares.py` beside `SQUARES.py`): the student is
told which files to keep.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import Assignment

# Folders that archivers and tools add and no student means: never searched.
_NOT_THEIRS = re.compile(r"^(\.|__MACOSX$|__pycache__$|node_modules$)")


@dataclass(frozen=True)
class Found:
    """Where the module is (None when nowhere acceptable), and what to tell the student about it."""

    module: Path | None
    notes: list[str] = field(default_factory=list)
    problem: str = ""  # why there is no module, and what to upload instead


def layouts(assignment: Assignment) -> list[tuple[str, ...]]:
    """The accepted places of the module below the submission (or its one top folder), best first."""
    return [("assignments", assignment.id, assignment.module), (assignment.id, assignment.module),
            (assignment.module,)]


def candidates(submission: Path, assignment: Assignment) -> list[Path]:
    """The module's usual paths in a repository-shaped submission, best first."""
    return [submission.joinpath(*layout) for layout in layouts(assignment)[:2]]


def _children(folder: Path, name: str) -> list[Path]:
    """Entries of `folder` called `name` in any case; [] when it cannot be read."""
    try:
        return sorted(p for p in folder.iterdir() if p.name.lower() == name.lower())
    except OSError:
        return []


def _walk(folder: Path, parts: tuple[str, ...]) -> list[Path]:
    """Every path below `folder` that spells `parts` in any case; a link ends the walk (judged later)."""
    if not parts:
        return [folder]
    found = []
    for child in _children(folder, parts[0]):
        if child.is_symlink() or len(parts) == 1:
            found.append(child)
        elif child.is_dir():
            found += _walk(child, parts[1:])
    return found


def _top_folders(submission: Path) -> list[Path]:
    try:
        return sorted(p for p in submission.iterdir() if p.is_dir() and not _NOT_THEIRS.match(p.name))
    except OSError:
        return []


def _through_link(path: Path, submission: Path) -> bool:
    """Whether `path`, or a folder on the way to it from `submission`, is a symbolic link."""
    while path != submission:
        if path.is_symlink():
            return True
        path = path.parent
    return False


def _shown(paths: list[Path], submission: Path) -> str:
    return ", ".join(p.relative_to(submission).as_posix() for p in paths)


def _pick(rank: list[Path], module: str) -> list[Path]:
    """The one best file of a rank, or all the equally good ones (then it is ambiguous)."""
    folders = sorted({p.parent for p in rank})
    if len(folders) > 1:
        return rank  # two folders, each with a module: which did the student mean?
    exact = [p for p in rank if p.name == module]
    return exact or rank  # the exact name is what `import` finds beside the others


def find(submission: Path, assignment: Assignment) -> Found:
    """The module of `assignment` in `submission`, chosen as the module docstring says."""
    tops = _top_folders(submission)
    ranks = [_walk(submission, layout) for layout in layouts(assignment)]
    ranks += [[p for top in tops for p in _walk(top, layout)] for layout in layouts(assignment)]
    seen: dict[Path, None] = {}  # every candidate once, in rank order
    for p in (p for rank in ranks for p in rank):
        seen.setdefault(p)
    links = [p for p in seen if _through_link(p, submission)]
    files = [p for p in seen if p not in links and p.is_file()]
    links_note = f"Symbolic links are never graded (upload the file itself): {_shown(links, submission)}."
    for rank in ranks:
        best = _pick([p for p in rank if p in files], assignment.module)
        if len(best) > 1:
            return Found(None, problem=f"{assignment.module} is ambiguous: the submission holds "
                                       f"{_shown(best, submission)}. Keep one of them and submit again.")
        if best:
            chosen, others = best[0], [p for p in files if p != best[0]]
            notes = [f"graded {_shown([chosen], submission)}; also found, not graded: {_shown(others, submission)}"
                     ] if others else []
            return Found(chosen, notes + ([links_note] if links else []))
    return Found(None, problem=missing(submission, assignment) + (" " + links_note if links else ""))


def missing(submission: Path, assignment: Assignment) -> str:
    """What to upload, when the module is nowhere to be found."""
    a = assignment
    message = (f"{a.module} was not found in the submission. Upload the file {a.module} itself, or your "
               f"repository (a clone, a zip of it, or from GitHub) with it at assignments/{a.id}/{a.module}. "
               f"Accepted: {a.module}, {a.id}/{a.module} or assignments/{a.id}/{a.module}, at the top or "
               "inside one folder.")
    python = sorted((p for p in submission.rglob("*.py")
                     if not any(_NOT_THEIRS.match(part) for part in p.relative_to(submission).parts)),
                    key=lambda p: p.relative_to(submission).as_posix())
    if python:
        message += (" Python files found instead: " + _shown(python[:5], submission)
                    + (" ..." if len(python) > 5 else ""))
    return message


def locate(submission: Path, assignment: Assignment) -> Path | None:
    """The module file itself, or None (see `find` for why)."""
    return find(submission, assignment).module


# Student code has no business with the test machinery. A match is not a
# verdict (the score is counted outside the student's reach either way), only a
# line in the feedback that an instructor may want to read the module.
_SUSPECT = re.compile(r"\b(_pytest|pytest|pluggy|hypothesis|grader|GRADER_\w+|sys\._getframe|gc\.get_objects)\b")


def review_flags(module: Path) -> list[str]:
    found: set[str] = set()
    for path in sorted(module.parent.rglob("*.py")):
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue  # never loaded by grading
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found.update(m.group(1) for m in _SUSPECT.finditer(text))
    if not found:
        return []
    return [f"{module.name} (or a helper beside it) refers to {', '.join(sorted(found))}: "
            "flagged for the instructor to review"]
