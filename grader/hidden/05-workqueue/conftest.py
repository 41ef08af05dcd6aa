"""Fixtures for 05-workqueue, graded through a student process.

The judge never imports workqueue.py. `workqueue` is the module in a fresh student
process; `nodes` starts one of its nodes there, in the background, on a context of
its own; `peers` are the judge's sockets that play the node's neighbours; `handles`
builds the `handle` a node is given, in the student process: it answers with values
only the judge knows (the evidence that it was called), and reports each call (which
may explain a failure, never pass a test).
"""
from __future__ import annotations

import functools

import pytest
from workqueue_peers import Handle, Node


@pytest.fixture
def workqueue(process):
    """The student's workqueue module, in its student process."""
    return process.module()


@pytest.fixture
def nodes(process):
    """nodes(name, *args, **kwargs) runs workqueue.<name>(zcontext, *args, **kwargs) in the background.

    Whatever still runs when the test ends goes with the student process.
    """
    return functools.partial(Node, process)


@pytest.fixture
def handles(process):
    """handles(name='handle', sleep=0.0, stall=None, requests=()) -> a Handle: answer(request) for each of
    `requests` (a value only the judge knows), every call reported."""

    def make(name: str = "handle", sleep: float = 0.0, stall: tuple | None = None, requests=()) -> Handle:
        return Handle(process, name, sleep, stall, requests)

    return make
