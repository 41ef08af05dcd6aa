"""assignments/ is exactly what generation makes from solutions/, and holds no secret."""
from __future__ import annotations

import ast
import importlib.util
import inspect

import pytest
from conftest import ASSIGNMENTS, assignment

from grader import course, generate
from grader.stripping import has_markers


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_skeletons_have_not_drifted(id):
    assert generate.drift(assignment(id)) == [], "run `grader generate` and commit assignments/"


def _released_files():
    return [p for p in course.SKELETONS.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def test_no_marker_reaches_assignments():
    leaks = [str(p) for p in _released_files() if has_markers(p.read_text(errors="replace"))
             or "BEGIN SOLUTION" in p.read_text(errors="replace")]
    assert leaks == []


def _hidden_lines() -> set[str]:
    """Lines of the hidden tests long and particular enough that a copy would be a leak."""
    lines = set()
    for path in course.HIDDEN.rglob("test_*.py"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= 40 and not line.startswith(("#", "import ", "from ", '"""', "@pytest", "def ")):
                lines.add(line)
    return lines


def test_no_hidden_test_reaches_assignments():
    hidden_names = {p.name for p in course.HIDDEN.rglob("*.py")} - {"conftest.py"}
    released = _released_files()
    assert [p for p in released if p.name in hidden_names] == []
    secret = _hidden_lines()
    leaks = [(p.name, line.strip()) for p in released if p.suffix == ".py"
             for line in p.read_text().splitlines() if line.strip() in secret]
    assert leaks == []


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_skeleton_keeps_every_signature_and_docstring(id):
    a = assignment(id)
    reference = _load(a.solution_dir / a.module, f"reference_{a.module_name}")
    skeleton = _load(a.skeleton_dir / a.module, f"skeleton_{a.module_name}")
    for name, obj in vars(reference).items():
        if inspect.isfunction(obj) and obj.__module__ == reference.__name__:
            twin = getattr(skeleton, name, None)
            assert twin is not None, f"{name} is missing from the skeleton"
            assert inspect.signature(twin) == inspect.signature(obj), name
            assert inspect.getdoc(twin) == inspect.getdoc(obj), name


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_every_solution_region_is_inside_a_function(id):
    """A region at module level would leave a bare `raise` that stops the skeleton importing."""
    a = assignment(id)
    tree = ast.parse((a.skeleton_dir / a.module).read_text())
    assert not [node for node in tree.body if isinstance(node, ast.Raise)]
