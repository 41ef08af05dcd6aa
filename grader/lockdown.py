"""Where student processes run, as whom, and what they can reach: the parts that need root.

When the grader runs as root (CI, the class workflow, Gradescope):

- student processes become `grader-student`, a user of their own (setup.sh
  creates it), so they cannot read or signal the grader, the judge or memcached,
  nor write anywhere but their own folder;
- the course checkout is private (setup.sh: `chmod o-rwx`), so that user cannot
  read the hidden tests, the solutions, the grader's sources or `.venv`; the
  hidden tests the judge runs are in a folder only root can enter;
- they reach loopback only: an iptables rule rejects whatever that user sends to
  an address outside 127.0.0.0/8 (and ::1 for IPv6).

Why an iptables owner rule and not a network namespace: the services stay where
they are, on the machine's loopback. memcached may be given through
MEMCACHED_SERVERS (service containers, published on localhost), and the judge's
fault injection starts and kills its own servers; a namespace would need each of
them started inside it, and given servers cannot be. A rule keyed on the user
follows everything the student's code forks, and costs nothing per test. (One
test does want a namespace: 04-keepalive's dead peer, whose student process gets
one of its own from the zygote, with nothing in it but a loopback.)

Students graded side by side (`grader grade-class`, one slot per job) are kept
apart too: each slot has a user of its own (`grader-student`, `grader-student-2`,
...: a process of one cannot signal another's, nor read its box), and each slot's
grading runs in a network namespace of its own, with its own memcached servers on
its own loopback, so one student's code cannot reach a classmate's services.
Assignments graded side by side in one grading (pipeline.py, as root) are kept apart the same
way: each in a network namespace of its own with its own memcached servers, and each but the
first as a user of its own (`grader-student-lane2`, ...), so that they share no process limit.
Every student process gets private, size-limited scratch space (zygote.py): /tmp,
/var/tmp, /dev/shm and its home are small tmpfs mounts of its own, so it cannot fill
the disk, nor leave a file for the next test or a classmate.

Without root none of this is available: the two processes are still apart (the
judge never imports student code, and takes plain data only), and the report says
once that user and network separation were not in force.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from grader.course import CATALOGUE, ROOT
from grader.student_process import Box

USER = "grader-student"
SLOT_ENV = "GRADER_SLOT"  # set by grade-class: which of the students graded at once this grading is
NETWORK_ENV = "GRADER_OWN_NETWORK"  # set by grade-class: this grading process gets a network of its own
# set by pipeline.py in each worker grading assignments beside others: a user of its own for each, so
# that their student processes share no process limit (RLIMIT_NPROC counts a user's threads)
LANE_ENV = "GRADER_LANE"
# Boxes go where the student user can enter, and outside /tmp, which each student process gets a
# tmpfs of its own over (zygote.py). Without root, the system's temporary folder.
BOXES = "/var/lib/grader-boxes" if os.geteuid() == 0 else None
RULES = (("iptables", "127.0.0.0/8"), ("ip6tables", "::1/128"))


def _number(name: str, default: int) -> int:
    try:
        return max(int(os.environ.get(name, str(default))), default)
    except ValueError:
        return default


def slot() -> int:
    return _number(SLOT_ENV, 1)


def lane() -> int:
    return _number(LANE_ENV, 0)


def user_for(number: int, lane: int = 0) -> str:
    """The student user of slot `number` (1, 2, ...): grader-student, grader-student-2, ...; and of
    `lane` k > 0 within it (pipeline.py: assignments graded side by side): grader-student-lane2, ..."""
    name = USER if number <= 1 else f"{USER}-{number}"
    return name if lane <= 0 else f"{name}-lane{lane}"


def current_user() -> str:
    return user_for(slot(), lane())


def account(user: str | None = None) -> tuple[int, int] | None:
    """The student user's uid and gid (this slot's by default) when we are root and it exists; else None."""
    if os.geteuid() != 0:
        return None
    for name in (user or current_user(), USER):  # a slot without its own user shares the first's
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    return None


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def make_users(count: int, lanes: bool = False) -> list[str]:
    """As root, make sure the users of slots 1..count exist (useradd), or with `lanes`, those of this
    slot's lanes 1..count-1; what could not be made, in words."""
    failed = []
    wanted = ([user_for(slot(), k) for k in range(1, count)] if lanes
              else [user_for(n) for n in range(1, count + 1)])
    for user in wanted:
        if not _exists(user):
            done = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                                   "/nonexistent", "--shell", "/usr/sbin/nologin", user],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                failed.append(f"could not create the user {user}: {done.stderr.strip()}")
    return failed


def boxes() -> str | None:
    """The folder boxes go in (made on first use: root's, enterable by all, listable by none)."""
    if BOXES is not None:
        os.makedirs(BOXES, mode=0o711, exist_ok=True)
        os.chmod(BOXES, 0o711)
    return BOXES


@contextlib.contextmanager
def box_folder() -> Iterator[Path]:
    """A folder for one grading's boxes, removed afterwards: the student user may enter it, and list nothing."""
    with tempfile.TemporaryDirectory(prefix="grader-student-", dir=boxes()) as folder:
        Path(folder).chmod(0o711)
        yield Path(folder)


def rule(destination: str, user: str | None = None) -> list[str]:
    return ["OUTPUT", "-m", "owner", "--uid-owner", user or current_user(), "!", "-d", destination,
            "-j", "REJECT"]


CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def slot_network() -> str | None:
    """Under grade-class as root, with our own memcached servers: a network namespace for this student.

    None when it was made or is not wanted (a single grading, given servers, no root); else why not.
    """
    if NETWORK_ENV not in os.environ or os.geteuid() != 0 or os.environ.get("MEMCACHED_SERVERS"):
        return None
    return own_network()


def may_grade_apart() -> bool:
    """Assignments of this grading may each get a network namespace of their own (schedule.py): as
    root, when grade-class has not already given the whole student one, and when the kernel lets us
    (tried in a throwaway child, so that this process stays where it is)."""
    if os.geteuid() != 0 or NETWORK_ENV in os.environ:
        return False
    pid = os.fork()
    if pid == 0:
        os._exit(0 if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) == 0 else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def own_network() -> str | None:
    """Move this process (and all it starts from now on) into a network namespace of its own, with its
    loopback up; None when done, else why not. Call it before any thread or child is started."""
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        return f"no network namespace of its own for this grading (errno {ctypes.get_errno()})"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    ALONE.append(True)
    return None


ALONE: list[bool] = []  # [True] once this process has a network namespace with nothing but loopback


def _iptables(tool: str, *args: str) -> bool:
    binary = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if binary is None:
        return False
    done = subprocess.run([binary, "-w", "5", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return done.returncode == 0


def confine_network() -> bool:
    """Make sure the loopback-only rule is in place (adding it when missing); False when it cannot be."""
    for tool, destination in RULES:
        if not _iptables(tool, "-C", *rule(destination)) and not _iptables(tool, "-I", *rule(destination)):
            return False
    return True


def course_is_private(root: Path = ROOT) -> bool:
    """Others (the student user among them) can neither list nor enter the checkout."""
    return not os.stat(root).st_mode & 0o005


def problems() -> list[str]:
    """What of the separation is not in force, in words for the report (empty when all is)."""
    if os.geteuid() != 0:
        return ["student code ran as the grader's own user, with the network open: separating its user and "
                "network needs root (grading as root, as CI and the class workflow do)"]
    found = []
    if account() is None:
        return [f"student code ran as root: there is no user {USER} (run setup.sh as root to create it)"]
    mine = current_user()
    if not _exists(mine):
        found.append(f"student code ran as {USER}, shared with the other gradings running at once: there is "
                     f"no user {mine} (grading as root creates one for each)")
    if not course_is_private():
        found.append(f"{ROOT} is readable by {USER}: run setup.sh as root (it makes the checkout private)")
    if not ALONE and not confine_network():
        found.append(f"student code could reach the network: iptables is missing or refused the rule "
                     f"that keeps {USER} on loopback (install iptables)")
    return found


def hand_over(box: Path) -> None:
    """Make `box/code` (the submission's .py files) readable, and `box/home` writable, by this slot's
    student user only (as root: the code is root's, in that user's group; no other slot can read it)."""
    who = account()
    (box / "stdlib").mkdir(exist_ok=True)  # where zygote.py may show the standard library
    (box / "home").mkdir(exist_ok=True)
    for path in [box, *box.rglob("*")]:
        path.chmod((0o750 if path.is_dir() else 0o640) if who else (0o755 if path.is_dir() else 0o644))
        if who is not None:
            os.chown(path, 0, who[1])
    box.chmod(0o711)
    (box / "stdlib").chmod(0o755)
    if who is not None:
        os.chown(box / "home", *who)
        (box / "home").chmod(0o700)


def box(folder: Path, module: str) -> Box:
    """The Box of a submission handed over by `hand_over`: its student user is the owner of its home."""
    home = folder / "home"
    owner = os.stat(home)
    who = (owner.st_uid, owner.st_gid) if os.geteuid() == 0 and owner.st_uid != 0 else None
    libraries = next((a.libraries for a in CATALOGUE if a.module_name == module), Box.preload)
    return Box(folder=folder / "code", module=module, uid=who[0] if who else None,
               gid=who[1] if who else None, home=home, preload=libraries)
