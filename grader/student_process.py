"""The judge's handle on student code: call a function in a student process, get plain data back.

The judge (pytest with the hidden tests) never imports the student's module. It
starts a zygote (zygote.py) once, asks it for a fresh student process per test,
and talks to that process over a socket pair: `call this function with these
arguments`, then the reply, decoded by wire.loads, which accepts plain data only.
What goes wrong on the other side reaches the test as one of three exceptions,
each worded for the student: the code raised (its type and message), the result
was not plain data, or the process ended (its exit status: an os._exit, a crash,
a limit).
"""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader import wire

ZYGOTE = Path(__file__).with_name("zygote.py")
SETUP_FAILED = 111  # zygote.py's exit status for a child it could not lock down
CALL_TEXT_LIMIT = 200


@dataclass(frozen=True)
class Limits:
    """Resource limits of every student process (setrlimit), soft and hard alike."""

    cpu: int = 120  # seconds of CPU: beyond any test's time limit
    address_space: int = 1 << 30  # 1 GiB
    file_size: int = 16 << 20  # 16 MiB per file written
    open_files: int = 128
    processes: int = 64  # per user, threads included; set only when the process has a user of its own
    core: int = 0


@dataclass(frozen=True)
class Box:
    """Where and as whom student processes run."""

    folder: Path  # the submission's .py files only: working directory and first entry of sys.path
    module: str  # 'squares'
    uid: int | None = None  # None: the grader is not root, processes keep the grader's user
    gid: int | None = None
    home: Path | None = None  # writable by the student user: HOME and TMPDIR
    limits: Limits = field(default_factory=Limits)
    preload: tuple[str, ...] = ("pymemcache", "zmq")  # libraries beyond the standard one it may import

    def config(self, control: int) -> dict:
        limits = dict(vars(self.limits))
        if self.uid is None:
            limits["processes"] = None  # RLIMIT_NPROC counts every process of the grader's own user
        home = str(self.home or self.folder)
        return {"control": control, "folder": str(self.folder), "module": self.module, "uid": self.uid,
                "gid": self.gid, "limits": limits, "site": site_packages(), "preload": list(self.preload),
                "stdlib": sysconfig.get_paths()["stdlib"], "stdlib_view": str(self.folder.parent / "stdlib"),
                "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                        "HOME": home, "TMPDIR": home, "PYTHONHASHSEED": "0"}}


def site_packages() -> list[str]:
    """Where pymemcache and pyzmq are: site-packages only, never the checkout an editable install points at."""
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


class StudentCodeRaised(Exception):
    """The student's code raised: its type's name and message, as the student side reported them."""

    __module__ = "builtins"  # shown to students as 'StudentCodeRaised: ...'

    def __init__(self, text: str, type_name: str, message: str):
        super().__init__(text)
        self.type_name, self.message = type_name, message


class NotPlainData(Exception):
    """What came back cannot cross to the judge (not plain data, too deep, too big, malformed)."""

    __module__ = "builtins"


class StudentProcessEnded(Exception):
    """The student process is gone: os._exit, a crash, a resource limit."""

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
    """One preloaded parent process; `spawn` gives a fresh student process."""

    def __init__(self, box: Box, hashseed: str = "0", log: Path | None = None):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = box.config(theirs.fileno())
        env = {**config["env"], "PYTHONHASHSEED": hashseed, "PYTHONDONTWRITEBYTECODE": "1"}
        config["env"]["PYTHONHASHSEED"] = hashseed
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-s", "-S", "-P", "-B", str(ZYGOTE), json.dumps(config)],
                pass_fds=[theirs.fileno()], env=env, cwd=box.folder, stdin=subprocess.DEVNULL,
                stdout=out, stderr=out)
        finally:
            theirs.close()
            if log:
                out.close()
        self.control = ours
        self.box = box

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:
        try:
            socket.send_fds(self.control, [wire.dumps(request)], list(fds))
            data = self.control.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise StudentProcessEnded("the parent of the student processes is gone "
                                      f"(exit status {self.process.poll()}): no more student code can run")
        return wire.loads(data)

    def spawn(self) -> "StudentProcess":
        mine, theirs = socket.socketpair()
        try:
            reply = self._ask({"op": "spawn"}, [theirs.fileno()])
        finally:
            theirs.close()
        return StudentProcess(self, mine, reply["pid"])

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


class StudentProcess:
    """One fresh student process, driven over a socket pair."""

    def __init__(self, zygote: Zygote, sock: socket.socket, pid: int):
        self.zygote, self.sock, self.pid = zygote, sock, pid
        self.listeners: dict[str, list[Callable]] = {}
        self.output: list[str] = []
        self.ended: dict | None = None

    # -- the wire ----------------------------------------------------------

    def _exactly(self, size: int) -> bytes | None:
        chunks, left = [], size
        while left:
            try:
                chunk = self.sock.recv(min(left, 1 << 20))
            except ConnectionError:
                chunk = b""
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _receive(self, doing: str) -> dict:
        """The next reply; StudentProcessEnded when the process is gone, NotPlainData when it is not a reply."""
        header = self._exactly(wire.HEADER.size)
        try:
            body = None if header is None else self._exactly(wire.length_of(header))
            reply = None if body is None else wire.loads(body)
        except wire.Refused as exc:
            self.end()
            raise NotPlainData(f"the student process sent something that is not a reply {doing} ({exc})") from None
        if reply is None:
            how = fate(self.end(grace=2.0))
            raise StudentProcessEnded(f"the student process {how} {doing}: did the code call os._exit(), "
                                      "exceed a limit, or crash the interpreter?")
        if type(reply) is not dict or not isinstance(reply.get("out", ""), str) \
                or not isinstance(reply.get("events", []), list):
            self.end()
            raise NotPlainData(f"the student process sent something that is not a reply {doing}")
        self._deliver(reply)
        return reply

    def _deliver(self, reply: dict) -> None:
        if sum(map(len, self.output)) < 1 << 20:
            self.output.append(reply.get("out", ""))
        for event in reply.get("events", []):
            if type(event) is not list or len(event) != 2 or type(event[0]) is not str or type(event[1]) is not tuple:
                raise NotPlainData("the student process reported a malformed call of a stand-in")
            for listener in self.listeners.get(event[0], []):
                listener(event[1])

    def _send(self, request: dict, doing: str) -> None:
        try:
            self.sock.sendall(wire.frame(wire.dumps(request, trusted=True)))
        except OSError:
            how = fate(self.end(grace=2.0))
            raise StudentProcessEnded(f"the student process {how} {doing}") from None

    # -- what tests use ----------------------------------------------------

    def start(self, timeout: float | None = None) -> None:
        """Wait for the module to import; raises StudentCodeRaised (or the others) when it does not."""
        module = f"{self.zygote.box.module}.py"
        self.sock.settimeout(timeout)
        reply = self._receive(f"while importing {module}")
        self.sock.settimeout(None)
        if "raised" in reply:
            raised = _raised(reply["raised"])
            self.end()
            raise StudentCodeRaised(f"{module} could not be imported: {raised[0]}: {raised[1]}{raised[2]}",
                                    raised[0], raised[1])

    def call(self, label: str, target: dict, args: tuple = (), kwargs: dict | None = None):
        kwargs = kwargs or {}
        text = call_text(label, args, kwargs)
        doing = f"during {text}"
        self._send({"op": "call", **target, "args": list(args), "kwargs": kwargs}, doing)
        reply = self._receive(doing)
        if "raised" in reply:
            type_name, message, where = _raised(reply["raised"])
            raise StudentCodeRaised(f"{text} raised {type_name}: {message}{where}", type_name, message)
        if "refused" in reply:
            raise NotPlainData(f"{text}: {str(reply['refused'])[:300]}. Only {wire.PLAIN} travel between "
                               "your code and the tests")
        if "ref" in reply and type(reply["ref"]) is int:
            return Remote(self, text, {"ref": reply["ref"]})
        if "ok" in reply:
            return reply["ok"]
        raise NotPlainData(f"the student process sent something that is not a reply {doing}")

    def assign(self, name: str, value) -> None:
        doing = f"while setting {self.zygote.box.module}.{name}"
        self._send({"op": "assign", "name": name, "value": value}, doing)
        self._receive(doing)

    def listen(self, name: str, listener: Callable[[tuple], None]) -> None:
        """Call `listener(args)` for every call of the stand-in `name` the student process reports."""
        self.listeners.setdefault(name, []).append(listener)

    def take_output(self) -> str:
        text, self.output = "".join(self.output), []
        return text

    def module(self) -> "Module":
        return Module(self)

    def end(self, grace: float = 0.0) -> dict:
        """Stop the process and everything it started; returns how it ended (once).

        `grace`: seconds it may take to finish exiting on its own (its socket closed already).
        """
        if self.ended is None:
            self.sock.close()
            self.ended = self.zygote.end(self.pid, grace)
        return self.ended


def _raised(raised) -> tuple[str, str, str]:
    if type(raised) is not dict:
        return "an exception", "", ""
    type_name, message, where = raised.get("type"), raised.get("message"), raised.get("where")
    at = ""
    if type(where) is list and len(where) == 2 and type(where[0]) is str and type(where[1]) is int:
        at = f" (raised at {where[0][:100]}, line {where[1]})"
    return (type_name if type(type_name) is str else "?"), (message if type(message) is str else ""), at


class Remote:
    """A function on the student side: calling it is a call into the student process."""

    def __init__(self, process: StudentProcess, label: str, target: dict):
        self._process, self._label, self._target = process, label, target

    def __call__(self, *args, **kwargs):
        return self._process.call(self._label, self._target, args, kwargs)

    def __repr__(self) -> str:
        return f"<{self._label} in the student process>"


class Module:
    """The student's module as the judge sees it: `squares.fetch_square(mc, 7)` is a call into the process."""

    def __init__(self, process: StudentProcess):
        self._process = process

    def __getattr__(self, name: str) -> Remote:
        if name.startswith("_"):
            raise AttributeError(name)
        return Remote(self._process, name, {"name": name})

    def __repr__(self) -> str:
        return f"<module {self._process.zygote.box.module} in a student process>"


def stand_in(name: str, returns=("square",), sleep: float = 0.0) -> wire.Live:
    """A function built in the student process that reports each call to the judge.

    `returns`: ('square',) n*n, ('times', k) x*k, ('tagged', tag) (tag, args),
    ('pair', tag) (tag, x), ('identity',) x, ('const', value) the value.
    """
    return wire.Live("stand_in", {"name": name, "returns": list(returns), "sleep": sleep}, name)


def memcached_client(kind: str, servers: list[tuple[str, int]], label: str = "mc", **options) -> wire.Live:
    """A pymemcache client ('base', 'pooled' or 'hash') built in the student process."""
    return wire.Live("memcached_client", {"kind": kind, "servers": [list(s) for s in servers],
                                          "options": options}, label)



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
