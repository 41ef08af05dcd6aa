"""Every message between the judge, the zygote and a student process, declared once, and checked on arrival.

Three conversations, each over a socket of its own (plain data only: wire.py):

- **judge -> zygote** (control socket): `spawn` a student process (optionally in a
  network namespace of its own), run the module as a `script`, `end` a process; the
  zygote answers `{"pid"}` or, for `end`, how the process ended.
- **judge -> student process** (its socket): `call` a target (in the background, for
  each of many inputs, several times, keeping the result), `get` an attribute,
  `assign` one. The student process answers each by its `id` (`ok`, `ref`, `raised`,
  `refused`), says once that the module imported (`ready`) or could not (`raised`,
  during import), and reports stand-in calls as `event`s (or a `bad_event` it could
  not send); every message carries what was printed since the last (`out`).
- **student process -> judge** (the asking socket): a stand-in the judge answers asks
  `{"name", "args"}`; the judge answers `{"value"}` or `{"refused"}`.

A message that is not declared here is refused on arrival, loudly: by the student
process as a reply that names it, by the zygote as an error reply, and by the judge as
the end of its conversation with that process. The exit statuses the zygote gives
its children, and the hello each child sends first, are declared here too.

Loaded by path inside the sandbox (zygote.py, student_side.py) as well as imported by
the judge: standard library only.
"""
from typing import Literal, NotRequired, TypedDict

HELLO = b"grader: a student process, ready\n"  # each child's first words, sent with SCM_CREDENTIALS
SETUP_FAILED = 111  # the exit status of a child that could not be locked down: the grader's problem
NO_PRIVATE_NETWORK = 112  # ... that could not have a network namespace of its own: the machine's limit


# -- judge -> zygote ---------------------------------------------------------------------


class Spawn(TypedDict):
    op: Literal["spawn"]
    network: NotRequired[Literal["private"]]


class Script(TypedDict):
    op: Literal["script"]
    argv: list[str]


class End(TypedDict):
    op: Literal["end"]
    pid: int
    grace: NotRequired[float]


class Started(TypedDict):
    pid: int


class Ended(TypedDict):
    killed: bool
    exit: int | None


class Refused(TypedDict):
    """What the zygote answers to a request it does not know: the grader's own mistake, said loudly."""

    error: str


# -- judge -> student process ------------------------------------------------------------


class Call(TypedDict):
    op: Literal["call"]
    id: int
    target: dict
    args: list
    kwargs: dict
    each: NotRequired[list]
    spread: NotRequired[bool]
    keep: NotRequired[bool]
    background: NotRequired[bool]
    times: NotRequired[int]


class Get(TypedDict):
    op: Literal["get"]
    id: int
    target: dict


class Assign(TypedDict):
    op: Literal["assign"]
    id: int
    name: str
    value: object


# -- student process -> judge ------------------------------------------------------------


class Reply(TypedDict):
    out: str
    id: NotRequired[int | None]
    ok: NotRequired[object]
    ref: NotRequired[int]
    raised: NotRequired[dict]
    at: NotRequired[int]
    refused: NotRequired[str]
    ready: NotRequired[bool]
    during: NotRequired[str]
    undeclared: NotRequired[str]  # the request was not one declared here: the grader's mistake


class Event(TypedDict):
    out: str
    event: list  # [stand-in name, its arguments as a tuple]


class BadEvent(TypedDict):
    out: str
    bad_event: str


# -- the asking socket -------------------------------------------------------------------


class Ask(TypedDict):
    name: str
    args: tuple


class Answer(TypedDict):
    value: NotRequired[object]
    refused: NotRequired[str]


JUDGE_TO_ZYGOTE = {"spawn": Spawn, "script": Script, "end": End}
JUDGE_TO_STUDENT = {"call": Call, "get": Get, "assign": Assign}
NUMBERS = (int, float)


def _matches(value, kind) -> bool:
    """Whether `value` is of the declared `kind` (the few kinds used above)."""
    origin = getattr(kind, "__origin__", None)
    if kind is object:
        return True
    if origin is Literal:
        return value in kind.__args__
    if kind is float:
        return type(value) in NUMBERS and type(value) is not bool
    if isinstance(kind, type):
        return type(value) is kind
    if origin in (list, tuple, dict):  # list[str]: a list, each of its items a str
        items = value if origin is not dict else value.values()
        return type(value) is origin and all(_matches(item, kind.__args__[-1]) for item in items)
    args = getattr(kind, "__args__", ())  # int | None
    return any(_matches(value, arg) for arg in args)


def problem(message, declared: type) -> str | None:
    """Why `message` is not a `declared` message (a TypedDict above), or None when it is."""
    if type(message) is not dict:
        return f"not a {declared.__name__} message: a {type(message).__name__}"
    hints = declared.__annotations__
    required = declared.__required_keys__
    unknown = set(message) - set(hints)
    if unknown:
        return f"{declared.__name__} has no {', '.join(sorted(map(str, unknown)))[:100]}"
    missing = required - set(message)
    if missing:
        return f"{declared.__name__} lacks {', '.join(sorted(missing))}"
    for key, value in message.items():
        kind = hints[key]
        if getattr(kind, "__origin__", None) is NotRequired:
            kind = kind.__args__[0]
        if not _matches(value, kind):
            return f"{declared.__name__}.{key} cannot be a {type(value).__name__}"
    return None


def request_problem(message, ops: dict[str, type]) -> str | None:
    """Why `message` is not one of the requests `ops` declares (by its `op`), or None."""
    op = message.get("op") if type(message) is dict else None
    if op not in ops:
        return f"an undeclared request {str(op)[:40]!r}"
    return problem(message, ops[op])
