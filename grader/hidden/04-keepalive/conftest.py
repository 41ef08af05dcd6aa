"""Fixtures for 04-keepalive, graded through student processes.

The judge never imports keepalive.py: `keepalive` is the module in a fresh student
process; sockets it needs (a listener to accept on, a socket to configure) are built
there, and the judge reads their options from the kernel through duplicates of them.
`script` runs keepalive.py as a program in a student process; `private_process` is a
student process in a network namespace of its own, where the judge can make a peer
vanish.
"""
from __future__ import annotations

import pytest

from grader.student_process import NO_PRIVATE_NETWORK, StudentProcessEnded, StudentScript

MODULE = "keepalive"


@pytest.fixture
def keepalive(process):
    """The student's keepalive module, in its student process."""
    return process.module()


@pytest.fixture
def script(zygotes):
    """script(*args) -> keepalive.py running as a program (`python keepalive.py ARGS`) as the student; ended
    afterwards."""
    started: list[StudentScript] = []

    def start(*args: str) -> StudentScript:
        started.append(zygotes(MODULE).run_script(*args))
        return started[-1]

    yield start
    for running in started:
        running.end()


@pytest.fixture
def private_process(zygotes):
    """A student process in a network namespace of its own; the test is not run where none can be made."""
    process = zygotes(MODULE).spawn(private_network=True)
    try:
        process.start()
    except StudentProcessEnded:
        if process.end().get("exit") == NO_PRIVATE_NETWORK:
            pytest.skip("not run: this machine cannot give a process a network namespace of its own; grade as "
                        "root, or where unprivileged user namespaces are allowed")
        raise
    yield process
    process.end()
