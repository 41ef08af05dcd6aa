"""Fixtures for 05-workqueue, graded through a student process.

The judge never imports workqueue.py. `workqueue` is the module in a fresh student
process; `nodes` starts one of its nodes there, in the background, on a context of
its own; `peers` are the judge's sockets that play the node's neighbours; `handles`
builds the `handle` a node is given, in the student process: the judge answers each
call at the moment it is made, with a value only the judge knows (drawn afresh for
every grading), so a reply not obtained through handle is wrong.
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
    """handles(name='handle', sleep=0.0) -> a Handle: the judge answers each call with answer(request), a value
    only it knows, `sleep` seconds after the call."""
    return functools.partial(Handle, process)
