"""Every hidden test catches a realistic mistake, and every listed mistake loses points;
every correct alternative to a reference earns full marks.

The wrong submissions live in tests/wrong_<module>.py, one Variant each, in WRONG;
correct implementations other than the reference's, where the contract leaves the
algorithm open, in RIGHT.
"""
from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

import pytest
from conftest import ASSIGNMENTS, assignment, function_of, grade

from grader import pipeline
from grader.scoring import NOT_RUN

MODULES = [importlib.import_module(path.stem) for path in sorted(Path(__file__).parent.glob("wrong_*.py"))]
VARIANTS = [variant for module in MODULES for variant in module.WRONG]
ALTERNATIVES = [variant for module in MODULES for variant in getattr(module, "RIGHT", ())]


# First, being full gradings (up to a minute and a half each): pytest-xdist hands tests out
# in this order, and a worker busy with one at the very end would keep the other idle.
@pytest.mark.parametrize("variant", [v for v in ALTERNATIVES if v.assignment in ASSIGNMENTS],
                         ids=lambda v: f"{v.assignment}:{v.name}")
def test_correct_alternative_earns_full_marks(variant, submission):
    """The hidden tests accept every implementation the contract allows, not only the reference's."""
    result = grade(variant.assignment, submission(variant.assignment, variant.source()))
    lost = {t.spec.name: f"{t.outcome.status}: {t.outcome.reason}" for t in result.tests if t.score < t.spec.points}
    assert lost == {}, f"{variant.name} ({variant.mistake}) lost points"
    assert result.score == result.max_score > 0


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.assignment in ASSIGNMENTS],
                         ids=lambda v: f"{v.assignment}:{v.name}")
def test_wrong_submission_loses_points(variant, submission):
    folder = submission(variant.assignment, variant.source())
    result = grade(variant.assignment, folder, only=lambda spec: function_of(spec.nodeid) in variant.catches)
    assert not any("import" in note for note in result.notes), f"{variant.name} does not import: {result.notes}"
    for name in variant.catches:
        tests = [t for t in result.tests if function_of(t.spec.nodeid) == name]
        assert tests, f"{variant.name} names {name}, which is not a hidden test of {variant.assignment}"
        assert all(t.outcome.status != NOT_RUN for t in tests), [t.outcome for t in tests]
        assert sum(t.score for t in tests) < sum(t.spec.points for t in tests), (
            f"{name} did not catch {variant.name} ({variant.mistake})")


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_every_hidden_test_catches_some_wrong_submission(id):
    hidden = {function_of(spec.nodeid) for spec in pipeline.manifest_of(assignment(id))}
    caught = {name for v in VARIANTS if v.assignment == id for name in v.catches}
    assert hidden - caught == set(), "hidden tests with no wrong submission that they catch"
    assert caught - hidden == set(), "wrong submissions naming tests that do not exist"


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_hidden_test_functions_have_distinct_names(id):
    """Variants name the tests they expect to fail by function name, so names must be unique."""
    functions = {spec.nodeid.split("[")[0] for spec in pipeline.manifest_of(assignment(id))}
    names = Counter(function.split("::")[-1] for function in functions)
    assert [name for name, count in names.items() if count > 1] == []
