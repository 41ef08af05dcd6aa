"""Who student code runs as, and which network it reaches: the wall's parts outside bubblewrap.

wall.py builds the sandbox itself; this module decides the rest:

- **Who.** As root, every student process becomes a numeric uid of its own
  (`student_uid`: no account, nothing for setup.sh to make), one per grading (its
  slot: the pid of the process that started it, unique while it runs) and per
  assignment graded side by side in it (a lane), so that no two gradings share a
  process limit (RLIMIT_NPROC counts a user's threads), whoever started them.
  Without root, the grader's own user, inside the sandbox's user namespace.
- **Which network.** Loopback only. Each grading (or each assignment graded side by
  side, or each grade-class slot) moves into a network namespace of its own with
  nothing but a loopback, where its memcached servers start: student code reaches
  them and the judge's sockets, and nothing else, not even a classmate's grading.
  As root that is a plain network namespace; without root, a user namespace comes
  first (the grader's user mapped to itself). Servers given from outside
  (MEMCACHED_SERVERS) are on the machine's network, where student code would reach
  every loopback service and abstract Unix socket too: sealed grading refuses them.
- **Watching that network.** The judge sees what crosses the loopback through a packet
  socket (`packet_socket`), which only a holder of CAP_NET_RAW in the namespace may open:
  the judge as root, but without root only the grading, which made the namespace (the
  judge, exec'd, holds no capability). So the grading opens one for each judge and hands
  it down (child.py); it receives nothing until the judge binds it.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct

from grader.settings import SERVERS_ENV, Settings

STUDENT_UIDS = 1_500_000_000  # student uids as root: (slot mod 2**24) * 64 + lane above this; no account has them
CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def root() -> bool:
    return os.geteuid() == 0


def student_uid(settings: Settings) -> int | None:
    """The host uid student processes of this grading and lane run as when grading as root; None without
    root (the grader's own user, in the sandbox's user namespace)."""
    if not root():
        return None
    return STUDENT_UIDS + (settings.slot % (1 << 24)) * 64 + settings.lane


def _unshare_network() -> str | None:
    """This process (single-threaded, or this thread) into a network namespace of its own; why not, or None."""
    libc = ctypes.CDLL(None, use_errno=True)
    if root():
        return None if libc.unshare(CLONE_NEWNET) == 0 else f"errno {ctypes.get_errno()}"
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return f"no user namespace (errno {ctypes.get_errno()})"
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    except OSError as exc:
        return f"cannot map the user namespace ({exc.strerror})"
    return None


def own_network() -> str | None:
    """Move this process (and all it starts from now on) into a network namespace of its own, with its
    loopback up; None when done, else why not. Call it before any thread or child is started."""
    why = _unshare_network()
    if why is not None:
        return f"no network namespace of its own for this grading ({why})"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    ALONE.append(True)
    return None


def packet_socket() -> socket.socket | None:
    """A packet socket of this process's network namespace that receives nothing until bound (protocol 0),
    for the judge to watch its loopback with; None where it may not be opened (no CAP_NET_RAW there)."""
    try:
        return socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except OSError:
        return None


ALONE: list[bool] = []  # [True] once this process has a network namespace with nothing but loopback


def may_have_own_network() -> bool:
    """Whether a grading may move into a network namespace of its own (tried in a throwaway child,
    so that this process stays where it is): as root, or where user namespaces are allowed."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _unshare_network() is None else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def slot_network(settings: Settings) -> str | None:
    """Under grade-class, with our own memcached servers: a network namespace for this student.

    None when it was made or is not wanted (a single grading, or servers given); else why not.
    """
    if not settings.own_network or settings.servers:
        return None
    return own_network()


def machine_network_problem(settings: Settings) -> str:
    """Why student code may not be graded on the machine's own network (servers given from outside, or no
    namespace to be had): it would reach every loopback service and abstract Unix socket of the machine
    (an X server's, a DNS stub's), which no rule on IP traffic stops."""
    if settings.servers:
        return (f"{SERVERS_ENV} is set: student code would share the machine's network to reach those "
                "servers, and every other loopback service and abstract Unix socket with them; unset it "
                "(each grading starts memcached servers of its own, in a network of its own)")
    return ("no network namespace can be made here, and student code would share the machine's network: "
            "grade as root, or where unprivileged user namespaces are allowed")
