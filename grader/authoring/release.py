"""What leaves the instructors' repository: the student template and the published solutions
(the Gradescope autograder is grader/authoring/bundle.py's).

Both are built from the single source (solutions/) by the same generation as
assignments/, with the same tools around them (the harness plugin, its conftest, a
pyproject), so a student runs the visible tests in either the same way. Each is then
scanned, and refused if anything could be found in it that must not be: a solution line
or marker in the template, a hidden test or an instructor's workflow in either.
"""
from __future__ import annotations

import json
import string
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader.authoring import generate, workflows
from grader.authoring.stripping import HIDDEN_TESTS, SOLUTION, drop_markers, has_markers, region_lines
from grader.course import HIDDEN, ROOT, Assignment

TEMPLATE = Path(__file__).with_name("student_template")
STUDENT_DEPENDENCIES = {"pytest", "pytest-timeout", "hypothesis", "pymemcache", "pyzmq", "mirakuru"}
INSTRUCTOR_WORKFLOWS = ("grade.yml", "ci.yml")
PREVIEW_WORKFLOW = "classroom.yml"  # never autograde.yaml: Classroom 50's shim has that name
CLASSROOM50_SHIM = "autograde.yaml"


class LeakError(RuntimeError):
    """Something secret would have reached students."""


def refuse(leaks: list[str], what: str) -> None:
    """Raise LeakError listing `leaks`, if there are any."""
    if leaks:
        raise LeakError(f"{what} would leak:\n" + "\n".join(leaks))


def fresh(dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty: choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)


def student_dependencies() -> list[str]:
    """Our dependencies that students need too, with our version bounds."""
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [d for d in ours["dependencies"] if canonicalize_name(Requirement(d).name) in STUDENT_DEPENDENCIES]


def student_pyproject() -> str:
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = "".join(f'    "{d}",\n' for d in student_dependencies())
    return string.Template((TEMPLATE / "pyproject.toml.in").read_text()).substitute(
        requires_python=ours["requires-python"], dependencies=deps)


def assignments_table(assignments: list[Assignment]) -> str:
    rows = ["| assignment | you write | handout |", "|---|---|---|"]
    rows += [f"| `{a.id}` | `{a.module}` | [assignments/{a.id}/README.md](assignments/{a.id}/README.md) |"
             for a in assignments]
    return "\n".join(rows)


def tools(dest: Path) -> None:
    """What runs the visible tests: the harness plugin (real memcached), its conftest, a pyproject."""
    write(dest / "harness.py", (ROOT / "grader" / "harness.py").read_bytes())
    write(dest / "conftest.py", (TEMPLATE / "conftest.py").read_bytes())
    write(dest / ".gitignore", (TEMPLATE / "gitignore").read_bytes())
    write(dest / "pyproject.toml", student_pyproject())
    write(dest / "docs" / "contract.md", (ROOT / "docs" / "contract.md").read_bytes())  # the handouts link it


def build_template(dest: Path, assignments: list[Assignment], preview_workflow: bool = True) -> list[Path]:
    """The repository each student's is made from (by Classroom 50, by hand, or formerly GitHub Classroom).

    Without `preview_workflow`, no `.github/` at all: under Classroom 50 its own runner gives
    the preview (see classroom50.py). Never `.github/workflows/autograde.yaml`, the name
    Classroom 50's accept writes its shim under."""
    fresh(dest)
    for assignment in assignments:
        for rel, data in generate.render(assignment).items():
            write(dest / "assignments" / assignment.id / rel, data)
    tools(dest)
    write(dest / "README.md", (TEMPLATE / "README.md").read_text().replace("{assignments}",
                                                                          assignments_table(assignments)))
    if preview_workflow:
        header = "# The preview score on every push: the visible tests of each assignment (made by `grader release`).\n"
        write(dest / ".github" / "workflows" / PREVIEW_WORKFLOW,
              workflows.dump(workflows.student_workflow(assignments), header))
    return refuse_leaks(dest, assignments)


def refuse_leaks(dest: Path, assignments: list[Assignment]) -> list[Path]:
    """Every file of `dest`, once `scan` finds nothing there; else LeakError."""
    refuse(scan(dest, assignments), str(dest))
    return sorted(p for p in dest.rglob("*") if p.is_file())


# -- what must never reach students -------------------------------------------------


def _particular(line: str, length: int = 24) -> bool:
    line = line.strip()
    return len(line) >= length and not line.startswith("#")


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
        found |= {line.strip() for line in region_lines(path.read_text().splitlines(), SOLUTION) if _particular(line)}
    for cell in _notebook_cells(assignment):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        lines = "".join(cell.get("source", "")).splitlines()
        if meta.get("solution") and cell.get("cell_type") == "markdown":
            found |= {line.strip() for line in lines if _particular(line)}  # a model answer, all of it
        elif meta.get("solution"):
            found |= {line.strip() for line in region_lines(lines, SOLUTION) if _particular(line)}
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
        found |= {line.strip() for line in region_lines(lines, HIDDEN_TESTS) if _particular(line, 12)}
    return found


def _source_lines(assignment: Assignment) -> set[str]:
    """The lines of the assignment's single source that are published after the deadline:
    all of them but a notebook's hidden tests."""
    found = set()
    for path in generate.sources(assignment):
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":
            for cell in json.loads(text).get("cells", []):
                lines = "".join(cell.get("source", "")).splitlines()
                found |= {line.strip() for line in lines} - {line.strip() for line in region_lines(lines, HIDDEN_TESTS)}
        else:
            found |= {line.strip() for line in text.splitlines()}
    return found


def scan(folder: Path, assignments: list[Assignment], *, solutions: bool = False, hidden: bool = False) -> list[str]:
    """Every place in `folder` where a secret shows; [] when none.

    Secrets are solution lines and markers, hidden tests, instructors' workflows; the
    published solutions may hold `solutions`, a Gradescope bundle `hidden` tests (and
    the grader's code, which names the markers).
    """
    secret: set[str] = set()
    for a in assignments:
        if not solutions:
            secret |= _solution_lines(a)
        if not hidden:  # a line the reference shares with a hidden test is published with the reference
            secret |= _hidden_lines(a) - (_source_lines(a) if solutions else set())
    hidden_files = set() if hidden else {p.name for a in assignments for p in (HIDDEN / a.id).rglob("test_*.py")}
    leaks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if path.name in hidden_files:
            leaks.append(f"{rel}: a hidden test file")
        if path.name in INSTRUCTOR_WORKFLOWS and ".github" in rel.parts:
            leaks.append(f"{rel}: an instructor's workflow")
        if path.name == CLASSROOM50_SHIM and ".github" in rel.parts:
            leaks.append(f"{rel}: Classroom 50 writes its own workflow under this name at accept")
        text = path.read_text(errors="replace")
        lines = _cell_lines(text) if path.suffix == ".ipynb" else text.splitlines()
        if not hidden and (has_markers(text) or any(has_markers(line) for line in lines)):
            leaks.append(f"{rel}: a solution or hidden-test marker")
        leaks += [f"{rel}: {line!r}" for line in lines if line.strip() in secret]
    return leaks


# -- after the deadline ---------------------------------------------------------------


def build_solutions(dest: Path, assignments: list[Assignment]) -> list[Path]:
    """The reference solutions for publishing, laid out as a student's repository: modules without
    markers, handouts, visible tests and lab notebooks, and the tools that run those tests."""
    fresh(dest)
    for assignment in assignments:
        for path in generate.sources(assignment):
            rel = path.relative_to(assignment.solution_dir)
            data = path.read_bytes()
            if path.suffix == ".py":
                data = drop_markers(data.decode(), source=str(path)).encode()
            elif path.suffix == ".ipynb":
                data = _published_notebook(path)
            write(dest / "assignments" / assignment.id / rel, data)
    tools(dest)
    write(dest / "README.md", SOLUTIONS_README.replace("{assignments}", assignments_table(assignments)))
    refuse(scan(dest, assignments, solutions=True), "the solutions")
    return sorted(p for p in dest.rglob("*") if p.is_file())


SOLUTIONS_README = """\
# Solutions

The reference solutions of the course's assignments, each beside its handout, its
visible tests and its lab notebook, laid out as your own repository is.

{assignments}

To run the visible tests (they start their own memcached servers: install memcached
first), in this folder:

    python3 -m venv .venv && . .venv/bin/activate && pip install -e .
    pytest                          # or one assignment: pytest assignments/<id>
"""
