"""What goes wrong on the student side, as the judge raises it: each exception worded for the student.

The code raised (its type and message); a stub still raises NotImplementedError (not written
yet, one of pytest's outcomes); what came back is not plain data; the process ended (an
os._exit, a crash, a limit); or the grader's own parent of student processes is gone.
"""
from __future__ import annotations

import signal

from _pytest.outcomes import OutcomeException  # pytest's own base of fail() and skip()

from grader.protocol import NO_PRIVATE_NETWORK, SETUP_FAILED

CALL_TEXT_LIMIT = 200


class StudentCodeRaised(Exception):
    """The student's code raised: its type's name and message, as the student side reported them."""

    __module__ = "builtins"  # shown to students as 'StudentCodeRaised: ...'

    def __init__(self, text: str, type_name: str, message: str, kinds: tuple[str, ...] = ()):
        super().__init__(text)
        self.type_name, self.message = type_name, message
        self.kinds = kinds or (type_name,)  # its type's name and its bases' (`"ValueError" in exc.kinds`)


class NotWrittenYet(OutcomeException):
    """The student's function is still the skeleton's stub (it raised NotImplementedError).

    One of pytest's test outcomes (as pytest.fail's is), not an Exception: it ends the test
    at once, Hypothesis does not look for a smaller failing example, a test's `except
    StudentCodeRaised` does not take it for a wrong answer, and raised while a fixture
    sets up it fails only that test. pytest reports it as the test's failure.
    """

    __module__ = "builtins"


class NotPlainData(Exception):
    """What came back cannot cross to the judge (not plain data, too deep, too big, malformed)."""

    __module__ = "builtins"


class StudentProcessEnded(Exception):
    """The student process is gone: os._exit, a crash, a resource limit."""

    __module__ = "builtins"


class ZygoteGone(StudentProcessEnded):
    """The parent of the student processes is gone: no student code could end it (it runs as root, or as
    the first process of its sandbox, which no process inside may signal): the grader's or the machine's
    problem, not the student's."""

    __module__ = "builtins"


def call_text(label: str, args: tuple, kwargs: dict) -> str:
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    text = f"{label}({', '.join(shown)})"
    return text if len(text) <= CALL_TEXT_LIMIT else text[:CALL_TEXT_LIMIT] + "...)"


def fate(reply: dict) -> str:
    """How a process ended, from the zygote's `end` reply."""
    code = reply.get("exit")
    if reply.get("killed") or code is None:
        return "was still running and was stopped"
    if code == SETUP_FAILED:
        return ("could not be set up (the grader's problem, not the student's: can the student user "
                "enter the box's folder?)")
    if code == NO_PRIVATE_NETWORK:
        return ("could not have a network namespace of its own (the grading machine's limit, not the "
                "student's: grade as root, or where unprivileged user namespaces are allowed)")
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGXCPU": " (its CPU time limit)", "SIGKILL": " (a limit, or memory)",
                "SIGXFSZ": " (its file size limit)"}.get(name, "")
        return f"was killed by {name}{hint}"
    return f"exited with status {code}"
