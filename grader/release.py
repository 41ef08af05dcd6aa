"""What leaves the instructors' repository: the student template, the published solutions,
and a Gradescope autograder bundle.

The template and the solutions are built from the single source (solutions/) by the
same generation as assignments/; the template is then scanned, and refused if any
solution line, marker, hidden test or instructor workflow could be found in it.
"""
from __future__ import annotations

import json
import shutil
import tomllib
import zipfile
from pathlib import Path

from grader import generate, workflows
from grader.course import HIDDEN, ROOT, Assignment
from grader.stripping import _MARKER, drop_markers

TEMPLATE = Path(__file__).with_name("student_template")
STUDENT_DEPENDENCIES = {"pytest", "pytest-timeout", "hypothesis", "pymemcache", "pyzmq", "mirakuru"}
INSTRUCTOR_WORKFLOWS = ("grade.yml", "ci.yml")


class LeakError(RuntimeError):
    """Something secret would have reached students."""


def _fresh(dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty: choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)


def student_pyproject() -> str:
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [d for d in ours["dependencies"] if d.split(">")[0].split("<")[0].split("=")[0] in STUDENT_DEPENDENCIES]
    deps = "".join(f'    "{d}",\n' for d in wanted)
    return f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "caches-and-queues-student"
version = "1.0"
description = "A student's work on the course's assignments"
requires-python = "{ours["requires-python"]}"
dependencies = [
{deps}]

[project.optional-dependencies]
lab = [  # the lab notebooks: pip install -e '.[lab]', then jupyter lab
    "jupyterlab>=4,<5",
    "matplotlib>=3.8,<4",
]

[tool.setuptools]
packages = []
py-modules = []

[tool.pytest.ini_options]
testpaths = ["assignments"]
timeout = 300
'''


def assignments_table(assignments: list[Assignment]) -> str:
    rows = ["| assignment | you write | handout |", "|---|---|---|"]
    rows += [f"| `{a.id}` | `{a.module}` | [assignments/{a.id}/README.md](assignments/{a.id}/README.md) |"
             for a in assignments]
    return "\n".join(rows)


def build_template(dest: Path, assignments: list[Assignment]) -> list[Path]:
    """The repository GitHub Classroom copies for each student."""
    _fresh(dest)
    for assignment in assignments:
        for rel, data in generate.render(assignment).items():
            _write(dest / "assignments" / assignment.id / rel, data)
    _write(dest / "harness.py", (ROOT / "grader" / "harness.py").read_bytes())
    _write(dest / "conftest.py", (TEMPLATE / "conftest.py").read_bytes())
    _write(dest / ".gitignore", (TEMPLATE / "gitignore").read_bytes())
    _write(dest / "README.md", (TEMPLATE / "README.md").read_text().replace("{assignments}",
                                                                           assignments_table(assignments)))
    _write(dest / "pyproject.toml", student_pyproject())
    header = "# The preview score on every push: the visible tests of each assignment (made by `grader release`).\n"
    _write(dest / ".github" / "workflows" / "classroom.yml",
           workflows.dump(workflows.student_workflow(assignments), header))
    leaks = scan(dest, assignments)
    if leaks:
        raise LeakError("the template would leak:\n" + "\n".join(leaks))
    return sorted(p for p in dest.rglob("*") if p.is_file())


# -- what must never reach students -------------------------------------------------


def _particular(line: str, length: int = 24) -> bool:
    line = line.strip()
    return len(line) >= length and not line.startswith("#")


def _region_lines(lines: list[str], kind: str) -> list[str]:
    """The lines between BEGIN and END markers of `kind` ('SOLUTION' or 'HIDDEN TESTS')."""
    found, inside = [], False
    for line in lines:
        match = _MARKER.match(line)
        if match and match["kind"] == kind:
            inside = match["edge"] == "BEGIN"
        elif inside:
            found.append(line)
    return found


def _cell_lines(text: str) -> list[str]:
    """Every line of every cell of a notebook (its JSON would hide them behind quotes)."""
    try:
        cells = json.loads(text).get("cells", [])
    except ValueError:
        return text.splitlines()
    return [line for cell in cells for line in "".join(cell.get("source", "")).splitlines()]


def _published_notebook(path: Path) -> bytes:
    """A lab notebook with its solutions in place, their markers gone, and the hidden tests kept out."""
    notebook = json.loads(path.read_text())
    for cell in notebook.get("cells", []):
        cell["source"] = drop_markers("".join(cell.get("source", "")), source=str(path))
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()


def _notebook_cells(assignment: Assignment) -> list[dict]:
    cells = []
    for path in assignment.solution_dir.rglob("*.ipynb"):
        cells += json.loads(path.read_text()).get("cells", [])
    return cells


def _solution_lines(assignment: Assignment) -> set[str]:
    """Lines of solution regions (and of model answers) particular enough to recognise anywhere."""
    found = set()
    for path in assignment.solution_dir.rglob("*.py"):
        found |= {l.strip() for l in _region_lines(path.read_text().splitlines(), "SOLUTION") if _particular(l)}
    for cell in _notebook_cells(assignment):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        lines = "".join(cell.get("source", "")).splitlines()
        if meta.get("solution") and cell.get("cell_type") == "markdown":
            found |= {l.strip() for l in lines if _particular(l)}  # a model answer, all of it
        elif meta.get("solution"):
            found |= {l.strip() for l in _region_lines(lines, "SOLUTION") if _particular(l)}
    return found


def _hidden_lines(assignment: Assignment) -> set[str]:
    found = set()
    for path in (HIDDEN / assignment.id).rglob("test_*.py"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= 40 and not line.startswith(("#", "import ", "from ", '"""', "@pytest", "def ")):
                found.add(line)
    for cell in _notebook_cells(assignment):
        lines = "".join(cell.get("source", "")).splitlines()
        found |= {l.strip() for l in _region_lines(lines, "HIDDEN TESTS") if _particular(l, 12)}
    return found


def scan(folder: Path, assignments: list[Assignment]) -> list[str]:
    """Every place in `folder` where a solution, a marker or a hidden test shows; [] when none."""
    secret = set().union(*(_solution_lines(a) | _hidden_lines(a) for a in assignments))
    hidden_files = {p.name for a in assignments for p in (HIDDEN / a.id).rglob("test_*.py")}
    leaks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if path.name in hidden_files:
            leaks.append(f"{rel}: a hidden test file")
        if path.name in INSTRUCTOR_WORKFLOWS and ".github" in rel.parts:
            leaks.append(f"{rel}: an instructor's workflow")
        text = path.read_text(errors="replace")
        lines = _cell_lines(text) if path.suffix == ".ipynb" else text.splitlines()
        if "BEGIN SOLUTION" in text or "BEGIN HIDDEN TESTS" in text or any(_MARKER.match(l) for l in text.splitlines()):
            leaks.append(f"{rel}: a solution or hidden-test marker")
        leaks += [f"{rel}: {line!r}" for line in lines if line.strip() in secret]
    return leaks


# -- after the deadline ---------------------------------------------------------------


def build_solutions(dest: Path, assignments: list[Assignment]) -> list[Path]:
    """The reference solutions for publishing: modules without markers, handouts, visible tests."""
    _fresh(dest)
    index = ["# Solutions", "", "The reference solutions of the course's assignments, with their handouts.", ""]
    for assignment in assignments:
        for path in generate.sources(assignment):
            rel = path.relative_to(assignment.solution_dir)
            data = path.read_bytes()
            if path.suffix == ".py":
                data = drop_markers(data.decode(), source=str(path)).encode()
            elif path.suffix == ".ipynb":
                data = _published_notebook(path)
            _write(dest / assignment.id / rel, data)
        index.append(f"- [`{assignment.id}/{assignment.module}`]({assignment.id}/{assignment.module})")
    _write(dest / "README.md", "\n".join(index) + "\n")
    return sorted(p for p in dest.rglob("*") if p.is_file())


# -- Gradescope ------------------------------------------------------------------------

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q memcached iproute2 iptables python3 python3-venv
# student code runs as a user of its own that may not read the autograder (grader/lockdown.py)
id grader-student >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin grader-student
chmod o-rwx /autograder/source
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  apt-get install -y -q python3.11 python3.11-venv
  PY=python3.11
fi
cd /autograder/source
"$PY" -m venv .venv
.venv/bin/pip install -q -e .
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission; the grade goes to /autograder/results/results.json.
# (AUTOGRADER_ROOT and GRADER exist so that the course's self-tests can run this script too.)
set -uo pipefail
root=${{AUTOGRADER_ROOT:-/autograder}}
cd "$root/source"
submission=$root/submission
if [ -f "$submission/{module}" ]; then  # the module uploaded on its own (with any helpers beside it)
  staged=$(mktemp -d)
  mkdir -p "$staged/{id}"
  cp "$submission"/*.py "$staged/{id}/"
  submission=$staged
fi
mkdir -p "$root/results"
${{GRADER:-.venv/bin/grader}} grade {id} --submission "$submission" --results "$root/results/results.json" \\
  || printf '{{"score": 0, "output": "Grading could not run: the autograder log says why.", "tests": []}}\\n' \\
       > "$root/results/results.json"
"""


def build_gradescope_bundle(assignment: Assignment, zip_path: Path) -> list[str]:
    """The autograder .zip to upload to a Gradescope assignment (programming, with autograder)."""
    files: dict[str, bytes] = {
        "setup.sh": SETUP_SH.encode(),
        "run_autograder": RUN_AUTOGRADER.format(id=assignment.id, module=assignment.module).encode(),
        "pyproject.toml": (ROOT / "pyproject.toml").read_bytes(),
        "README.md": (ROOT / "README.md").read_bytes(),
    }
    for path in sorted((ROOT / "grader").rglob("*")):
        rel = path.relative_to(ROOT)
        if not path.is_file() or "__pycache__" in rel.parts:
            continue
        if rel.parts[:2] == ("grader", "hidden") and len(rel.parts) > 3 and rel.parts[2] != assignment.id:
            continue  # only this assignment's hidden tests
        files[str(rel)] = path.read_bytes()
    files[f"solutions/{assignment.id}/.keep"] = b""  # marks the assignment as written, no solution inside
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            z.writestr(info, data)
    return sorted(files)
