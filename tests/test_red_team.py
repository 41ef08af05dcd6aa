"""Red team: squares.py submissions that attack the grader, each against the property it must not break.

01-cache-aside is graded through student processes behind the wall (wall.py), as every
assignment is. Every attack below is bounded (a fork bomb stops at a few hundred, a
memory bomb at a few GB, loops end) and earns at most what the skeleton earns; no line
of a hidden test or of a solution region reaches the report or the results file; the
grader's files and site-packages are unchanged afterwards; nothing it started is alive.

The attacks run as this test's user (root in CI), and the ones that matter most once
more as an unprivileged user (`as_nobody`): the wall stands without root too. The
network is checked only from what the student process can see and a loopback
service; nothing is ever sent off this machine.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from conftest import as_nobody, function_of, grade, graded, zygote_for
from rich.console import Console

from grader import course, lockdown, report, wall
from grader.child import Limits
from grader.formats import gradescope
from grader.settings import SLOT_ENV, Settings
from grader.student_box import ResourceLimits

CACHE = "01-cache-aside"
SKELETON = (course.SKELETONS / CACHE / "squares.py").read_text()
BRISK = Limits(import_seconds=5, grace=2, linger=1, test_cap=5)  # a stall costs seconds, not minutes
ROOTED = pytest.mark.skipif(not lockdown.root(), reason="needs root")
# A few tests of every kind (Hypothesis, a stand-in, printed output, another process):
# enough for every attack to strike, and quick.
SAMPLE = ("test_square_key_is_sq_colon_n", "test_miss_computes_once_and_returns_the_square",
          "test_prints_ten_successive_runs_like_the_book", "test_keys_are_the_same_in_every_process")

# -- what the attacks share: paths a submission can learn about ----------------------

PRELUDE = '''
import os, sys, signal, time

def _paths():
    """Every absolute path an attacker can learn: around its module, and on every command line."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = [here, os.path.dirname(here), os.path.dirname(os.path.dirname(here)), "/work", "/tmp", os.getcwd()]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                args = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            for part in args.replace("\\0", " ").replace('"', " ").replace(",", " ").split():
                if part.startswith("/"):
                    found += [part, os.path.dirname(part), os.path.dirname(os.path.dirname(part))]
    return found

def _loot(limit=20000):
    """Whatever hidden tests of 01 or its solution can be read from there."""
    text = []
    for start in _paths():
        for root in (start, os.path.join(start, "grader", "hidden"), os.path.join(start, "solutions")):
            for folder, dirs, files in _walk(root):
                for name in files:
                    wanted = name == "squares.py" or (name.startswith("test_") and "01-cache-aside" in folder)
                    if wanted and folder.rstrip("/") != os.path.dirname(os.path.abspath(__file__)):
                        try:
                            text.append(open(os.path.join(folder, name)).read())
                        except OSError:
                            pass
                if sum(map(len, text)) > limit:
                    return "".join(text)[:limit]
    return "".join(text)[:limit]

def _walk(root, depth=4):
    try:
        for entry in os.walk(root):
            if entry[0].count(os.sep) - root.count(os.sep) < depth:
                yield entry
    except OSError:
        return
'''


def attack(code: str) -> str:
    """The skeleton with `code` run at import."""
    return SKELETON + PRELUDE + code


FORGE = '''
import glob, json
secrets = {}  # whatever of the grader's environment can be read: keys, tokens
for pid in ["self", str(os.getppid())] + os.listdir("/proc"):
    try:
        secrets.update(entry.split("=", 1) for entry in open(f"/proc/{pid}/environ").read().split("\\0")
                       if entry.startswith("GRADER"))
    except OSError:
        pass
tests = ["test_square_key_is_sq_colon_n", "test_miss_computes_once_and_returns_the_square"]
for path in _paths() + glob.glob("/tmp/grader-*/*/channel-*.log"):
    if "channel" in path:
        for test in tests:
            try:
                open(path, "a").write(json.dumps({"event": "result", "nodeid": test, "status": "passed"}) + "\\n")
            except OSError:
                pass
if secrets:
    raise RuntimeError(f"read the grader's environment: {secrets}")
'''

ALWAYS_EQUAL = '''
import builtins
class _Anything(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = int.__hash__
builtins.AssertionError = type("AssertionError", (Exception,), {})
try:
    import _pytest.outcomes, _pytest.reports
    _pytest.reports.TestReport.outcome = "passed"
except Exception:
    pass
def square_key(n): return _Anything()
def fetch_square(mc, n, ttl=0): return _Anything()
def make_key(prefix, *parts): return _Anything()
def memoize(mc, prefix, ttl=0): return lambda f: (lambda *a: _Anything())
def run_experiment(*a, **k): return _Anything()
'''

LEAK = '''
_LOOT = _loot()
def _leak(*args, **kwargs):
    raise RuntimeError(_LOOT or "nothing readable")
square_key = fetch_square = make_key = memoize = run_experiment = _leak
'''

TAMPER = '''
import glob, site, sysconfig
targets = []
for start in _paths():
    targets += glob.glob(os.path.join(start, "grader", "*.py"))
    targets += glob.glob(os.path.join(start, "**", "site-packages", "*", "__init__.py"), recursive=False)
    targets += glob.glob(os.path.join(start, "lib", "python3*", "site-packages", "*", "__init__.py"))
for path in targets[:500]:
    try:
        open(path, "a").write("\\nraise SystemExit('tampered')\\n")
    except OSError:
        pass
for folder in sys.path:
    try:
        open(os.path.join(folder, "sitecustomize.py"), "w").write("raise SystemExit('tampered')\\n")
    except OSError:
        pass
'''

DAEMON = '''
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(40):  # a while after grading should be over
            time.sleep(0.5)
        open(os.path.join("/tmp", "red-team-daemon-%d" % os.getuid()), "w").write("still here")
    os._exit(0)
'''

KILL_PARENT = '''
for pid in [os.getppid()] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if pid not in (os.getpid(), 1):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
'''

FORK_BOMB = '''
children = []
for _ in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
'''

MEMORY_BOMB = '''
_hoard = []
try:
    for _ in range(24):  # up to 3 GB
        _hoard.append(bytearray(128 << 20))
except MemoryError:
    pass
'''

PRINT_MEGABYTES = '''
def _shout(*args, **kwargs):
    for _ in range(40):
        print("x" * (1 << 20))
        os.write(1, b"y" * (1 << 20))
        os.write(2, b"z" * (1 << 20))
    raise NotImplementedError()
square_key = fetch_square = make_key = memoize = run_experiment = _shout
'''

FILL_DISK = '''
for folder in (os.environ.get("HOME", "."), "/tmp", "."):
    try:
        with open(os.path.join(folder, "red-team-fill"), "wb") as f:
            for _ in range(100):  # up to 1.6 GB
                f.write(b"\\0" * (16 << 20))
    except OSError:
        pass
    try:
        os.remove(os.path.join(folder, "red-team-fill"))
    except OSError:
        pass
'''

FDS = '''
def _scribble(*args, **kwargs):
    for fd in range(3, 256):
        try:
            os.write(fd, b"\\x00\\x00\\x00\\x0b{\\"ok\\": 49}" * 3)
        except OSError:
            pass
    for fd in range(0, 256):
        try:
            os.close(fd)
        except OSError:
            pass
    return 49
square_key = fetch_square = make_key = memoize = run_experiment = _scribble
'''

SLEEPY = '''
def _stall(*args, **kwargs):
    while True:
        try:
            time.sleep(60)
        except BaseException:
            pass
square_key = _stall
'''

SYSV_IPC = '''
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_segment = _libc.shmget(0x5EED0001, 256 << 20, 0o1666)  # IPC_CREAT | 0666: a segment no process keeps
if _segment >= 0:
    _libc.shmat.restype = ctypes.c_void_p
    _at = _libc.shmat(_segment, None, 0)
    if _at not in (None, ctypes.c_void_p(-1).value):
        ctypes.memset(_at, 1, 256 << 20)  # memory held for real, for as long as the segment lives
        _libc.shmdt(ctypes.c_void_p(_at))
_queue = _libc.msgget(0x5EED0002, 0o1666)
class _Message(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_long), ("text", ctypes.c_char * 64)]
_heard = _Message()
_got = _libc.msgrcv(_queue, ctypes.byref(_heard), 64, 0, 0o4000)  # IPC_NOWAIT: a classmate's message?
_mine = _Message(1, b"note from the grading of " + str(os.getpid()).encode())
_libc.msgsnd(_queue, ctypes.byref(_mine), 64, 0o4000)
def square_key(n):
    raise RuntimeError("heard: " + (_heard.text.decode() if _got > 0 else "nothing"))
'''

FLOOD = '''
def _flood(*args, **kwargs):
    side = sys.modules["_grader_student_side"]
    link = side.LINK[0]
    for number in range(200):  # replies to requests the judge never made, 10 MB each
        data = side.wire.dumps({"id": 10 ** 6 + number, "ok": "x" * (10 << 20), "out": ""})
        with link.lock:
            link.sock.sendall(side.wire.frame(data))
    return "sq:%d" % args[0] if args else None
square_key = fetch_square = make_key = _flood
'''

MARKUP = '''
raise RuntimeError("[/] [bold red]closing what was never opened[/bold red] [link=file:///etc/shadow]x[/link] [/")
'''

DIGITS = '''
def run_experiment(*args, **kwargs):
    print("1" * 1_000_000)
    print("Ten successive runs: " + "1." * 200_000)
    return [0.0] * 10
'''

KEYRING = '''
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_found = _libc.syscall(250, 10, -4, b"user", b"squares.py", 0)  # KEYCTL_SEARCH in the user keyring
_kept = _libc.syscall(248, b"user", b"squares.py", b"def square_key(n): ...", 23, -4)  # add_key, for the next
def square_key(n):
    raise RuntimeError(f"keyring: found {_found} kept {_kept}")
'''

MEMORY_FORKS = '''
def _hoard(*args, **kwargs):
    children = []
    for _ in range(6):  # six processes of 900 MB each: every one under its own address-space limit
        pid = os.fork()
        if pid == 0:
            try:
                block = bytearray(900 << 20)
                time.sleep(8)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    raise NotImplementedError()
square_key = fetch_square = make_key = _hoard
'''

EVENTS = '''
def _report(*args, **kwargs):
    link = sys.modules["_grader_student_side"].LINK[0]
    for _ in range(100):  # a megabyte each, under the limit of one call, which a test's listener keeps
        link.event("expensive_square", ("x" * (1 << 20),))
    return 0
square_key = fetch_square = make_key = _report
'''

ATTACKS = {
    "forge-the-channel": FORGE,
    "always-equal-and-patched-pytest": ALWAYS_EQUAL,
    "leak-hidden-tests-and-solutions": LEAK,
    "tamper-with-grader-and-site-packages": TAMPER,
    "double-fork-daemon": DAEMON,
    "kill-parent-and-everyone": KILL_PARENT,
    "fork-bomb": FORK_BOMB,
    "memory-bomb": MEMORY_BOMB,
    "print-megabytes": PRINT_MEGABYTES,
    "fill-the-disk": FILL_DISK,
    "scribble-on-and-close-fds": FDS,
    "sleep-past-every-limit": SLEEPY,
    "system-v-shared-memory-and-queues": SYSV_IPC,
    "flood-the-judge-with-replies": FLOOD,
    "markup-in-an-import-error": MARKUP,
    "a-million-digits-for-the-timings": DIGITS,
    "the-kernel-keyring-for-the-next-student": KEYRING,
    "processes-that-hold-gigabytes-between-them": MEMORY_FORKS,
    "stand-in-calls-of-a-megabyte": EVENTS,
}

# -- the properties ------------------------------------------------------------------


def _secret_lines() -> set[str]:
    """Lines of the hidden tests and of solution regions that could only come from reading them."""
    lines = set()
    for path in [*(course.HIDDEN / CACHE).glob("*.py"), course.HIDDEN / "conftest.py"]:
        lines |= {line.strip() for line in path.read_text().splitlines()}
    solution = (course.SOLUTIONS / CACHE / "squares.py").read_text()
    for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", solution, re.S):
        lines |= {line.strip() for line in region.splitlines()}
    public = {line.strip() for line in SKELETON.splitlines()}
    return {line for line in lines - public if len(line) >= 30 and not line.startswith(('"""', "#", "@"))
            and not line.endswith('"""')}


def _fingerprint() -> dict[str, tuple]:
    """The grader's sources (by content) and site-packages (by size and time): what an attack might change."""
    prints = {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(),) for p in (course.ROOT / "grader").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    for folder in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        for entry in os.scandir(folder):
            stat = entry.stat(follow_symlinks=False)
            prints[entry.path] = (stat.st_size, stat.st_mtime_ns)
            if entry.is_dir(follow_symlinks=False):
                init = Path(entry.path, "__init__.py")
                if init.exists():
                    prints[str(init)] = (init.stat().st_size, init.stat().st_mtime_ns)
    return prints


def _students_processes(slot: int) -> list[psutil.Process]:
    """Processes still alive (a zombie holds nothing but its number) of the student uids of the grading in
    `slot` (as root: its lanes' uids; without root student code is this user's) that this test started:
    our descendants (grading made us a subreaper, so what escapes comes back to us), or orphans that
    reached init."""
    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    first = lockdown.student_uid(Settings(slot=slot))
    student = (lambda uid: first <= uid < first + 64) if first else (lambda uid: uid == os.getuid())
    found = []
    for p in psutil.process_iter(["uids", "ppid", "cmdline", "status"]):
        uids = p.info["uids"]
        if uids and student(uids.real) and (p.pid in ours or p.info["ppid"] == 1) \
                and p.info["status"] != psutil.STATUS_ZOMBIE \
                and not (first is None and "pytest" in " ".join(p.info["cmdline"] or [])):
            found.append(p)
    return found


def _outputs(result) -> str:
    console = Console(file=io.StringIO(), width=200)
    report.show([result], console, verbose=True)
    return console.file.getvalue() + json.dumps(gradescope.results_json([result], 1.0))


def _ipc_keys(kind: str) -> set[int]:
    """The keys of the System V objects of `kind` (shm, msg) in this process's IPC namespace (the machine's)."""
    with open(f"/proc/sysvipc/{kind}") as table:
        return {int(line.split()[0]) for line in list(table)[1:] if line.split()}


@pytest.fixture(scope="module")
def secrets():
    return _secret_lines()


@pytest.fixture
def decoy(tmp_path_factory):
    """Another checkout of the course on this machine, readable by anyone and named on a running
    process's command line (an instructor's working copy, a second clone): its hidden tests."""
    folder = tmp_path_factory.mktemp("other-checkout")
    shutil.copytree(course.HIDDEN / CACHE, folder / "grader" / "hidden" / CACHE)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    folder.parent.chmod(0o755)
    holder = subprocess.Popen(["sleep", "300", str(folder / "grader" / "hidden" / CACHE / "test_make_key.py")])
    yield folder
    holder.kill()
    holder.wait()


ATTACKER = 3  # the grade-class slot whose uid the attacks run as: killing every process it can see
# (KILL_PARENT), or using up its process limit (FORK_BOMB), must not reach the student processes that
# the other pytest-xdist worker's tests run at the same time as slot 1


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_earns_nothing_reads_nothing_changes_nothing_leaves_nothing(name, submission, secrets, decoy,
                                                                             monkeypatch):
    monkeypatch.setenv(SLOT_ENV, str(ATTACKER))
    before = _fingerprint()
    shm, msg = _ipc_keys("shm"), _ipc_keys("msg")
    started = time.monotonic()
    result = grade(CACHE, submission(CACHE, attack(ATTACKS[name])), limits=BRISK,
                   only=lambda spec: function_of(spec.nodeid) in SAMPLE)
    skeleton = sum(t.score for t in graded(CACHE, "skeleton").tests if function_of(t.spec.nodeid) in SAMPLE)
    assert result.tests and result.score <= skeleton
    said = _outputs(result)  # the report, with its notes, renders: student text is never markup
    leaked = [line for line in secrets if line in said]
    assert leaked == [], f"{len(leaked)} hidden or solution lines reached the outputs, e.g. {leaked[:3]}"
    assert "read the grader's environment" not in said
    assert _fingerprint() == before, "the attack changed the grader's files or site-packages"
    time.sleep(0.5)
    assert _students_processes(ATTACKER) == [], "the attack left processes running"
    assert (_ipc_keys("shm") - shm, _ipc_keys("msg") - msg) == (set(), set()), "System V objects outlived grading"
    assert time.monotonic() - started < 240


@pytest.mark.parametrize("flood, said", [(FLOOD, "flooded the test with 11 replies to requests it never made"),
                                         (EVENTS, "flooded the test with stand-in calls")])
def test_a_flood_of_messages_fails_the_tests_it_meets_and_says_so(flood, said, submission):
    """The judge keeps no reply it did not ask for, and stand-in calls up to 64 MiB: 200 replies of 10 MB,
    or a hundred calls of a megabyte that a test's listener keeps, end the test, not the machine."""
    result = grade(CACHE, submission(CACHE, attack(flood)), limits=BRISK,
                   only=lambda spec: function_of(spec.nodeid) == "test_miss_computes_once_and_returns_the_square")
    [test] = result.tests
    assert not test.passed and said in test.outcome.reason, test.outcome.reason


def test_a_classmates_message_queue_is_out_of_reach(submission, monkeypatch):
    """Two students graded one after the other (or side by side): what one leaves in System V IPC,
    the other never hears."""
    heard = []
    for slot in (ATTACKER, ATTACKER + 1):
        monkeypatch.setenv(SLOT_ENV, str(slot))
        result = grade(CACHE, submission(CACHE, attack(SYSV_IPC)), limits=BRISK,
                       only=lambda spec: function_of(spec.nodeid) == "test_square_key_is_sq_colon_n")
        heard.append(result.tests[0].outcome.reason)
    assert all("heard: nothing" in reason for reason in heard), heard


def test_the_kernel_keyring_carries_nothing_to_the_next_student(submission):
    """Two gradings under the same uid, one after the other: the keyring, which outlives a user's
    processes, is refused to student code (syscall_filter.py), so nothing is kept for the next."""
    said = []
    for _ in range(2):
        result = grade(CACHE, submission(CACHE, attack(KEYRING)), limits=BRISK,
                       only=lambda spec: function_of(spec.nodeid) == "test_square_key_is_sq_colon_n")
        said.append(result.tests[0].outcome.reason)
    assert all("keyring: found -1 kept -1" in reason for reason in said), said


def test_processes_holding_gigabytes_between_them_are_ended(submission):
    """Six children of 900 MB each, every one under its own limit: the zygote ends them all once the
    sandbox holds more than 2 GiB, so the machine never loses more than a little beyond that."""
    lowest = [psutil.virtual_memory().available]
    done = []

    def watch():
        while not done:
            lowest.append(psutil.virtual_memory().available)
            time.sleep(0.02)

    watcher = __import__("threading").Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = grade(CACHE, submission(CACHE, attack(MEMORY_FORKS)), limits=BRISK,
                       only=lambda spec: function_of(spec.nodeid) == "test_square_key_is_sq_colon_n")
    finally:
        done.append(True)
        watcher.join()
    assert not result.tests[0].passed
    assert lowest[0] - min(lowest) < 4 << 30, f"the machine lost {(lowest[0] - min(lowest)) >> 20} MiB"


def test_the_printed_timings_are_read_in_linear_time():
    """A million digits must not cost the judge a backtracking regular expression's seconds."""
    sys.path.insert(0, str(course.HIDDEN / CACHE))
    try:
        import test_experiment as experiment
    finally:
        sys.path.remove(str(course.HIDDEN / CACHE))

    def cost(text: str) -> float:
        started = time.perf_counter()
        experiment._TIMING.findall(text), experiment._HEADER.search(text)
        return time.perf_counter() - started

    plain = min(cost("x" * 1_000_000) for _ in range(3))
    for nasty in ("1" * 1_000_000, "1." * 500_000, "1." + "1" * 1_000_000, "\n" * 1_000_000, " " * 1_000_000):
        assert cost(nasty) < 50 * plain + 0.05, f"{nasty[:5]!r}... is read in more than linear time"


# -- the same attacks, by a grading that is not root -----------------------------------


def test_the_wall_stands_without_root(secrets, decoy):
    """`grader grade` run by an unprivileged user: student code behind the same wall, in a user namespace.
    It reads nothing of the course, forges nothing, and earns what the skeleton earns."""
    targets = [*(course.HIDDEN / CACHE).glob("*.py"), course.SOLUTIONS / CACHE / "squares.py",
               *(decoy / "grader" / "hidden" / CACHE).glob("*.py")]
    module = PRELUDE + FORGE + PRY.format(targets=[str(t) for t in targets], places=[str(course.ROOT), str(decoy)])
    with tempfile.TemporaryDirectory(prefix="red-team-", dir="/tmp") as place:  # where that user may go
        done, results = _grade_as_nobody(Path(place), module)
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(results)
    assert document["score"] == 0 and "extra_data" not in document  # sealed: no "unsealed" mark
    said = done.stdout + results
    leaked = [line for line in secrets if line in said]
    assert leaked == [], f"{len(leaked)} hidden or solution lines reached the outputs, e.g. {leaked[:3]}"
    assert "read the grader's environment" not in said and "read nothing" in said
    assert "uid 65534 caps 0000000000000000 nnp 1 procs" in said and "host grading net ['lo'] read nothing" in said
    forked = int(re.search(r"forked (\d+) ", said).group(1))
    assert forked < 64, f"{forked} processes forked without root: no process limit"


# Read each of `targets` (the course's secrets, by their paths, which the source tells), and every
# process's command line that names one of `places` (the checkouts); raise with what was read.
PRY = '''
_read = []
for _path in {targets!r}:
    try:
        _read.append(open(_path).read())
    except OSError:
        pass
for _pid in os.listdir("/proc"):
    if _pid.isdigit() and _pid != str(os.getpid()):
        try:
            _line = open(f"/proc/{{_pid}}/cmdline").read()
        except OSError:
            continue
        if any(_place in _line for _place in {places!r}):
            _read.append(_line)
import socket
_forked = 0
for _ in range(200):  # the process limit holds without root too (counted in the sandbox's user namespace)
    try:
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        _forked += 1
    except OSError:
        break
_status = dict(line.split(":", 1) for line in open("/proc/self/status"))
_seen = (f"forked {{_forked}} uid {{os.getuid()}} caps {{_status['CapEff'].strip()}} "
         f"nnp {{_status['NoNewPrivs'].strip()}} "
         f"procs {{len([p for p in os.listdir('/proc') if p.isdigit()])}} host {{socket.gethostname()}} "
         f"net {{sorted(n for _, n in socket.if_nameindex())}}")
raise RuntimeError(_seen + " read " + ("".join(_read)[-400:] if _read else "nothing"))
'''


def _grade_as_nobody(place: Path, text: str) -> tuple[subprocess.CompletedProcess, str]:
    folder = place / "submission" / "04-keepalive"
    folder.mkdir(parents=True)
    (folder / "keepalive.py").write_text(text)
    (place / "out").mkdir()
    for path in [place, *place.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o644)
    results = place / "out" / "results.json"
    done = as_nobody([str(course.ROOT / ".venv" / "bin" / "grader"), "grade", "04-keepalive", "--submission",
                      str(folder.parent), "--results", str(results)])
    return done, results.read_text() if results.exists() else "{}"


def test_without_a_wall_grading_refuses_or_says_unsealed_on_every_result(submission, tmp_path):
    """No bubblewrap: `grader grade` refuses, saying what is missing; with --unsealed it grades, and
    the table, results.json and the class CSV say "unsealed"."""
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "memcached").symlink_to(shutil.which("memcached"))
    env = {**os.environ, "PATH": str(bare)}
    folder = submission("04-keepalive", (course.SOLUTIONS / "04-keepalive" / "keepalive.py").read_text())
    command = [sys.executable, "-m", "grader", "grade", "04-keepalive", "--submission", str(folder)]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 4 and "bwrap is not installed" in refused.stderr and "--unsealed" in refused.stderr
    results = tmp_path / "results" / "alice.json"
    done = subprocess.run([*command, "--unsealed", "--results", str(results)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(unsealed)" in done.stdout and "unsealed: student code ran without the wall" in done.stdout
    document = json.loads(results.read_text())
    assert document["extra_data"] == {"unsealed": True}
    assert all(test["output"].startswith("[unsealed]") for test in document["tests"])
    from grader.formats import class_csv

    class_csv.write_csv(class_csv.collect(results.parent), tmp_path / "class.csv")
    assert (tmp_path / "class.csv").read_text().splitlines()[1].endswith(",unsealed")


# -- what the student process sees ----------------------------------------------------

SPY = '''
import os, socket, subprocess

def whoami():
    return [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()]

def status():
    """Its capabilities and no_new_privs, as the kernel says."""
    found = {}
    for line in open("/proc/self/status"):
        name, _, value = line.partition(":")
        if name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
            found[name] = value.strip()
    return found

def can_read(path):
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False

def can_list(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False

def listing(path):
    return sorted(os.listdir(path))

def can_import(name):
    try:
        __import__(name)
        return True
    except Exception:
        return False

def processes():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

def hostname():
    return socket.gethostname()

def connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            return "connected"
    except OSError as exc:
        return type(exc).__name__

def interfaces():
    return sorted(name for _, name in socket.if_nameindex())

def limits():
    import resource
    return [resource.getrlimit(getattr(resource, n))[0] for n in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC",
                                                                  "RLIMIT_FSIZE", "RLIMIT_NOFILE")]

def open_fds():
    return sorted(int(fd) for fd in os.listdir("/proc/self/fd"))

def environment():
    return dict(os.environ)

def scratch():
    """Every place this process may write, with the size of the file system it is on."""
    places = {}
    for folder, dirs, files in os.walk("/", topdown=True):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in ("/proc", "/sys", "/dev")]
        if os.access(folder, os.W_OK):
            found = os.statvfs(folder)
            places[folder] = found.f_blocks * found.f_frsize
            dirs[:] = []
    for place in ("/dev/shm",):
        if os.access(place, os.W_OK):
            found = os.statvfs(place)
            places[place] = found.f_blocks * found.f_frsize
    return places

def signal_to(pid):
    try:
        os.kill(pid, 0)
        return "delivered"
    except OSError as exc:
        return type(exc).__name__

def leave(name):
    with open(os.path.join("/tmp", name), "w") as f:
        f.write("x")
    return sorted(os.listdir("/tmp"))

def share_memory():
    """A System V segment and queue; the keys this process then sees."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget(0x5EED0003, 1 << 20, 0o1666)
    libc.msgget(0x5EED0004, 0o1666)
    return ipc_keys()

def refused():
    """What the syscall filter refuses: a key in the user keyring, a user namespace (for a tmpfs beyond limits)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    key = libc.syscall(248, b"user", b"spy", b"x", 1, -4)
    key_error = ctypes.get_errno()
    namespace = libc.unshare(0x10000000)
    return [key, os.strerror(key_error), namespace, os.strerror(ctypes.get_errno())]

def ipc_keys():
    keys = []
    for kind in ("shm", "msg"):
        with open(f"/proc/sysvipc/{kind}") as table:
            keys += [int(line.split()[0]) for line in list(table)[1:] if line.split()]
    return sorted(keys)
'''


@pytest.fixture
def spy():
    """A student process running SPY (in a box as grading makes them), and its module."""
    with zygote_for("spy", SPY) as zygote:
        process = zygote.spawn()
        process.start(timeout=30)
        yield process.module()
        process.end()


def _non_loopback_address() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return None


def test_the_student_process_is_unprivileged_and_alone(spy):
    """Not root (as root: a uid of its own), no capability, no new privileges, few descriptors, no secret
    in its environment; a host name, and processes, of its own: it sees only its sandbox's."""
    uid = lockdown.student_uid(Settings.from_environment()) or os.getuid()
    assert spy.whoami() == [uid, uid, uid if lockdown.root() else os.getgid(), []]
    assert uid != 0
    status = spy.status()
    assert status["NoNewPrivs"] == "1" and {status[c] for c in ("CapInh", "CapPrm", "CapEff", "CapAmb")} == {
        "0000000000000000"}
    assert spy.limits()[1] <= 1 << 30 and (spy.limits()[2] is not None) == lockdown.root()
    assert spy.open_fds()[:3] == [0, 1, 2] and len(spy.open_fds()) <= 6  # stdio, the judge's two sockets
    assert not any(name.startswith("GRADER") for name in spy.environment())
    assert spy.hostname() == "grading"
    assert spy.refused() == [-1, "Operation not permitted", -1, "Operation not permitted"]
    assert len(spy.processes()) <= 4 and 1 in spy.processes()  # its zygote (pid 1), itself, no one else
    assert spy.signal_to(os.getpid()) in ("ProcessLookupError", "PermissionError")


def test_the_student_process_sees_nothing_of_the_course(spy):
    for path in [course.ROOT / "grader" / "hidden" / CACHE / "test_fetch_square.py",
                 course.SOLUTIONS / CACHE / "squares.py", course.ROOT / "grader" / "scoring.py",
                 course.ROOT / ".venv" / "pyvenv.cfg", Path(sys.prefix) / "var"]:
        assert not spy.can_read(str(path)), path
    assert not spy.can_list(str(course.ROOT)) and not spy.can_list("/root/.ssh")
    shown = {"bin", "box", "dev", "etc", "grader", "home", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp",
             "usr", "var", *(Path(folder).parts[1] for folder in wall.python_folders())}
    assert set(spy.listing("/")) <= shown and spy.listing("/home") == ["student"] and spy.listing("/box") == ["spy.py"]
    assert not spy.can_import("grader") and not spy.can_import("pytest") and not spy.can_import("mirakuru")
    assert spy.can_import("pymemcache.client.hash") and spy.can_import("zmq") and spy.can_import("decimal")


def test_the_student_process_writes_only_to_small_scratch_space_of_its_own(spy):
    """Its home, /tmp and the like are tmpfs mounts of Limits.scratch bytes; nothing else is writable."""
    places = spy.scratch()
    assert places and set(places) <= {"/tmp", "/var/tmp", "/dev/shm", wall.HOME}, places
    assert all(size <= ResourceLimits().scratch for size in places.values()), places
    assert spy.leave("red-team-note") == ["red-team-note"]


def test_what_one_process_leaves_is_gone_for_the_next():
    """A file in /tmp, a System V segment and queue: the next student process meets none of them."""
    with zygote_for("spy", SPY) as zygote:
        first = zygote.spawn()
        first.start(timeout=30)
        first.module().leave("red-team-note")
        assert {0x5EED0003, 0x5EED0004} <= set(first.module().share_memory())
        first.end()
        second = zygote.spawn()
        second.start(timeout=30)
        assert "red-team-note" not in second.module().leave("other")
        assert second.module().ipc_keys() == []
        second.end()
    assert 0x5EED0003 not in _ipc_keys("shm"), "the segment reached the machine's IPC namespace"


def test_students_graded_side_by_side_cannot_see_or_signal_each_other(monkeypatch):
    """Slot 2's process does not see slot 1's (another PID namespace), nor its box (another mount
    namespace); as root it is another uid too, so they share no process limit."""
    with zygote_for("spy", SPY) as one:
        monkeypatch.setenv(SLOT_ENV, "2")
        with zygote_for("spy", SPY) as two:
            first, second = one.spawn(), two.spawn()
            for process in (first, second):
                process.start(timeout=30)
            if lockdown.root():
                assert first.module().whoami()[0] != second.module().whoami()[0]
            assert not second.module().can_read(str(one.box.folder / "spy.py"))
            assert second.module().signal_to(first.pid) in ("ProcessLookupError", "PermissionError")
            assert first.pid not in second.module().processes() or first.pid == second.pid
            first.end(), second.end()


LOOKS_AROUND = """
import socket
def _try(host):
    try:
        socket.create_connection((host, {port}), timeout=2)
        return "reached"
    except OSError:
        return "unreachable"
_names = sorted(name for _, name in socket.if_nameindex())
raise RuntimeError("sees %s outside %s loopback %s" % (_names, _try({host!r}), _try("127.0.0.1")))
"""


@pytest.mark.skipif(_non_loopback_address() is None, reason="this machine has no address but loopback")
def test_student_code_reaches_loopback_only(submission):
    """A listener of ours on every address of this machine: student code, graded, reaches it on no
    address, the machine's loopback included (its grading has a loopback of its own)."""
    with socket.create_server(("0.0.0.0", 0)) as listener:
        module = LOOKS_AROUND.format(port=listener.getsockname()[1], host=_non_loopback_address())
        result = grade("04-keepalive", submission("04-keepalive", module), limits=BRISK,
                       only=lambda spec: "listen_returns" in spec.nodeid)
    assert "sees ['lo'] outside unreachable loopback unreachable" in result.problem, result.problem


def test_a_slot_network_is_a_loopback_of_its_own():
    """What grade-class gives each student: only `lo`, up, where a listener of ours outside is not."""
    if not lockdown.may_have_own_network():
        pytest.skip("network namespaces need root, or unprivileged user namespaces")
    with socket.create_server(("127.0.0.1", 0)) as outside:
        probe = ("from grader import lockdown; import socket\n"
                 "assert lockdown.own_network() is None\n"
                 "print(sorted(n for _, n in socket.if_nameindex()))\n"
                 "with socket.create_server(('127.0.0.1', 0)) as own, socket.create_connection(own.getsockname()):\n"
                 "    print('own loopback answers')\n"
                 f"try:\n    socket.create_connection(('127.0.0.1', {outside.getsockname()[1]}), timeout=2)\n"
                 "    print('reached outside')\nexcept OSError:\n    print('outside unreachable')\n")
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['lo']", "own loopback answers", "outside unreachable"]


@pytest.mark.parametrize("judged", course.CATALOGUE, ids=lambda a: a.id)
def test_the_judge_never_imports_the_students_module(judged):
    """The hidden tests of a judged assignment reach the module only through a student process."""
    module = judged.module_name
    for path in judged.hidden_dir.glob("*.py"):
        text = path.read_text()
        assert not re.search(rf"^\s*(from|import)\s+{module}\b", text, re.M), path.name
        assert f"student(\"{module}\")" not in text, path.name
        assert "run_python" not in text, path.name


def test_student_text_that_no_terminal_or_file_takes_is_kept_as_escapes(submission, tmp_path):
    """A lone surrogate, and a terminal's escape sequences (clear the screen, set the title, write the
    clipboard), in an error message: the grade is written, and nothing reaches the terminal raw."""
    text = ('raise RuntimeError("x \\ud800 \\x1b[2J\\x1b[H\\x1b]0;77/77\\x1b\\\\ '
            '\\x1b]52;c;ZWNobyBoaQ==\\x07 \\x9b31m done")\n')
    folder = submission(CACHE, SKELETON + text)
    results = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "grader", "grade", CACHE, "--submission", str(folder), "--results",
                           str(results)], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = done.stdout.decode("utf-8")
    assert "\x1b" not in shown and "\x9b" not in shown and "\\x1b[2J" in shown
    document = json.loads(results.read_text())
    assert document["score"] == 0 and "\\x1b[2J" in document["output"] and "\\ud800" in document["output"]


def test_servers_given_from_outside_are_refused(memcached_servers, tmp_path):
    """MEMCACHED_SERVERS would put student code on the machine's network, where every loopback service and
    abstract Unix socket is within reach: grading refuses it, saying why."""
    env = {**os.environ, "MEMCACHED_SERVERS": memcached_servers[0].name}
    done = subprocess.run([sys.executable, "-m", "grader", "grade", CACHE, "--submission", str(course.SOLUTIONS)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 4 and "MEMCACHED_SERVERS is set" in done.stderr and "--unsealed" in done.stderr
