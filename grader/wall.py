"""The wall around student code: a bubblewrap sandbox that shows it only what it needs.

Every process that runs student code starts inside `bwrap` (Debian's and Ubuntu's
package `bubblewrap`): the parent of the student processes (zygote.py) once per
grading, and each lab notebook's kernel under `nbgrader autograde`. Inside:

- a mount namespace of its own, read-only, that shows the Python it runs, the
  packages students may import, the few grader files the student side loads, and
  its own folder (the submission's `.py` files); /usr for the C libraries. Nothing
  else of the machine is there: no checkout, no hidden test, no solution, no
  gradebook, no other student's box. Scratch space (/tmp, /var/tmp, /dev/shm and
  its home) is small tmpfs of its own;
- PID, IPC, UTS (and cgroup) namespaces of its own: it sees no other process, its
  System V objects die with it, and when its first process ends, every process in
  it ends;
- no new privileges (bwrap sets PR_SET_NO_NEW_PRIVS), and never the host's root.

Two ways to be built, one wall:

- the grader runs as **root** (CI, the class workflow, Gradescope): bwrap runs
  privileged, without a user namespace, keeping only the capabilities the zygote
  needs to lock each student process down before it runs a line of student code
  (its own tmpfs scratch and IPC namespace, a network namespace when a test asks,
  then a numeric uid of its own: lockdown.student_uid(); no account is needed);
- the grader runs as **another user** (an instructor's laptop): bwrap makes a user
  namespace (unprivileged user namespaces must be allowed: Debian's default; on
  Ubuntu 24.04 see docs/instructors.md), and everything in it runs as that user,
  without any capability outside it.

The network the sandbox shares is the grading's own: a namespace with nothing but
a loopback, where the grading's memcached servers run (lockdown.py).

This module builds command lines and probes; it starts nothing that stays.
"""
from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

GRADER = Path(__file__).resolve().parent
# The grader's files the student side loads by path (never the package: it is not there).
STUDENT_SIDE = ("zygote.py", "wire.py", "protocol.py", "student_side.py", "syscall_filter.py")
INSIDE = "/grader"  # where those files are, inside
SITE = "/grader/site"  # where the packages students may import are, inside
BOX = "/box"  # the submission's .py files, inside
HOME = "/home/student"
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", HOME)
# What a root zygote keeps: mounts and namespaces for each child (SYS_ADMIN), becoming the
# student's uid (SETUID, SETGID) with an empty bounding set (SETPCAP), and killing what its children
# leave (KILL).
ZYGOTE_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL")
INSTALL = "install bubblewrap ('sudo apt-get install bubblewrap' on Debian or Ubuntu)"


class Unsealed(RuntimeError):
    """No wall can be built here: grading refuses, unless told --unsealed."""


@dataclass(frozen=True)
class View:
    """What one sandbox shows, besides the system's libraries and the Python that runs."""

    read_only: tuple[tuple[str, str], ...] = ()  # (outside, inside)
    writable: tuple[tuple[str, str], ...] = ()
    scratch_bytes: int = 64 << 20  # each of /tmp, /var/tmp, /dev/shm and the home
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    capabilities: tuple[str, ...] = ()  # kept when bwrap runs as root; none otherwise
    own_network: bool = False  # a network namespace of its own (only a loopback); else the grading's
    hidden: tuple[str, ...] = ()  # folders inside what is shown, covered by an empty tmpfs


def bwrap() -> str | None:
    return shutil.which("bwrap")


def python() -> Path:
    """The real interpreter behind this one (a virtual environment's python is a link to it)."""
    return Path(os.path.realpath(sys.executable))


def python_folders() -> list[str]:
    """The interpreter's own folders (the standard library with it), unless /usr holds them already."""
    base = Path(sys.base_prefix).resolve()
    return [] if base == Path("/usr") or Path("/usr") in base.parents else [str(base)]


def library_folders(names: tuple[str, ...]) -> list[Path]:
    """The folders in site-packages that make up the distributions of the packages `names`
    (pyzmq is zmq/ and pyzmq.libs/, where its libzmq is), for the sandbox to show them."""
    found: list[Path] = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        home = Path(next(iter(spec.submodule_search_locations))).parent
        tops = {name}
        for distribution in importlib.metadata.packages_distributions().get(name, []):
            files = importlib.metadata.distribution(distribution).files or []
            tops |= {f.parts[0] for f in files if not f.parts[0].endswith(".dist-info") and len(f.parts) > 1}
        found += [home / top for top in sorted(tops) if (home / top).is_dir()]
    return found


ETC = GRADER / "walled_etc"  # the few files of /etc a Python program expects: who root is, what localhost is


def system_arguments() -> list[str]:
    """/usr read-only, the merged-/usr links (or folders) beside it, and the files of /etc it needs."""
    arguments = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    for name in ("ld.so.cache", "localtime"):
        arguments += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return arguments


def command(program: list[str], view: View, root: bool) -> list[str]:
    """The bwrap command line that runs `program` behind the wall, showing `view`.

    `root`: bwrap runs privileged, keeping `view.capabilities` (else none)."""
    binary = bwrap()
    if binary is None:
        raise Unsealed(f"no sandbox: bwrap is not installed; {INSTALL}")
    arguments = [binary, *system_arguments()]
    made: set[str] = set()

    def mount(*how: str) -> None:
        """A mount at how[-1], its missing parents made first, open to all (bwrap makes them 0700)."""
        for parent in reversed(Path(how[-1]).parents):
            if str(parent) not in made and parent != Path("/"):
                arguments.extend(["--perms", "0755", "--dir", str(parent)])
                made.add(str(parent))
        arguments.extend(how)

    arguments += ["--proc", "/proc", "--dev", "/dev"]
    made.update({"/proc", "/dev"})
    for place in SCRATCH:  # first: what is shown below them (a notebook's folder in /tmp) goes over them
        mount("--perms", "1777", "--size", str(view.scratch_bytes), "--tmpfs", place)  # the student's uid may write
        made.add(place)
    for folder in python_folders():
        mount("--ro-bind", folder, folder)
    for name in ("passwd", "group", "hosts", "nsswitch.conf"):
        mount("--ro-bind", str(ETC / name), f"/etc/{name}")
    for outside, inside in view.read_only:
        mount("--ro-bind", outside, inside)
    for outside, inside in view.writable:
        mount("--bind", outside, inside)
    for inside in view.hidden:
        arguments += ["--tmpfs", inside]
    arguments += ["--unshare-net"] if view.own_network else []
    arguments += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                  "--hostname", "grading", "--die-with-parent", "--new-session", "--as-pid-1"]
    if root:
        arguments += ["--cap-drop", "ALL"]
        for capability in view.capabilities:
            arguments += ["--cap-add", capability]
    arguments += ["--clearenv"]
    for name, value in view.env.items():
        arguments += ["--setenv", name, value]
    arguments += ["--chdir", view.workdir, "--", *program]
    return arguments


def student_side_view(box: Path, libraries: tuple[str, ...], env: dict[str, str], scratch_bytes: int,
                      root: bool) -> View:
    """The zygote's sandbox: its files, the libraries the assignment allows, and the box."""
    shown = [(str(GRADER / name), f"{INSIDE}/{name}") for name in STUDENT_SIDE]
    shown += [(str(folder), f"{SITE}/{folder.name}") for folder in library_folders(libraries)]
    shown += [(str(box), BOX)]
    return View(read_only=tuple(shown), scratch_bytes=scratch_bytes, env=env, workdir=BOX,
                capabilities=ZYGOTE_CAPABILITIES if root else ())


@functools.cache
def problem(root: bool) -> str | None:
    """Why no sandbox can be made here (bwrap missing or refused), or None: tried once, for real."""
    binary = bwrap()
    if binary is None:
        return f"no sandbox for student code: bwrap is not installed; {INSTALL}"
    try:
        done = subprocess.run(command([str(python()), "-S", "-c", "pass"], View(), root),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no sandbox for student code: bwrap could not run ({exc})"
    if done.returncode == 0:
        return None
    said = (done.stderr.strip().splitlines() or ["(it said nothing)"])[-1]
    hint = ("grade as root, or allow unprivileged user namespaces (on Ubuntu 24.04: "
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0; see docs/instructors.md)"
            if not root else "is this a container that forbids namespaces?")
    return f"no sandbox for student code: bwrap failed ({said}): {hint}"


def site_packages() -> list[str]:
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})
