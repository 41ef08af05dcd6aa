"""The course's assignments, where each one lives, and what it needs to be graded."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
SKELETONS = ROOT / "assignments"
HIDDEN = ROOT / "grader" / "hidden"
# A checkout of the course (solutions/, assignments/ beside the package), or an installed grader (a wheel:
# the engine and the hidden tests in site-packages, nothing else), which grades what its hidden tests cover.
IN_CHECKOUT = (ROOT / "pyproject.toml").is_file()


@dataclass(frozen=True)
class Assignment:
    id: str
    module: str  # the student's file, fixed by docs/contract.md
    services: tuple[str, ...] = ()  # what the parent must provide before grading
    # the libraries beyond the standard one that its module may use: a student process may not read
    # site-packages, so they are imported before it starts (zygote.py)
    libraries: tuple[str, ...] = ("pymemcache", "zmq")
    # about how long grading the reference takes, in seconds: graded side by side, the longest starts first
    seconds: float = 10.0

    @property
    def module_name(self) -> str:
        return self.module.removesuffix(".py")

    @property
    def solution_dir(self) -> Path:
        return SOLUTIONS / self.id

    @property
    def skeleton_dir(self) -> Path:
        return SKELETONS / self.id

    @property
    def hidden_dir(self) -> Path:
        return HIDDEN / self.id

    @property
    def exists(self) -> bool:
        """Written: hidden tests, and in a checkout a solution (or, on a grading runner, which never gets
        solutions/, the skeleton generated from it); an installed grader holds hidden tests only."""
        return self.hidden_dir.is_dir() and (not IN_CHECKOUT or self.solution_dir.is_dir()
                                             or self.skeleton_dir.is_dir())


CATALOGUE = (
    Assignment("01-cache-aside", "squares.py", services=("memcached",), libraries=("pymemcache",), seconds=12),
    Assignment("02-sharding", "hashing.py", services=("memcached",), libraries=("pymemcache",), seconds=15),
    Assignment("03-queuepi", "queuepi.py", libraries=("zmq",), seconds=15),
    Assignment("04-keepalive", "keepalive.py", libraries=(), seconds=8),
    Assignment("05-workqueue", "workqueue.py", libraries=("zmq",), seconds=23),
)


class UnknownAssignment(LookupError):
    pass


def available() -> list[Assignment]:
    """The assignments that have been written so far (solution and hidden tests)."""
    return [a for a in CATALOGUE if a.exists]


def select(name: str) -> list[Assignment]:
    """`all`, or one assignment id."""
    ready = available()
    if name == "all":
        return ready
    for assignment in ready:
        if assignment.id == name:
            return [assignment]
    known = ", ".join(a.id for a in ready) or "none yet"
    raise UnknownAssignment(f"unknown assignment {name!r}; known: {known}, or 'all'")
