"""The judge's handle on student code: call a function in a student process, get plain data back.

The judge (pytest with the hidden tests) never imports the student's module. It
starts a zygote (zygote.py) once, asks it for a fresh student process per test,
and talks to that process over a socket pair: `call this function with these
arguments`, then the reply, decoded by wire.loads, which accepts plain data only.
What goes wrong on the other side reaches the test as one of three exceptions,
each worded for the student: the code raised (its type and message), the result
was not plain data, or the process ended (its exit status: an os._exit, a crash,
a limit).

Every function on the way from a test to the student process sets pytest's
`__tracebackhide__`: a failure's traceback then shows the test's lines only, and
pytest no longer parses this file for each of these frames (0.1 s a failure).
"""
from __future__ import annotations

import itertools
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil
from _pytest.outcomes import OutcomeException  # pytest's own base of fail() and skip()

from grader import lockdown, protocol, wall, wire
from grader.protocol import HELLO, NO_PRIVATE_NETWORK, SETUP_FAILED

ZYGOTE = Path(__file__).with_name("zygote.py")
HELLO_SECONDS = 30.0  # for a child to be set up and say hello
UNASKED_LIMIT = 10  # replies to requests the judge never made (correct code sends none), before it stops listening
EVENT_LIMIT = 1 << 20  # bytes one stand-in event may take
EVENTS_LIMIT = 1_000_000  # stand-in events one process may report
EVENT_BYTES_LIMIT = 64 << 20  # ... and bytes of them in all (a test's listener may keep every one)
CALL_TEXT_LIMIT = 200


@dataclass(frozen=True)
class Limits:
    """Resource limits of every student process (setrlimit), soft and hard alike."""

    cpu: int = 120  # seconds of CPU: beyond any test's time limit
    address_space: int = 1 << 30  # 1 GiB
    file_size: int = 16 << 20  # 16 MiB per file written
    open_files: int = 128
    processes: int = 64  # per uid (in the sandbox's user namespace without root), threads included
    memory: int = 2 << 30  # bytes all student processes of a sandbox may hold between them (zygote.py)
    core: int = 0
    scratch: int = 64 << 20  # bytes of each private tmpfs (home, /tmp, ...) when running as root


@dataclass(frozen=True)
class Box:
    """Where and as whom student processes run."""

    folder: Path  # the submission's .py files only: working directory and first entry of sys.path
    module: str  # 'squares'
    uid: int | None = None  # as root: the uid student processes become; None: the grader's own user
    sealed: bool = True  # behind the wall (wall.py); False only when grading was told --unsealed
    limits: Limits = field(default_factory=Limits)
    preload: tuple[str, ...] = ("pymemcache", "zmq")  # libraries beyond the standard one it may import

    def __post_init__(self) -> None:
        if self.sealed and self.uid is None and lockdown.root():
            raise ValueError("as root, student code behind the wall needs a student uid (lockdown.student_uid)")

    def config(self, control: int) -> dict:
        limits = dict(vars(self.limits))
        if not self.sealed:  # RLIMIT_NPROC would count every process of the grader's own user
            limits["processes"] = None
        folder = wall.BOX if self.sealed else str(self.folder)
        home = wall.HOME if self.sealed else str(self.folder.parent / "home")
        return {"control": control, "folder": folder, "module": self.module, "uid": self.uid,
                "sealed": self.sealed, "limits": limits, "preload": list(self.preload),
                "site": [wall.SITE] if self.sealed else wall.site_packages(),
                # MALLOC_ARENA_MAX: glibc reserves 64 MiB of address space per thread's arena, which
                # put a correct node with a dozen threads over its 1 GiB limit
                "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                        "HOME": home, "TMPDIR": "/tmp" if self.sealed else home, "PYTHONHASHSEED": "0",
                        "MALLOC_ARENA_MAX": "2"}}

    def command(self, config: dict, env: dict[str, str]) -> list[str]:
        """How the zygote starts, with `env` as its environment: behind the wall, or (unsealed) as a
        plain child of ours (Popen gives it `env` then)."""
        flags = ["-s", "-S", "-P", "-B"]
        if not self.sealed:
            return [sys.executable, *flags, str(ZYGOTE), json.dumps(config)]
        root = self.uid is not None
        view = wall.student_side_view(self.folder, self.preload, env, self.limits.scratch, root)
        program = [str(wall.python()), *flags, f"{wall.INSIDE}/{ZYGOTE.name}", json.dumps(config)]
        return wall.command(program, view, root)


def box_of(folder: Path, module: str, sealed: bool, uid: int | None) -> Box:
    """The Box of a submission's folder: the libraries its assignment allows; as root, `uid` is the student
    uid the grading chose (lockdown.student_uid), which it tells the judge."""
    from grader.course import CATALOGUE

    libraries = next((a.libraries for a in CATALOGUE if a.module_name == module), Box.preload)
    return Box(folder=folder, module=module, uid=uid if sealed else None, sealed=sealed, preload=libraries)


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

    def spawn(self, private_network: bool = False) -> "StudentProcess":
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


class StudentProcess:
    """One fresh student process, driven over a socket pair.

    A reader thread takes every message as it arrives: stand-in events go to their
    listeners at once (so a test can watch a node that is still running), replies wait
    under their request's number until the test asks for them.
    """

    def __init__(self, zygote: Zygote, sock: socket.socket, local: int, pid: int | None, uid: int | None,
                 asks: socket.socket | None = None):
        self.zygote, self.sock, self.local = zygote, sock, local
        self.pid, self.uid = pid, uid  # as the kernel told us in its hello: our numbering, its real uid
        self.listeners: dict[str, list[Callable]] = {}
        self.output: list[str] = []
        self.ended: dict | None = None
        self._numbers = itertools.count(1)
        self._replies: dict = {}  # request number (None: the import) -> its reply
        self._awaited: set = {None}  # requests sent whose reply has not come yet (None: the import)
        self._unasked = self._events = self._event_bytes = 0
        self._broken: str | None = None  # why the reader stopped: the process is gone, or it sent nonsense
        self._bad_event: str | None = None
        self._arrived = threading.Condition()
        self._stream = sock.makefile("rb")
        self._reader = threading.Thread(target=self._read, name=f"student-process-{local}", daemon=True)
        self._reader.start()
        self.answers: dict[str, Callable[[tuple], object]] = {}
        self._asks = asks
        if asks is not None:
            threading.Thread(target=self._answer, name=f"student-asks-{local}", daemon=True).start()

    # -- the wire ----------------------------------------------------------

    def _read(self) -> None:
        """Take every message as it comes, keeping only what the judge asked for, within limits: a
        reply to a request it made (once), printed output up to 1 MiB, events up to EVENT_LIMIT bytes
        each and EVENTS_LIMIT in all. A process that floods the judge is no longer listened to."""
        why = "ended"
        while True:
            try:
                data = wire.receive_bytes(self._stream)
                message = None if data is None else wire.loads(data)
            except OSError:
                message = None
            except wire.Refused as exc:
                why = f"sent something that is not a message ({exc})"
                break
            if message is None:
                break
            declared = protocol.Event if "event" in message else protocol.BadEvent if "bad_event" in message \
                else protocol.Reply
            if (problem := protocol.problem(message, declared)) is not None:
                why = f"sent something that is not a message ({problem})"
                break
            printed = message.get("out", "")
            if printed and sum(map(len, self.output)) < 1 << 20:  # most messages print nothing
                self.output.append(printed)
            if "event" in message:
                event = message["event"]
                if type(event) is not list or len(event) != 2 or type(event[0]) is not str \
                        or type(event[1]) is not tuple:
                    why = "reported a malformed call of a stand-in"
                    break
                self._events += 1
                self._event_bytes += len(data)
                if len(data) > EVENT_LIMIT or self._events > EVENTS_LIMIT \
                        or self._event_bytes > EVENT_BYTES_LIMIT:
                    why = (f"flooded the test with stand-in calls ({self._events} calls; the last of {len(data)} "
                           "bytes)")
                    break
                for listener in list(self.listeners.get(event[0], [])):
                    listener(event[1])
                continue
            with self._arrived:
                if "bad_event" in message:
                    self._bad_event = str(message["bad_event"])[:300]
                else:
                    number = message.get("id") if type(message.get("id")) is int else None
                    if number in self._awaited:
                        self._awaited.discard(number)
                        self._replies[number] = message
                    else:
                        self._unasked += 1
                        if self._unasked > UNASKED_LIMIT:
                            why = f"flooded the test with {self._unasked} replies to requests it never made"
                            self._arrived.notify_all()
                            break
                self._arrived.notify_all()
        with self._arrived:
            self._broken = why
            self._arrived.notify_all()

    def _answer(self) -> None:
        """Answer each call of an asking stand-in (stand_in(..., returns=("ask",))) with what the test's
        answerer for it says; plain data only, within the limits of events."""
        stream = self._asks.makefile("rb")
        asked = 0
        while True:
            try:
                data = wire.receive_bytes(stream)
                question = None if data is None else wire.loads(data)
            except (OSError, wire.Refused):
                break
            asked += 1
            if question is None or asked > EVENTS_LIMIT or protocol.problem(question, protocol.Ask) is not None:
                break
            answerer = self.answers.get(question["name"])
            try:
                reply = {"value": answerer(question["args"])} if answerer is not None else {
                    "refused": f"no answer for {question['name'][:100]} in this test"}
            except Exception as exc:  # noqa: BLE001 - the test's answerer refused these arguments
                reply = {"refused": f"{question['name'][:100]} cannot answer that: {exc}"[:500]}
            try:
                self._asks.sendall(wire.frame(wire.dumps(reply, trusted=True)))
            except OSError:
                break

    def answer(self, name: str, answerer: Callable[[tuple], object]) -> None:
        """Answer every call of the asking stand-in `name` with `answerer(args)`, computed here at the
        moment of the call (it may take its time: the student's call waits). The answer never exists on
        the student side before the call, and every call is seen here, not reported."""
        self.answers[name] = answerer

    def _reply(self, number: int | None, doing: str, timeout: float | None = None) -> dict:
        """The reply to request `number`; TimeoutError when none came within `timeout` seconds."""
        __tracebackhide__ = True
        with self._arrived:
            if not self._arrived.wait_for(lambda: number in self._replies or self._broken, timeout):
                raise TimeoutError(f"no answer {doing} within {timeout:g} s")
            reply, broken = self._replies.pop(number, None), self._broken
        if reply is None:
            if broken != "ended":
                self._cut_off(broken, doing)
            how = fate(self.end(grace=2.0))
            raise StudentProcessEnded(f"the student process {how} {doing}: did the code call os._exit(), "
                                      "exceed a limit, or crash the interpreter?")
        if self._bad_event:
            bad, self._bad_event = self._bad_event, None
            raise NotPlainData(f"{bad}. Only {wire.PLAIN} travel between your code and the tests")
        return reply

    def _cut_off(self, broken: str, doing: str) -> None:
        """The process sent what the judge no longer listens to: it ends, and every call from now on fails
        with these words, raised here (Hypothesis, replaying a failing example, wants the same failure)."""
        __tracebackhide__ = True
        self.end()
        raise NotPlainData(f"the student process {broken} {doing}")

    def _send(self, request: dict, doing: str) -> int:
        __tracebackhide__ = True
        number = next(self._numbers)
        with self._arrived:
            self._awaited.add(number)
            broken = self._broken
        if broken not in (None, "ended"):
            self._cut_off(broken, doing)
        try:
            self.sock.sendall(wire.frame(wire.dumps({**request, "id": number}, trusted=True)))
        except OSError:
            how = fate(self.end(grace=2.0))
            raise StudentProcessEnded(f"the student process {how} {doing}") from None
        return number

    # -- what tests use ----------------------------------------------------

    def start(self, timeout: float | None = None) -> None:
        """Wait for the module to import; raises StudentCodeRaised (or the others) when it does not."""
        __tracebackhide__ = True
        module = f"{self.zygote.box.module}.py"
        reply = self._reply(None, f"while importing {module}", timeout)
        if "raised" in reply:
            raised = _raised(reply["raised"])
            self.end()
            raise StudentCodeRaised(f"{module} could not be imported: {raised[0]}: {raised[1]}{raised[2]}",
                                    raised[0], raised[1])

    def call(self, label: str, target: dict, args: tuple = (), kwargs: dict | None = None, keep: bool = False):
        """Call the target with these arguments and wait for what comes back (see Pending.result)."""
        __tracebackhide__ = True
        return self.call_in_background(label, target, args, kwargs, keep, background=False).result()

    def call_each(self, label: str, target: dict, items: list, args: tuple = (), kwargs: dict | None = None,
                  spread: bool = False):
        """[target(item, *args, **kwargs) for item in items], in one round trip (see for_each);
        `spread`: each item is a tuple of arguments, target(*item, *args, **kwargs) (see starmap)."""
        __tracebackhide__ = True
        kwargs = kwargs or {}
        text = call_text(label, (Each(len(items)), *args), kwargs)
        number = self._send({"op": "call", "target": target, "each": _objects_by_name(items), "spread": spread,
                             "args": _objects_by_name(list(args)), "kwargs": _objects_by_name(kwargs)},
                            f"during {text}")
        reply = self._reply(number, f"during {text}")
        at = reply.get("at")
        if "raised" in reply and type(at) is int and 0 <= at < len(items):
            text = call_text(label, (*(items[at] if spread else (items[at],)), *args), kwargs)
        return _outcome(self, text, reply)

    def call_in_background(self, label: str, target: dict, args: tuple = (), kwargs: dict | None = None,
                           keep: bool = False, background: bool = True, times: int | None = None) -> "Pending":
        """Start the call in a thread of the student process and return at once.

        Meanwhile the test may make other calls (terminate the node's context, say);
        `keep`: the result stays in the student process, and comes back as a handle;
        `times`: the call is made that many times over, and the results come back as one list.
        """
        __tracebackhide__ = True
        kwargs = kwargs or {}
        text = call_text(label, args, kwargs)
        args, kwargs = _objects_by_name(list(args)), _objects_by_name(kwargs)
        options = {"keep": keep, "background": background, "times": times}  # only those set travel
        options = {name: value for name, value in options.items() if value is not None and value is not False}
        number = self._send({"op": "call", "target": target, "args": args, "kwargs": kwargs, **options},
                            f"during {text}")
        return Pending(self, number, text)

    def get(self, label: str, target: dict):
        """The value of an attribute on the student side (plain data only)."""
        __tracebackhide__ = True
        doing = f"while reading {label}"
        return _outcome(self, label, self._reply(self._send({"op": "get", "target": target}, doing), doing))

    def assign(self, name: str, value) -> None:
        __tracebackhide__ = True
        doing = f"while setting {self.zygote.box.module}.{name}"
        self._reply(self._send({"op": "assign", "name": name, "value": value}, doing), doing)

    def listen(self, name: str, listener: Callable[[tuple], None]) -> None:
        """Call `listener(args)` for every call of the stand-in `name` the student process reports.

        Listeners run in the reader thread, as the events arrive: keep them short.
        """
        self.listeners.setdefault(name, []).append(listener)

    def take_output(self) -> str:
        text, self.output = "".join(self.output), []
        return text

    def module(self) -> "Remote":
        return Remote(self, self.zygote.box.module, {"attrs": []}, is_module=True)

    def handle(self, thing: wire.Live | wire.Ref) -> "Remote":
        """The object a description or a number stands for on the student side: `handle(ctx).term()`."""
        return Remote(self, repr(thing), {"on": thing, "attrs": []})

    def threads(self) -> int:
        """How many threads the student process has now, as the kernel counts them (the judge's own look)."""
        if self.pid is None:
            return 0
        try:
            return len(os.listdir(f"/proc/{self.pid}/task"))
        except OSError:
            return 0

    def cpu_time(self) -> float:
        """CPU seconds the student's code has used so far in this sandbox, read from the kernel: this
        process's every thread, and every process it (or another student process) started, alive or
        ended (Zygote.cpu_time). Work handed to a forked child is counted too."""
        return self.zygote.cpu_time()

    def end(self, grace: float = 0.0) -> dict:
        """Stop the process and everything it started; returns how it ended (once).

        `grace`: seconds it may take to finish exiting on its own (its socket closed already).
        """
        if self.ended is None:
            self.ended = self.zygote.end(self.local, grace)
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._reader.join(timeout=5)
            if not self._reader.is_alive():  # closing a buffered stream waits for a read under way
                self._stream.close()
            self.sock.close()
            if self._asks is not None:
                try:
                    self._asks.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return self.ended


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


class Pending:
    """A call under way in the student process."""

    def __init__(self, process: StudentProcess, number: int, text: str):
        self._process, self._number, self.text = process, number, text
        self._reply: dict | None = None

    def done(self, timeout: float = 0.0) -> bool:
        """Whether it has returned (or raised), waiting at most `timeout` seconds for it."""
        __tracebackhide__ = True
        if self._reply is None:
            try:
                self._reply = self._process._reply(self._number, f"during {self.text}", timeout)
            except TimeoutError:
                return False
        return True

    def result(self, timeout: float | None = None):
        """What it returned; raises what it raised, as StudentCodeRaised; TimeoutError while it runs on."""
        __tracebackhide__ = True
        if self._reply is None:
            self._reply = self._process._reply(self._number, f"during {self.text}", timeout)
        return _outcome(self._process, self.text, self._reply)


class Each:
    """How a call made for each of many inputs shows in messages: `pick_server(<each of 4000>, [...])`."""

    def __init__(self, count: int):
        self.count = count

    def __repr__(self) -> str:
        return f"<each of {self.count}>"


def _outcome(process: StudentProcess, text: str, reply: dict):
    __tracebackhide__ = True
    if "undeclared" in reply:  # the student side did not know our request: our mistake, said loudly
        raise RuntimeError(f"the grader sent an undeclared request during {text}: {reply['undeclared']}")
    if "raised" in reply:
        type_name, message, where = _raised(reply["raised"])
        kinds = (type_name, *_bases(reply["raised"]))
        if type_name == "NotImplementedError":  # a skeleton's stub: the test ends here, in words that say so
            raise NotWrittenYet(f"not written yet: {text.split('(')[0]} ({text} raised NotImplementedError"
                                f"{where}: replace the `raise NotImplementedError()` with your code)")
        raise StudentCodeRaised(f"{text} raised {type_name}: {message}{where}", type_name, message, kinds)
    if "refused" in reply:
        raise NotPlainData(f"{text}: {str(reply['refused'])[:300]}. Only {wire.PLAIN} travel between "
                           "your code and the tests")
    if "ref" in reply and type(reply["ref"]) is int:
        return Remote(process, text, {"on": wire.Ref(reply["ref"], text), "attrs": []})
    if "ok" in reply:
        return reply["ok"]
    raise NotPlainData(f"the student process sent something that is not a reply during {text}")


def _objects_by_name(value):
    """Arguments as they cross: a Remote object (a kept listener, say) as the number it is kept under."""
    if isinstance(value, Remote):
        return argument(value)
    if type(value) is list and all(type(v) is str for v in value):  # words, keys: quickly
        return value
    if type(value) in (list, tuple):
        return type(value)(_objects_by_name(v) for v in value)
    if type(value) is dict:
        return {k: _objects_by_name(v) for k, v in value.items()}
    return value


def _bases(raised) -> tuple[str, ...]:
    bases = raised.get("bases") if type(raised) is dict else None
    return tuple(b for b in bases if type(b) is str) if type(bases) is list else ()


def _raised(raised) -> tuple[str, str, str]:
    if type(raised) is not dict:
        return "an exception", "", ""
    type_name, message, where = raised.get("type"), raised.get("message"), raised.get("where")
    at = ""
    if type(where) is list and len(where) == 2 and type(where[0]) is str and type(where[1]) is int:
        at = f" (raised at {where[0][:100]}, line {where[1]})"
    return (type_name if type(type_name) is str else "?"), (message if type(message) is str else ""), at


class Remote:
    """Something on the student side: calling it is a call into the student process, and so is
    calling any attribute of it (`squares.fetch_square(mc, 7)`, `cache.get("k")`).

    `background(remote, ...)`, `keep(remote, ...)` and `value(remote)` are functions, not
    methods, so that no student attribute is hidden behind one of ours.
    """

    def __init__(self, process: StudentProcess, label: str, target: dict, is_module: bool = False):
        self._process, self._label, self._target, self._is_module = process, label, target, is_module

    def __getattr__(self, name: str) -> "Remote":
        if name.startswith("_"):
            raise AttributeError(name)
        label = name if self._is_module else f"{self._label}.{name}"
        return Remote(self._process, label, {**self._target, "attrs": [*self._target["attrs"], name]})

    def __call__(self, *args, **kwargs):
        __tracebackhide__ = True
        return self._process.call(self._label, self._target, args, kwargs)

    def __repr__(self) -> str:
        if self._is_module:
            return f"<module {self._label} in a student process>"
        return f"<{self._label} in the student process>"

    @property
    def _ref(self) -> wire.Ref | wire.Live | None:
        """What to pass as an argument for this object (a kept object, or a built one)."""
        return self._target.get("on") if not self._target["attrs"] else None


def background(remote: Remote, *args, **kwargs) -> Pending:
    """Start `remote(*args, **kwargs)` in a thread of the student process; the test goes on at once."""
    __tracebackhide__ = True
    return remote._process.call_in_background(remote._label, remote._target, args, kwargs)


def repeat(remote: Remote, times: int, *args, **kwargs) -> list:
    """[remote(*args, **kwargs) for each of `times` calls], in one round trip: thousands of draws from
    one generator cost one call, not thousands. An exception stops the calls and is raised."""
    return remote._process.call_in_background(remote._label, remote._target, args, kwargs, background=False,
                                              times=times).result()


def keep(remote: Remote, *args, **kwargs) -> Remote:
    """`remote(*args, **kwargs)`, its result left in the student process: a listening socket, an object."""
    __tracebackhide__ = True
    return remote._process.call(remote._label, remote._target, args, kwargs, keep=True)


def keep_in_background(remote: Remote, *args, **kwargs) -> Pending:
    __tracebackhide__ = True
    return remote._process.call_in_background(remote._label, remote._target, args, kwargs, keep=True)


def value(remote: Remote):
    """The value of a student-side attribute (`value(hashing.SERVERS)`), as plain data."""
    __tracebackhide__ = True
    return remote._process.get(remote._label, remote._target)


def for_each(remote: Remote, items, *args, **kwargs) -> list:
    """[remote(item, *args, **kwargs) for item in items], run in the student process in one round trip:
    for thousands of inputs (`for_each(hashing.pick_server, keys, servers)`). Every call gets its own copy
    of the arguments; the first that raises ends it, and its message names that item."""
    __tracebackhide__ = True
    return remote._process.call_each(remote._label, remote._target, list(items), args, kwargs)


def starmap(remote: Remote, argument_tuples) -> list:
    """[remote(*arguments) for arguments in argument_tuples], in one round trip, as for_each."""
    __tracebackhide__ = True
    return remote._process.call_each(remote._label, remote._target, [tuple(a) for a in argument_tuples],
                                     spread=True)


def argument(remote: Remote) -> wire.Ref | wire.Live:
    """A kept or built object, or a function of the module, to pass back into the student process:
    `receive(argument(listener))`, `distribution(words, hashing.alpha_shard)`."""
    ref = remote._ref
    if ref is None and "on" not in remote._target and remote._target["attrs"]:
        return wire.Live("module_attribute", {"module": remote._process.zygote.box.module,
                                              "attrs": remote._target["attrs"]}, remote._label)
    if ref is None:
        raise TypeError(f"{remote!r} is not an object kept in the student process")
    return ref


def stand_in(name: str, returns=("square",), sleep: float = 0.0, stall: tuple | None = None) -> wire.Live:
    """A function built in the student process that reports each call to the judge.

    `returns`: ('square',) n*n, ('times', k) x*k, ('tagged', tag) (tag, args),
    ('pair', tag) (tag, x), ('identity',) x, ('const', value) the value,
    ('table', {x: value}, default) the value the judge gave for x (the default for any other x),
    ('ask',) what the judge answers at the moment of the call (StudentProcess.answer): no report, and
    no answer in the student process before the call.
    `stall`: (x, seconds): the first call with the first argument x sleeps that long
    instead of `sleep` (a worker stuck in the middle of one request).
    """
    spec = {"name": name, "returns": list(returns), "sleep": sleep}
    if stall is not None:
        spec["stall"] = list(stall)
    return wire.Live("stand_in", spec, name)


def one_pass(items: list, kind: str = "generator", label: str = "") -> wire.Live:
    """`items` as an iterable built in the student process that can be gone through once only and has
    no len(): a generator, or (kind 'map') a map object. Built anew each time it is passed."""
    return wire.Live("one_pass", {"items": list(items), "kind": kind}, label or f"a {kind} of {len(items)} items")


def builtin(name: str) -> wire.Live:
    """A builtin function of the student process (`process.handle(builtin("dict"))(kept)`): to make plain
    data of a kept result whose type the contract leaves open (a Counter is a dict)."""
    return wire.Live("builtin", {"name": name}, name)


def memcached_client(kind: str, servers: list[tuple[str, int]], label: str = "mc", **options) -> wire.Live:
    """A pymemcache client ('base', 'pooled' or 'hash') built in the student process."""
    return wire.Live("memcached_client", {"kind": kind, "servers": [list(s) for s in servers],
                                          "options": options}, label)


def zmq_context(name: str = "zcontext") -> wire.Live:
    """A zmq.Context built in the student process; `process.handle(it).term()` terminates it."""
    return wire.Live("zmq_context", {"name": name}, name)


def random_generator(seed: int, name: str = "rng") -> wire.Live:
    """A random.Random(seed) built in the student process (one per name: the same name, the same generator)."""
    return wire.Live("random_generator", {"seed": seed, "name": name}, name)


def text_stream(name: str = "out") -> wire.Live:
    """A text stream built in the student process: each write reaches the judge as a `name` event."""
    return wire.Live("text_stream", {"name": name}, name)


_sockets = itertools.count(1)


def tcp_socket(label: str = "sock", listening: bool = False) -> wire.Live:
    """A new TCP socket built in the student process (`listening`: on 127.0.0.1, a port the system
    chooses): each call describes another one. The judge reads its options itself (duplicate_socket)."""
    return wire.Live("tcp_socket", {"serial": next(_sockets), "listening": listening}, label)


def repeated(parts: list[tuple], label: str = "lines") -> wire.Live:
    """[value * times for (value, times) in parts], built in the student process: arguments too large
    to send (lines of megabytes)."""
    return wire.Live("repeated", {"parts": [[value, times] for value, times in parts]}, label)


def library(name: str) -> wire.Live:
    """A standard module in the student process, to call its functions there:
    `process.handle(library("socket")).setdefaulttimeout(30)`, `process.handle(library("random")).seed(1)`."""
    return wire.Live("library", {"name": name}, name)


SYS_PIDFD_GETFD = 438  # the same number on every architecture Linux has added it to since 5.6
CPUCLOCK_SCHED = 2  # a process's CPU clock is ((~pid) << 3) | CPUCLOCK_SCHED (clock_getcpuclockid(3))


def duplicate_socket(pid: int, fd: int) -> socket.socket:
    """The student process's socket `fd`, duplicated into this process (pidfd_getfd): the judge reads its
    options from the kernel itself instead of asking the student code. Needs ptrace rights over the
    process: root, or the same user."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        ours = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if ours < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"pidfd_getfd of fd {fd} in process {pid}: {os.strerror(error)}")
    finally:
        os.close(pidfd)
    return socket.socket(fileno=ours)


def probe(box: Box, seconds: float) -> str | None:
    """None when the module imports in a student process; otherwise one line on what went wrong."""
    file = f"{box.module}.py"
    zygote = Zygote(box)
    try:
        process = zygote.spawn()
        try:
            process.start(timeout=seconds)
        except TimeoutError:
            return (f"{file} did not finish importing within {seconds:.0f} s "
                    "(a loop, a sleep or a blocking call at module level?)")
        except StudentCodeRaised as exc:
            return str(exc)
        except StudentProcessEnded:
            return (f"{file} stopped the interpreter while being imported (it {fate(process.end())}): "
                    "is there a sys.exit() or os._exit() at module level?")
        except NotPlainData as exc:
            return str(exc)
        finally:
            process.end()
    finally:
        zygote.close()
    return None
