"""Red team: squares.py submissions that attack the grader, each against the property it must not break.

01-cache-aside is graded through student processes (every assignment is). Every
attack below is bounded (a fork bomb stops at a few hundred, a memory bomb at a
few GB, loops end) and earns at most what the skeleton earns; no line of a hidden
test or of a solution region reaches the report or the results file; the grader's
files and site-packages are unchanged afterwards; nothing it started is alive.

The separation of user and network needs root: those checks are skipped without
it. The network is checked only from what the student process can see and a
loopback service; nothing is ever sent off this machine.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import psutil
import pytest
from conftest import function_of, grade, graded, zygote_for
from rich.console import Console

from grader import course, lockdown, report
from grader.child import Limits
from grader.formats import gradescope
from grader.student_process import Limits as StudentLimits

CACHE = "01-cache-aside"
SKELETON = (course.SKELETONS / CACHE / "squares.py").read_text()
BRISK = Limits(import_seconds=5, grace=2, linger=1, test_cap=5)  # a stall costs seconds, not minutes
ROOTED = pytest.mark.skipif(lockdown.account() is None, reason="needs root and the grader-student user (setup.sh)")
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
import gc, glob
key = os.environ.get("GRADER_CHANNEL_KEY")
for pid in ["self", str(os.getppid())] + os.listdir("/proc"):
    try:
        key = key or dict(l.split("=", 1) for l in open(f"/proc/{pid}/environ").read().split("\\0") if "=" in l).get("GRADER_CHANNEL_KEY")
    except OSError:
        pass
for obj in gc.get_objects():
    if type(obj).__name__ in ("Recorder", "Session"):
        key = key or getattr(obj, "key", None)
import hmac, hashlib, json
tests = ["test_square_key_is_sq_colon_n", "test_miss_computes_once_and_returns_the_square"]
for path in _paths() + glob.glob("/tmp/grader-*/*/channel-*.log"):
    if "channel" in path:
        for test in tests:
            payload = json.dumps({"event": "result", "nodeid": test, "status": "passed"})
            mac = hmac.new((key or "0").encode(), payload.encode(), hashlib.sha256).hexdigest()
            try:
                open(path, "a").write(f"{mac} {payload}\\n")
            except OSError:
                pass
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
    targets += glob.glob(os.path.join(start, "grader", "*.py")) + glob.glob(os.path.join(start, "**", "site-packages", "*", "__init__.py"), recursive=False)
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


def _students_processes() -> list[psutil.Process]:
    """The student user's processes that this test started: our descendants (grading made us a
    subreaper, so daemons come back to us), or orphans that reached init. Another pytest-xdist
    worker's gradings run as other users (ATTACKER), under that worker: not counted."""
    if lockdown.account() is None:
        return []
    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    return [p for p in psutil.process_iter(["username", "ppid"])
            if (p.info["username"] or "").startswith(lockdown.USER) and (p.pid in ours or p.info["ppid"] == 1)]


def _outputs(result) -> str:
    console = Console(file=io.StringIO(), width=200)
    report.show([result], console, verbose=True)
    return console.file.getvalue() + json.dumps(gradescope.results_json([result], 1.0))


@pytest.fixture(scope="module")
def secrets():
    return _secret_lines()


ATTACKER = 3  # the grade-class slot whose user the attacks run as: killing every process of their own
# user (KILL_PARENT), or using up its process limit (FORK_BOMB), must not reach the student processes
# that the other pytest-xdist worker's tests run at the same time as grader-student


@ROOTED  # without root, student code runs as the grader's user: it could read and write what we can
@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_earns_nothing_reads_nothing_changes_nothing_leaves_nothing(name, submission, secrets, monkeypatch):
    assert lockdown.make_users(ATTACKER) == []
    monkeypatch.setenv(lockdown.SLOT_ENV, str(ATTACKER))
    before = _fingerprint()
    started = time.monotonic()
    result = grade(CACHE, submission(CACHE, attack(ATTACKS[name])), limits=BRISK,
                   only=lambda spec: function_of(spec.nodeid) in SAMPLE)
    skeleton = sum(t.score for t in graded(CACHE, "skeleton").tests if function_of(t.spec.nodeid) in SAMPLE)
    assert result.tests and result.score <= skeleton
    leaked = [line for line in secrets if line in _outputs(result)]
    assert leaked == [], f"{len(leaked)} hidden or solution lines reached the outputs, e.g. {leaked[:3]}"
    assert _fingerprint() == before, "the attack changed the grader's files or site-packages"
    time.sleep(0.5)
    assert _students_processes() == [], "the attack left processes running"
    assert time.monotonic() - started < 240


# -- what the student process sees (root only) ----------------------------------------

SPY = '''
import os, socket, subprocess

def whoami():
    return [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()]

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

def can_import(name):
    try:
        __import__(name)
        return True
    except Exception:
        return False

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
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", os.environ["HOME"], ".", "/var/lib/grader-boxes"):
        if os.path.isdir(place) and os.access(place, os.W_OK):
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
'''


@pytest.fixture
def spy():
    """A student process running SPY (in a box as the pipeline makes them), and its module."""
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


@ROOTED
def test_the_student_process_is_its_own_unprivileged_user(spy):
    uid, gid = lockdown.account()
    assert spy.whoami() == [uid, uid, gid, []]
    assert spy.limits()[2] is not None and spy.limits()[1] <= 1 << 30
    assert spy.open_fds()[:3] == [0, 1, 2] and len(spy.open_fds()) <= 5  # stdio, the socket to the judge
    assert "GRADER_CHANNEL_KEY" not in spy.environment()


@ROOTED
def test_the_student_process_cannot_read_the_course_or_import_the_grader(spy):
    assert lockdown.course_is_private(), "run setup.sh as root first"
    for path in [course.ROOT / "grader" / "hidden" / CACHE / "test_fetch_square.py",
                 course.SOLUTIONS / CACHE / "squares.py", course.ROOT / "grader" / "scoring.py",
                 course.ROOT / ".venv" / "pyvenv.cfg"]:
        assert not spy.can_read(str(path)), path
    assert not spy.can_list(str(course.ROOT))
    assert not spy.can_import("grader") and not spy.can_import("pytest")
    assert spy.can_import("pymemcache.client.hash") and spy.can_import("zmq") and spy.can_import("decimal")


@ROOTED
def test_the_student_process_reaches_loopback_only(spy):
    """Checked on this machine only: a listener of ours answers on loopback, and refuses on another address."""
    assert lockdown.confine_network()
    outside = _non_loopback_address()
    with socket.create_server(("0.0.0.0", 0)) as listener:
        port = listener.getsockname()[1]
        assert spy.connect("127.0.0.1", port) == "connected"
        if outside:
            assert spy.connect(outside, port) != "connected", f"reached {outside}, which is not loopback"
    assert "lo" in spy.interfaces()


@ROOTED
def test_the_student_process_writes_only_to_small_scratch_space_of_its_own(spy):
    """Its home, /tmp and the like are tmpfs mounts of Limits.scratch bytes; nothing else is writable."""
    places = spy.scratch()
    assert places and set(places) <= {"/tmp", "/var/tmp", "/dev/shm", "/run/lock", spy.environment()["HOME"]}, places
    assert all(size <= StudentLimits().scratch for size in places.values()), places
    assert spy.leave("red-team-note") == ["red-team-note"]


@ROOTED
def test_a_file_left_in_tmp_is_gone_for_the_next_process():
    with zygote_for("spy", SPY) as zygote:
        first, second = zygote.spawn(), zygote.spawn()
        for process in (first, second):
            process.start(timeout=30)
        first.module().leave("red-team-note")
        assert "red-team-note" not in second.module().leave("other")
        first.end(), second.end()


@ROOTED
def test_students_graded_side_by_side_cannot_read_or_signal_each_other(monkeypatch):
    """Slot 2 has its own user: its process cannot read slot 1's submission nor signal slot 1's process."""
    assert lockdown.make_users(2) == []
    with zygote_for("spy", SPY) as one:
        monkeypatch.setenv(lockdown.SLOT_ENV, "2")
        with zygote_for("spy", SPY) as two:
            first, second = one.spawn(), two.spawn()
            for process in (first, second):
                process.start(timeout=30)
            assert first.module().whoami()[0] != second.module().whoami()[0]
            assert not second.module().can_read(str(one.box.folder / "spy.py"))
            assert second.module().signal_to(first.pid) == "PermissionError"
            first.end(), second.end()


def test_a_slot_network_is_a_loopback_of_its_own():
    """What grade-class gives each student as root: only `lo`, up, where a listener of ours outside is not."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
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
