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

Without root none of this is available: the two processes are still apart (the
judge never imports student code, and takes plain data only), and the report says
once that user and network separation were not in force.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from grader.course import CATALOGUE, ROOT
from grader.student_process import Box

USER = "grader-student"
# Boxes go where the student user can enter whatever TMPDIR says (the grader's may be private).
BOXES = "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else None
RULES = (("iptables", "127.0.0.0/8"), ("ip6tables", "::1/128"))


def account() -> tuple[int, int] | None:
    """The student user's uid and gid when we are root and it exists; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def rule(destination: str) -> list[str]:
    return ["OUTPUT", "-m", "owner", "--uid-owner", USER, "!", "-d", destination, "-j", "REJECT"]


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
    if not course_is_private():
        found.append(f"{ROOT} is readable by {USER}: run setup.sh as root (it makes the checkout private)")
    if not confine_network():
        found.append(f"student code could reach the network: iptables is missing or refused the rule "
                     f"that keeps {USER} on loopback (install iptables)")
    return found


def hand_over(box: Path) -> None:
    """Make `box/code` (the submission's .py files) readable and `box/home` writable by the student user."""
    who = account()
    for path in [box, *box.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (box / "stdlib").mkdir(mode=0o755, exist_ok=True)  # where zygote.py may show the standard library
    home = box / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    if who is not None:
        os.chown(home, *who)


def box(folder: Path, module: str) -> Box:
    """The Box of a submission handed over by `hand_over`."""
    who = account()
    libraries = next((a.libraries for a in CATALOGUE if a.module_name == module), Box.preload)
    return Box(folder=folder / "code", module=module, uid=who[0] if who else None,
               gid=who[1] if who else None, home=folder / "home", preload=libraries)
