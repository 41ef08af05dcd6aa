"""The Gradescope autograder for one assignment: a .zip to upload to a programming assignment.

It holds Gradescope's two scripts (grader/authoring/gradescope/: `setup.sh` installs Python,
memcached and the grader; `run_autograder` grades the upload), the grader with that
assignment's hidden tests, and `gradescope.env`, which names the assignment and the
tests' visibility. No solution: the bundle is scanned and refused if a line of one
shows up in it.
"""
from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from grader.authoring.release import refuse, scan
from grader.course import ROOT, Assignment
from grader.formats.gradescope import VISIBILITIES

SCRIPTS = Path(__file__).with_name("gradescope")
EXECUTABLE = ("setup.sh", "run_autograder")


def contents(assignment: Assignment, visibility: str, unsealed: bool = False) -> dict[str, bytes]:
    """Every file of the bundle, by its path in the .zip; `unsealed`: it grades without the wall around
    student code (where Gradescope's container allows no namespace), and every result says so."""
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    files = {name: (SCRIPTS / name).read_bytes() for name in EXECUTABLE}
    files["gradescope.env"] = (f"ASSIGNMENT={assignment.id}\nVISIBILITY={visibility}\n"
                               f"UNSEALED={'1' if unsealed else ''}\n").encode()
    files["pyproject.toml"] = (ROOT / "pyproject.toml").read_bytes()
    files["README.md"] = (ROOT / "README.md").read_bytes()
    for path in sorted((ROOT / "grader").rglob("*")):
        rel = path.relative_to(ROOT)
        if not path.is_file() or "__pycache__" in rel.parts or rel.parts[:3] == ("grader", "authoring", "gradescope"):
            continue
        if rel.parts[:2] == ("grader", "hidden") and len(rel.parts) > 3 and rel.parts[2] != assignment.id:
            continue  # only this assignment's hidden tests
        files[rel.as_posix()] = path.read_bytes()
    files[f"solutions/{assignment.id}/.keep"] = b""  # marks the assignment as written, no solution inside
    return files


def leaks(files: dict[str, bytes], assignment: Assignment) -> list[str]:
    """Solution lines (or instructors' workflows) in the bundle's files; [] when none.

    The hidden tests are in the bundle on purpose and are not searched: a line they
    share with the reference (`result = function(*args)`) is theirs too.
    """
    with tempfile.TemporaryDirectory(prefix="bundle-") as folder:
        for name, data in files.items():
            if name.startswith("grader/hidden/"):
                continue
            path = Path(folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return scan(Path(folder), [assignment], hidden=True)


def build(assignment: Assignment, zip_path: Path, visibility: str = "after_due_date",
          unsealed: bool = False) -> list[str]:
    """Write the bundle to `zip_path`; raises release.LeakError, writing nothing, if a solution line is in it."""
    files = contents(assignment, visibility, unsealed)
    refuse(leaks(files, assignment), "the Gradescope bundle")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name in EXECUTABLE else 0o644) << 16
            z.writestr(info, data)
    return sorted(files)
