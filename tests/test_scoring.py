"""Scores come from the manifest: only listed tests that passed earn points."""
from grader.scoring import CRASHED, FAILED, NOT_RUN, PASSED, TIMED_OUT, Outcome, TestSpec, score


def spec(name, points=2.0):
    return TestSpec(nodeid=f"t.py::{name}", name=name, description="", points=points, timeout=10)


MANIFEST = [spec("a", 3), spec("b"), spec("c"), spec("d"), spec("e", 1.5)]


def test_only_passed_tests_listed_in_the_manifest_earn_points():
    outcomes = {
        "t.py::a": Outcome(PASSED),
        "t.py::b": Outcome(FAILED, "assert"),
        "t.py::c": Outcome(TIMED_OUT),
        "t.py::d": Outcome(NOT_RUN, "skipped"),
        "t.py::student_added": Outcome(PASSED),
    }
    results = score(MANIFEST, outcomes)
    assert [r.score for r in results] == [3, 0, 0, 0, 0]
    assert results[-1].outcome.status == NOT_RUN  # "e" never reported


def test_crashes_earn_nothing_and_max_is_the_manifests():
    results = score(MANIFEST, {s.nodeid: Outcome(CRASHED) for s in MANIFEST})
    assert sum(r.score for r in results) == 0
    assert sum(r.spec.points for r in results) == 10.5
