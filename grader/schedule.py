"""Which assignments of one grading may be graded side by side, and in what order they start.

Graded at once, two assignments must not meet: 01 and 02 empty the run's memcached
servers, and the judges' peers take free ports (and 03, 05 the book's fixed ones)
that a neighbour could take too. So each assignment gets a network namespace of its
own, with nothing but a loopback, and memcached servers of its own inside it (that
loopback is also all its student code reaches: lockdown.py). When the grading already
has a namespace of its own for the whole student (`grade-class`, one slot per core
already), or none can be made, the assignments are graded one after the other.

Servers given from outside (MEMCACHED_SERVERS: service containers) are reachable
from the machine's own network only and are shared: the assignments that need them
are graded one after the other, together, on the machine's network; each of the
others, in its own namespace, can still run beside them, since no port of theirs
can clash with anything outside it.

Pure logic: who runs where is decided here; workers.py and lockdown.py do it.
"""
from __future__ import annotations

from dataclasses import dataclass

from grader.course import Assignment


@dataclass(frozen=True)
class Group:
    """Assignments graded one after the other by one worker."""

    assignments: tuple[Assignment, ...]
    own_network: bool  # in a network namespace of its own, with its own memcached servers

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.assignments)


def groups(assignments: list[Assignment], apart: bool, given_servers: bool) -> list[Group]:
    """How to grade `assignments`: one group means one after the other, in this process.

    `apart`: a grading may be given a network namespace of its own (as root, or in a
    user namespace, and not under grade-class, which gave the whole student one);
    `given_servers`: memcached comes from outside. Groups come longest first, so that
    the slowest starts at once.
    """
    if not apart:
        return [Group(tuple(assignments), own_network=False)]
    shared = tuple(a for a in assignments if given_servers and "memcached" in a.services)
    made = [Group((a,), own_network=True) for a in assignments if a not in shared]
    if shared:
        made.append(Group(shared, own_network=False))
    return sorted(made, key=lambda group: group.seconds, reverse=True)


def in_order(assignments: list[Assignment], graded: dict[str, object]) -> list:
    """Results back in the assignments' order, however the groups finished."""
    return [graded[a.id] for a in assignments]
