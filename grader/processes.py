"""Processes the grader starts, and everything they start in turn: found and stopped, wherever they went.

Student code forks, daemonises and moves to new sessions; a process group or a
session is no boundary. These helpers follow the parent links instead (psutil), and
the grader is a child subreaper so that orphans come back to it to be found.
"""
from __future__ import annotations

import ctypes
import sys

import psutil


def become_subreaper() -> None:
    """Orphaned descendants are reparented to us, so `reap_strays` can find them (Linux only)."""
    if sys.platform.startswith("linux"):
        PR_SET_CHILD_SUBREAPER = 36
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def our_descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def reap_strays(keep: set[int]) -> int:
    """Kill every descendant not in `keep`; returns how many there were."""
    strays = [p for p in psutil.Process().children(recursive=True) if p.pid not in keep]
    _kill(strays)
    return len(strays)


def kill_tree(pid: int) -> None:
    """Kill a process and every descendant it has, whatever session or group they moved to."""
    try:
        root = psutil.Process(pid)
        tree = root.children(recursive=True) + [root]
    except psutil.Error:
        return
    _kill(tree)


def _kill(processes: list[psutil.Process]) -> None:
    """SIGKILL each (gone already is fine), then wait a bounded time for them to be reaped."""
    for p in processes:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(processes, timeout=5)
