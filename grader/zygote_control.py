"""The judge's side of the zygote (zygote.py): start it behind the wall, ask it for student processes.

One zygote per grading of a module (and hash seed): a preloaded parent, so that a fresh
student process per test costs a fork, not an interpreter. Each child says hello with its
credentials first (protocol.HELLO, SCM_CREDENTIALS): the kernel tells the judge its pid in the
judge's own numbering and its uid, before any student code runs.
"""
from __future__ import annotations

import os
import select
import socket
import struct
import subprocess
import time
from pathlib import Path

import psutil

from grader import protocol, wire
from grader.kernel_view import CPUCLOCK_SCHED
from grader.protocol import HELLO
from grader.student_box import Box
from grader.student_errors import StudentProcessEnded, ZygoteGone

HELLO_SECONDS = 30.0  # for a child to be set up and say hello


class Zygote:
    """One preloaded parent process, behind the wall; `spawn` gives a fresh student process."""

    def __init__(self, box: Box, hashseed: str = "0", log: Path | None = None):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = box.config(theirs.fileno())
        config["env"]["PYTHONHASHSEED"] = hashseed
        env = {**config["env"], "PYTHONDONTWRITEBYTECODE": "1"}
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(box.command(config, env), pass_fds=[theirs.fileno()], env=env,
                                            cwd="/", stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        finally:
            theirs.close()
            if log:
                out.close()
        self.control = ours
        self.box = box
        self._pid: int | None = None

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:
        try:
            socket.send_fds(self.control, [wire.dumps(request)], list(fds))
            data = self.control.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise ZygoteGone("the parent of the student processes is gone "
                             f"(exit status {self.process.poll()}): no more student code can run")
        reply = wire.loads(data)
        declared = protocol.Ended if request["op"] == "end" else protocol.Started
        if protocol.problem(reply, declared) is not None:  # the zygote is ours: a mistake of the grader's
            raise RuntimeError(f"the zygote answered {request['op']} with {str(reply)[:200]}: "
                               f"{protocol.problem(reply, declared)}")
        return reply

    def spawn(self, private_network: bool = False):
        """A fresh student process; `private_network`: in a network namespace of its own (zygote.py),
        which the judge enters through /proc/PID/ns to place peers there."""
        mine, theirs = socket.socketpair()
        asks, asking = socket.socketpair()  # the stand-ins' questions, which the judge answers
        mine.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            reply = self._ask({"op": "spawn", **({"network": "private"} if private_network else {})},
                              [theirs.fileno(), asking.fileno()])
        finally:
            theirs.close()
            asking.close()
        pid, uid = greeted(mine)
        from grader.student_process import StudentProcess  # the handle built on this zygote's process

        return StudentProcess(self, mine, reply["pid"], pid, uid, asks)

    def run_script(self, *argv: str) -> "StudentScript":
        """The module run as a program (`python MODULE.py ARGV...`) in a fresh student process,
        its standard streams pipes of the judge's."""
        ends = [os.pipe() for _ in range(3)]
        greeting, theirs_greeting = socket.socketpair()
        greeting.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        theirs = [ends[0][0], ends[1][1], ends[2][1], theirs_greeting.fileno()]
        try:
            reply = self._ask({"op": "script", "argv": list(argv)}, theirs)
        finally:
            for fd in theirs[:3]:
                os.close(fd)
            theirs_greeting.close()
        with greeting:
            pid, _ = greeted(greeting)
        return StudentScript(self, reply["pid"], pid, open(ends[0][1], "wb", buffering=0),
                             open(ends[1][0], "rb"), open(ends[2][0], "rb"))

    @property
    def pid(self) -> int:
        """The zygote's own pid, in our numbering: behind the wall, bwrap's one child."""
        if self._pid is None:
            self._pid = self.process.pid
            if self.box.sealed:
                deadline = time.monotonic() + HELLO_SECONDS
                while not (children := psutil.Process(self.process.pid).children()) and time.monotonic() < deadline:
                    time.sleep(0.01)
                self._pid = children[0].pid if children else self.process.pid
        return self._pid

    def cpu_time(self) -> float:
        """CPU seconds of every student process of this sandbox, as the kernel counts them: those alive
        (each to the nanosecond, its threads included, and what it has reaped), and those that have
        ended and been reaped by the zygote (orphans come back to it). The zygote's own work is left out."""
        zygote = psutil.Process(self.pid)
        total = sum(zygote.cpu_times()[2:4])  # children_user, children_system: every child it reaped
        for process in zygote.children(recursive=True):
            try:
                reaped = sum(process.cpu_times()[2:4])
                total += time.clock_gettime(((~process.pid) << 3) | CPUCLOCK_SCHED) + reaped
            except (psutil.Error, OSError):
                pass  # it ended just now: its time has gone to its parent's, or is about to
        return total

    def end(self, pid: int, grace: float = 0.0) -> dict:
        try:
            return self._ask({"op": "end", "pid": pid, "grace": grace})
        except StudentProcessEnded:
            return {"killed": True, "exit": None}

    def close(self) -> None:
        self.control.close()  # the zygote kills its children and leaves
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def greeted(sock: socket.socket, seconds: float = HELLO_SECONDS) -> tuple[int | None, int | None]:
    """The pid and uid, as the kernel numbers them for us, of the student process that said hello on
    `sock` (zygote.py sends it with SCM_CREDENTIALS before any student code runs); (None, None) when
    none came (the process died while being set up: `end` says how)."""
    sock.settimeout(seconds)
    try:
        data, ancillary, _, _ = sock.recvmsg(len(HELLO), socket.CMSG_SPACE(CREDENTIALS.size), socket.MSG_WAITALL)
    except OSError:
        return None, None
    finally:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)
    for level, kind, payload in ancillary:
        if data == HELLO and level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, uid, _ = CREDENTIALS.unpack(payload[:CREDENTIALS.size])
            return pid, uid
    return None, None


class StudentScript:
    """The student's module running as a program in a student process (Zygote.run_script).

    `stdin`, `stdout`, `stderr` are the judge's ends of its pipes (binary); the judge sees it
    end through a pidfd (it is the zygote's child, not ours), and `end` stops it and all it started.
    """

    def __init__(self, zygote: Zygote, local: int, pid: int | None, stdin, stdout, stderr):
        self.zygote, self.local, self.pid = zygote, local, pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        # the zygote reaps it only when asked: the pid cannot be reused. None: it died being set up
        self._pidfd = None if pid is None else os.pidfd_open(pid)
        self.ended: dict | None = None

    def wait(self, timeout: float) -> bool:
        """Whether it has exited, waiting at most `timeout` seconds for it."""
        return self.ended is not None or self._pidfd is None \
            or bool(select.select([self._pidfd], [], [], timeout)[0])

    def end(self, grace: float = 0.0) -> dict:
        """Stop it (after `grace` seconds to exit on its own) and everything it started; how it ended (once)."""
        if self.ended is None:
            self.ended = self.zygote.end(self.local, grace)
            for stream in (self.stdin, self.stdout, self.stderr):
                stream.close()
            if self._pidfd is not None:
                os.close(self._pidfd)
        return self.ended
