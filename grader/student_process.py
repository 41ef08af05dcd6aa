"""The judge's handle on student code, and the one module hidden tests import from.

A StudentProcess (started by a Zygote: zygote_control.py) and the Remote objects on it: call a
function in a student process, get plain data back. Beside them here, for test authors: the
live objects they describe (live.py), the errors they catch (student_errors.py), the box
(student_box.py) and what the judge reads from the kernel (kernel_view.py).

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
import os
import socket
import threading
from typing import Callable

from grader import protocol, wire
from grader.kernel_view import duplicate_socket  # noqa: F401 - for test authors
from grader.live import (  # noqa: F401 - what test authors pass in, described here, built there
    builtin,
    library,
    memcached_client,
    one_pass,
    random_generator,
    repeated,
    stand_in,
    tcp_socket,
    text_stream,
    zmq_context,
)
from grader.protocol import NO_PRIVATE_NETWORK  # noqa: F401 - for test authors
from grader.student_box import Box, ResourceLimits, box_of  # noqa: F401 - for test authors
from grader.student_errors import (  # noqa: F401 - what tests catch
    NotPlainData,
    NotWrittenYet,
    StudentCodeRaised,
    StudentProcessEnded,
    ZygoteGone,
    call_text,
    fate,
)

UNASKED_LIMIT = 10  # replies to requests the judge never made (correct code sends none), before it stops listening
EVENT_LIMIT = 1 << 20  # bytes one stand-in event may take
EVENTS_LIMIT = 1_000_000  # stand-in events one process may report
EVENT_BYTES_LIMIT = 64 << 20  # ... and bytes of them in all (a test's listener may keep every one)


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


from grader.zygote_control import StudentScript, Zygote  # noqa: E402, F401 - for test authors (it builds StudentProcess)
