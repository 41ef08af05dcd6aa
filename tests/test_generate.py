"""assignments/ is exactly what generation makes from solutions/, and holds no secret."""
from __future__ import annotations

import ast
import importlib.util
import inspect
import shutil

import pytest
from conftest import ASSIGNMENTS, assignment

from grader import course
from grader.authoring import generate, release


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_skeletons_have_not_drifted(id):
    assert generate.drift(assignment(id)) == [], "run `grader generate` and commit assignments/"


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_data_the_hidden_tests_keep_is_the_handouts(id):
    """Hidden tests keep their own copy of a handout's data (the Gradescope bundle ships only grader/);
    a copy that drifted would grade against another list than the one the students see."""
    a = assignment(id)
    for kept in a.hidden_dir.iterdir():
        source = a.solution_dir / kept.name
        if kept.suffix not in (".py", "") and source.exists():
            assert kept.read_bytes() == source.read_bytes(), f"copy {source} to {kept}"


def test_no_solution_marker_or_hidden_test_reaches_assignments():
    """The same scan that guards the student template, over the committed skeletons."""
    assert release.scan(course.SKELETONS, course.available()) == []


def test_the_scan_would_see_a_model_answer_or_a_hidden_notebook_test(tmp_path):
    for a in course.available():
        notebook = a.solution_dir / "lab.ipynb"
        if notebook.exists():
            shutil.copy(notebook, tmp_path / f"{a.id}-lab.ipynb")
    if not list(tmp_path.iterdir()):
        pytest.skip("no lab notebooks yet")
    leaks = release.scan(tmp_path, course.available())
    assert any("marker" in leak for leak in leaks) and len(leaks) > 5


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


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_autograde_keeps_every_file_that_differs_from_the_release(id):
    """nbgrader autograde copies solutions/<id>/ over a submission except the files named here: anything
    else it copies must be exactly what students were given, or a reference would reach their feedback."""
    a = assignment(id)
    kept = generate.students_files(a)
    assert a.module in kept
    released = generate.render(a)
    for path in generate.sources(a):
        rel = path.relative_to(a.solution_dir)
        if path.suffix != ".ipynb" and rel.as_posix() not in kept:
            assert released[rel] == path.read_bytes(), rel
