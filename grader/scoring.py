"""Scores come from the instructor's manifest, never from what a run claims.

A test earns its points only if the manifest lists it and its recorded outcome is
`passed`; a test that was skipped, failed, timed out, crashed or never reported
earns nothing, and an outcome for a test the manifest does not list is ignored.
Every reason is cleaned of the test tools' own advice here, once, before any
report or results file is written from it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping

from grader.feedback import clean

PASSED = "passed"
FAILED = "failed"
TIMED_OUT = "timed out"
CRASHED = "crashed"
NOT_RUN = "not run"  # skipped, or never reached: earns nothing either way


@dataclass(frozen=True)
class TestSpec:
    """One entry of the manifest: a hidden test and what it is worth."""

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str
    name: str
    description: str
    points: float
    timeout: float


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass(frozen=True)
class TestResult:
    __test__ = False

    spec: TestSpec
    outcome: Outcome

    @property
    def passed(self) -> bool:
        return self.outcome.passed

    @property
    def score(self) -> float:
        return self.spec.points if self.passed else 0.0


@dataclass
class AssignmentResult:
    assignment: str
    tests: list[TestResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""  # why no test could run (module missing, or not importing); "" when they ran
    sealed: bool = True  # student code ran behind the wall (wall.py); False: graded with --unsealed

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.spec.points for t in self.tests)

    def to_plain(self) -> dict:
        """As plain data (for JSON), which `from_plain` turns back into an equal result."""
        return asdict(self)

    @classmethod
    def from_plain(cls, data: dict) -> AssignmentResult:
        tests = [TestResult(TestSpec(**t["spec"]), Outcome(**t["outcome"])) for t in data["tests"]]
        return cls(data["assignment"], tests, list(data["notes"]), data["seconds"], data["problem"],
                   data["sealed"])


def score(manifest: list[TestSpec], outcomes: Mapping[str, Outcome]) -> list[TestResult]:
    never = Outcome(NOT_RUN, "the test did not report a result")
    results = []
    for spec in manifest:
        outcome = outcomes.get(spec.nodeid, never)
        results.append(TestResult(spec, Outcome(outcome.status, clean(outcome.reason))))
    return results
