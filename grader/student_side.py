"""The student process's side of the wire: import the module, build what the judge describes, run calls.

It runs only in a student process (forked by zygote.py, already locked down), where
the `grader` package cannot be imported: zygote.py loads this file and wire.py by
path. Every reply goes through wire.dumps, so nothing but plain data leaves; a
result that is a function (what a decorator returns) stays here, and the judge
gets a number to call it by.
"""
from __future__ import annotations

import functools
import importlib
import io
import marshal
import os
import runpy
import socket
import sys
import threading
import time
import traceback

try:
    from grader import protocol, wire
except ImportError:  # in the student process
    import _grader_protocol as protocol  # type: ignore[no-redef]
    import _grader_wire as wire  # type: ignore[no-redef]

OUTPUT_LIMIT = 64 * 1024  # characters of printed output kept per reply
NAME_LIMIT, MESSAGE_LIMIT = 100, 500

class Captured(io.TextIOBase):
    """sys.stdout and sys.stderr: what the code prints, cut at OUTPUT_LIMIT characters per reply."""

    def __init__(self):
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        if type(text) is not str:
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = max(OUTPUT_LIMIT - self.size, 0)
        self.parts.append(text[:room])
        self.size += min(len(text), room)
        self.dropped += len(text) - min(len(text), room)
        return len(text)

    def drain(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of output not kept]\n"
        self.parts, self.size, self.dropped = [], 0, 0
        return text


# -- what the judge describes, built here ----------------------------------------


class Link:
    """The socket to the judge, shared by the serving loop and the threads of background calls.

    Every message carries the output printed since the last one; events (a stand-in was
    called, a callback ran) go out the moment they happen, so the judge sees them while
    a background call is still running.
    """

    def __init__(self, sock, out: Captured):
        self.sock, self.out = sock, out
        self.lock = threading.Lock()

    def send(self, message: dict) -> None:
        with self.lock:
            message["out"] = self.out.drain()
            try:
                data = wire.dumps(message)
            except wire.Refused as exc:
                data = wire.dumps({k: v for k, v in message.items() if k in ("id", "out")}
                                  | {"refused": f"what it returned: {exc}"})
            self.sock.sendall(wire.frame(data))

    def event(self, name: str, args: tuple) -> None:
        with self.lock:
            try:
                data = wire.dumps({"event": [name, args], "out": ""})
            except wire.Refused as exc:
                data = wire.dumps({"bad_event": f"what it passed to {name}: {exc}", "out": ""})
            self.sock.sendall(wire.frame(data))


LINK: list[Link] = []  # the one link of this process, once serve() has made it
ASK: list = []  # the socket over which stand-ins ask the judge what to answer, and its lock


def ask(name: str, args: tuple):
    """What the judge answers to a call of its stand-in `name`, asked at the moment of the call: the
    answer exists only on the judge's side until then (and comes when the judge chooses)."""
    sock, lock, stream = ASK
    with lock:
        sock.sendall(wire.frame(wire.dumps({"name": name, "args": args})))
        reply = wire.receive(stream)
    if protocol.problem(reply, protocol.Answer) is not None or ("value" not in reply and "refused" not in reply):
        raise RuntimeError(f"the test did not answer the call {name}{args!r}")
    if "refused" in reply:
        raise RuntimeError(str(reply["refused"]))
    return reply["value"]


def build_stand_in(spec: dict):
    """A function that reports each call to the judge and returns what the spec says."""
    name, returns, pause = spec["name"], spec.get("returns", ["square"]), float(spec.get("sleep", 0))
    stall = spec.get("stall")  # [x, seconds]: the first call with first argument x sleeps that long
    stalled = threading.Lock()  # taken by that first call, whichever thread makes it

    def function(*args):
        if returns[0] == "ask":  # the judge hears the call and answers it: no report of ours involved
            return ask(name, args)
        LINK[0].event(name, args)
        wait = pause
        if stall and args and args[0] == stall[0] and stalled.acquire(blocking=False):
            wait = float(stall[1])
        if wait:
            time.sleep(wait)
        how = returns[0]
        if how == "square":
            return args[0] * args[0]
        if how == "times":
            return args[0] * returns[1]
        if how == "tagged":
            return (returns[1], args)
        if how == "pair":
            return (returns[1], args[0])
        if how == "identity":
            return args[0]
        if how == "table":  # what the judge worked out for each argument it will pass, and a default
            return returns[1].get(args[0], returns[2])
        return returns[1]  # "const"

    function.__name__ = function.__qualname__ = name
    return function


def build_memcached_client(spec: dict):
    """A pymemcache client of the kind and for the servers the judge names."""
    from pymemcache.client.base import Client, PooledClient
    from pymemcache.client.hash import HashClient

    servers = [tuple(address) for address in spec["servers"]]
    options = spec.get("options", {})
    if spec["kind"] == "hash":
        return HashClient(servers, **options)
    return {"base": Client, "pooled": PooledClient}[spec["kind"]](servers[0], **options)


def build_zmq_context(spec: dict):
    """A zmq.Context of the student process's own; the judge may ask for its term() through a handle."""
    import zmq

    return zmq.Context()


def build_text_stream(spec: dict):
    """An `out` stream: what is written to it is kept and reported to the judge as `name` events."""

    class Stream(io.TextIOBase):
        def writable(self) -> bool:
            return True

        def write(self, text) -> int:
            if type(text) is not str:
                raise TypeError(f"write() argument must be str, not {type(text).__name__}")
            LINK[0].event(spec["name"], (text,))
            return len(text)

    return Stream()


def build_random_generator(spec: dict):
    import random

    return random.Random(spec["seed"])


def build_tcp_socket(spec: dict):
    """A fresh TCP/IPv4 socket of the process's own: unconnected, or (`listening`) listening on 127.0.0.1,
    a port the system chooses. For functions that are given a socket (a listener to accept on)."""
    if spec.get("listening"):
        return socket.create_server(("127.0.0.1", 0))
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def build_repeated(spec: dict) -> list:
    """[value * times, ...]: large arguments (lines of megabytes) made here rather than sent."""
    return [value * times for value, times in spec["parts"]]


def build_library(spec: dict):
    """A module of the standard library, for process-wide settings an application may make
    (`socket.setdefaulttimeout(30)`)."""
    return importlib.import_module(spec["name"])


def build_one_pass(spec: dict):
    """The judge's items as an iterable that can be gone through once only and has no len()."""
    items = spec["items"]
    return map(str, items) if spec.get("kind") == "map" else (item for item in items)


def build_module_attribute(spec: dict):
    """A function of the student's module given as an argument (`distribution(words, alpha_shard)`)."""
    thing = sys.modules[spec["module"]]
    for name in spec["attrs"]:
        thing = getattr(thing, name)
    return thing


def build_builtin(spec: dict):
    """A builtin the judge applies to an object kept here: `dict(result)` for a Counter the code returned."""
    import builtins

    return getattr(builtins, spec["name"])


BUILDERS = {  # each kind of description (live.py) and the function that builds it here
    "stand_in": build_stand_in,
    "memcached_client": build_memcached_client,
    "zmq_context": build_zmq_context,
    "text_stream": build_text_stream,
    "random_generator": build_random_generator,
    "tcp_socket": build_tcp_socket,
    "repeated": build_repeated,
    "library": build_library,
    "one_pass": build_one_pass,
    "module_attribute": build_module_attribute,
    "builtin": build_builtin,
}
FRESH = {"one_pass", "module_attribute"}  # built anew at every use: used up, or looked up at call time


BUILT: dict = {}  # one object per description: the same `mc` in every call is the same client


def build(value, kept: dict):
    if type(value) is wire.Live and value.kind in FRESH:
        return BUILDERS[value.kind](value.spec)
    if type(value) is wire.Live:
        key = (value.kind, repr(value.spec))
        if key not in BUILT:
            BUILT[key] = BUILDERS[value.kind](value.spec)
        return BUILT[key]
    if type(value) is wire.Ref:
        return kept[value.number]
    if type(value) is list and all(type(v) is str for v in value):  # words, keys: quickly
        return list(value)
    if type(value) in (list, tuple):
        return type(value)(build(v, kept) for v in value)
    if type(value) is dict:
        return {k: build(v, kept) for k, v in value.items()}
    return value


# -- calls -----------------------------------------------------------------------


def describe(exc: BaseException, folder: str) -> dict:
    """An exception as its type's name, its message cut short, and the last line of the student's files it passed."""
    try:
        message = str(exc)
    except BaseException:
        message = "(its message could not be read)"
    where = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if isinstance(filename, str) and os.path.dirname(os.path.abspath(filename)) == folder:
            where = [os.path.basename(filename), tb.tb_lineno]
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and isinstance(exc.filename, str):
        where = [os.path.basename(exc.filename), exc.lineno or 0]
        message = exc.msg if isinstance(exc.msg, str) else message
    name = type(exc).__name__
    try:  # "ValueError" among them: a subclass of it is a ValueError too
        bases = [kind.__name__[:NAME_LIMIT] for kind in type(exc).__mro__[1:8] if isinstance(kind.__name__, str)]
    except BaseException:
        bases = []
    return {"type": name[:NAME_LIMIT] if isinstance(name, str) else "?", "message": message[:MESSAGE_LIMIT],
            "where": where, "bases": bases}


def resolve(module, target: dict, kept: dict):
    """The object a target names: the module, a kept object or a built one, then its attributes in turn."""
    base = target.get("on")
    thing = module if base is None else build(base, kept)
    for name in target.get("attrs", []):
        thing = getattr(thing, name)
    return thing


def run(module, request: dict, kept: dict, folder: str) -> dict:
    number = request.get("id") if type(request) is dict and type(request.get("id")) is int else None
    reply: dict = {"id": number}
    if (problem := protocol.request_problem(request, protocol.JUDGE_TO_STUDENT)) is not None:
        return reply | {"undeclared": problem}
    try:
        if request["op"] == "assign":
            setattr(module, request["name"], build(request["value"], kept))
            return reply | {"ok": None}
        target = resolve(module, request["target"], kept)
        if request["op"] == "get":
            return reply | {"ok": target}
        if "each" in request:
            return reply | each(target, request, kept, folder)
        args, kwargs = build(request["args"], kept), build(request["kwargs"], kept)
        times = request.get("times")
        result = target(*args, **kwargs) if times is None else [target(*args, **kwargs) for _ in range(times)]
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: they are the student's
        return reply | {"raised": describe(exc, folder)}
    if request.get("keep") or (callable(result) and not isinstance(result, type)):
        kept[len(kept) + 1] = result
        return reply | {"ref": len(kept)}
    return reply | {"ok": result}


IMMUTABLE = (str, int, float, bool, bytes, type(None))


def fresh_arguments(args: list, kwargs: dict, kept: dict):
    """A function giving each call of `each` arguments of its own, as cheaply as they allow: a shallow copy
    of each list when the arguments are immutable values and lists of them (the usual list of servers),
    a copy from marshal of other plain data, built anew when they hold built or kept objects."""
    if not kwargs and all(type(a) in IMMUTABLE or type(a) is list and all(type(v) in IMMUTABLE for v in a)
                          for a in args):
        return lambda: ([a.copy() if type(a) is list else a for a in args], {})
    try:  # plain data: many times quicker than building it anew
        return functools.partial(marshal.loads, marshal.dumps((args, kwargs)))
    except ValueError:  # built or kept objects among them
        return lambda: (build(args, kept), build(kwargs, kept))


def each(target, request: dict, kept: dict, folder: str) -> dict:
    """target(item, *args, **kwargs) for each item (target(*item, *args, **kwargs) when `spread`), every
    call with arguments of its own; the first that raises ends it, and the reply says which (`at`)."""
    fresh = fresh_arguments(request["args"], request["kwargs"], kept)
    spread = bool(request.get("spread"))  # each item is a tuple of leading arguments (starmap), not one
    results = []
    for at, item in enumerate(request["each"]):
        try:
            more, named = fresh()
            if spread:
                leading = tuple(build(item, kept))
            else:  # a key, a number: nothing to build
                leading = (item if type(item) in IMMUTABLE else build(item, kept),)
            results.append(target(*leading, *more, **named))
        except BaseException as exc:
            return {"raised": describe(exc, folder), "at": at}
    return {"ok": results}


def serve(sock, module_name: str, folder: str, asking=None) -> None:
    """Import the module, say so (or why not), then answer requests until the judge hangs up.

    A request marked `background` runs in a thread of its own, and its reply comes when
    it returns; meanwhile this loop answers the others (terminate that node's context,
    say). Everything else runs here, one at a time, in order.
    """
    out = Captured()
    sys.stdout = sys.stderr = out
    link = Link(sock, out)
    LINK.append(link)
    if asking is not None:
        ASK.extend([asking, threading.Lock(), asking.makefile("rb")])
    kept: dict = {}
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:
        link.send({"raised": describe(exc, folder), "during": "import"})
        return
    link.send({"ready": True})
    requests = sock.makefile("rb")
    while (request := wire.receive(requests, trusted=True)) is not None:
        if request.get("background"):
            threading.Thread(target=lambda r=request: link.send(run(module, r, kept, folder)),
                             name=f"judge-call-{request.get('id')}", daemon=True).start()
        else:
            link.send(run(module, request, kept, folder))


def run_script(module_name: str, folder: str, argv: list) -> int:
    """The module run as a program, as `python -u MODULE.py ARGV...` would: __main__, with sys.argv,
    unbuffered UTF-8 standard streams on descriptors 0, 1 and 2; returns its exit status."""
    path = os.path.join(folder, f"{module_name}.py")
    sys.argv = [f"{module_name}.py", *argv]
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", write_through=True)
    try:
        runpy.run_path(path, run_name="__main__")
        for thread in threading.enumerate():  # the interpreter waits for these before it exits
            if not thread.daemon and thread is not threading.current_thread():
                thread.join()
        code = 0
    except SystemExit as exc:
        code = exc.code if exc.code is None or type(exc.code) is int else 1
        if type(exc.code) is not int and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return code or 0
