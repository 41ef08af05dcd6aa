"""The class at a glance, as numbers: what `grader report` draws, worked out from the class's rows.

Per assignment: the scores of the students who have a grade, every hidden test with
the share of them that passed it (the most broken first), and the failure messages
grouped by the rule they broke (the test, as its docstring words it) with how many
students each. For the class: who has no grade and why, and whose graded commit is
dated before the deadline but was pushed after it. The rows are the ones the class
CSV is written from (`class_csv.Student`), so the report and the CSV cannot disagree.

Pure: no files, no plots. Everything here that came from a results file or a roster
is student-derived text; whoever shows it escapes it.
"""
from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from grader.classwork.rollcall import pushed_late
from grader.formats.class_csv import Student, assignments_of, class_maxima

_STATUS = re.compile(r"(?:^|\n\n)(failed|timed out|crashed|not run): ")
# What differs between two students failing the same way: values, names they chose, addresses.
_VARYING = [(re.compile(r"0x[0-9a-fA-F]+"), "0x…"), (re.compile(r"'[^'\n]*'|\"[^\"\n]*\""), "'…'"),
            (re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "N"), (re.compile(r"\s+"), " ")]
SHAPE_LIMIT = 200  # characters of a message kept to tell one kind of failure from another
GROUPS_SHOWN = 6  # message kinds listed per rule; the rest are counted together


@dataclass(frozen=True)
class Case:
    """One hidden test's outcome for one student, read back from a results file."""
    assignment: str
    test: str  # as in the manifest: 'test_name[param]'
    rule: str  # the test function: 'test_name'
    description: str
    points: float
    passed: bool
    status: str  # 'passed', or how it failed
    reason: str


@dataclass
class TestShare:
    test: str
    description: str
    points: float
    passed: int
    graded: int

    @property
    def share(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass
class MessageGroup:
    message: str  # the message with what varies between students masked
    example: str  # one student's message in full
    students: int


@dataclass
class RuleFailures:
    rule: str
    description: str
    students: int  # who failed at least one of its cases
    groups: list[MessageGroup]
    others: int = 0  # students whose messages fall in groups beyond the ones kept


@dataclass
class AssignmentView:
    id: str
    max_score: float
    scores: list[float]  # of the students with a grade
    tests: list[TestShare]  # the most broken first
    failures: list[RuleFailures]  # the rules most students broke first

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0


@dataclass
class Overview:
    students: list[Student]  # every row of the class CSV, in its order
    assignments: list[AssignmentView]
    max_total: float
    missing: list[Student] = field(default_factory=list)  # no grade, or not a full one: the reason is theirs
    late: list[Student] = field(default_factory=list)  # committed before the deadline, pushed after it
    push_times: bool = False  # whether any row carries a push time at all

    @property
    def graded(self) -> list[Student]:
        return [s for s in self.students if not s.problem]

    @property
    def mean_total(self) -> float:
        return statistics.fmean(s.total for s in self.graded) if self.graded else 0.0

    @property
    def median_total(self) -> float:
        return statistics.median(s.total for s in self.graded) if self.graded else 0.0


def split_output(output: str) -> tuple[str, str, str]:
    """A results file test's output -> (description, status, reason); status '' when it passed."""
    match = _STATUS.search(output)
    if not match:
        return output.strip(), "", ""
    return output[:match.start()].strip(), match[1], output[match.end():].strip()


def cases(student: Student) -> list[Case]:
    found = []
    for test in student.tests:
        assignment, _, name = str(test.get("name", "")).partition("::")
        if not name or name == "your submission":  # the check Gradescope shows before the tests: no rule
            continue
        description, status, reason = split_output(str(test.get("output", "")))
        passed = test.get("status") == "passed"
        found.append(Case(assignment, name, name.split("[", 1)[0], description, float(test.get("max_score", 0)),
                          passed, "passed" if passed else status or "failed", reason))
    return found


def shape(status: str, reason: str) -> str:
    """What a failure says, without what differs from one student to the next: its kind."""
    first = next((line.strip() for line in reason.splitlines() if line.strip()), "")
    for pattern, mask in _VARYING:
        first = pattern.sub(mask, first)
    text = f"{status}: {first}" if first else status
    return text if len(text) <= SHAPE_LIMIT else text[:SHAPE_LIMIT] + " …"


def _shares(graded: dict[str, list[Case]], assignment: str) -> list[TestShare]:
    shares: dict[str, TestShare] = {}
    for mine in graded.values():
        for case in mine:
            if case.assignment != assignment:
                continue
            share = shares.setdefault(case.test, TestShare(case.test, case.description, case.points, 0, 0))
            share.graded += 1
            share.passed += case.passed
    return sorted(shares.values(), key=lambda s: (s.share, -s.points, s.test))


def _failures(graded: dict[str, list[Case]], assignment: str) -> list[RuleFailures]:
    by_rule: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # rule -> kind -> students
    described: dict[str, str] = {}
    examples: dict[tuple[str, str], str] = {}
    for name, mine in graded.items():
        for case in mine:
            if case.assignment != assignment or case.passed:
                continue
            kind = shape(case.status, case.reason)
            by_rule[case.rule][kind].add(name)
            described.setdefault(case.rule, case.description)
            examples.setdefault((case.rule, kind), f"{case.status}: {case.reason}".strip())
    rules = []
    for rule, kinds in by_rule.items():
        ordered = sorted(kinds.items(), key=lambda item: (-len(item[1]), item[0]))
        kept, rest = ordered[:GROUPS_SHOWN], ordered[GROUPS_SHOWN:]
        rules.append(RuleFailures(
            rule, described[rule], len(set().union(*kinds.values())),
            [MessageGroup(kind, examples[rule, kind], len(who)) for kind, who in kept],
            len(set().union(*(who for _, who in rest))) if rest else 0))
    return sorted(rules, key=lambda r: (-r.students, r.rule))


def overview(students: list[Student]) -> Overview:
    graded = {s.name: cases(s) for s in students if not s.problem}
    maxima = class_maxima(students)
    views = []
    for assignment in assignments_of(students):
        scores = [s.scores.get(assignment, 0.0) for s in students if not s.problem]
        views.append(AssignmentView(assignment, maxima[assignment], scores, _shares(graded, assignment),
                                    _failures(graded, assignment)))
    return Overview(students, views, sum(maxima.values()),
                    missing=[s for s in students if s.problem],
                    late=[s for s in students if pushed_late(s)],
                    push_times=any(s.details.get("pushed_at") for s in students))
