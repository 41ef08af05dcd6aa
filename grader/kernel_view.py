"""What the judge reads of a student process from the kernel itself, never from the process.

Its sockets' options (a duplicate through pidfd_getfd), its CPU clock (clock_getcpuclockid's
numbering), its threads (/proc): evidence no student code can forge.
"""
from __future__ import annotations

import os
import socket

SYS_PIDFD_GETFD = 438  # the same number on every architecture Linux has added it to since 5.6
CPUCLOCK_SCHED = 2  # a process's CPU clock is ((~pid) << 3) | CPUCLOCK_SCHED (clock_getcpuclockid(3))


def duplicate_socket(pid: int, fd: int) -> socket.socket:
    """The student process's socket `fd`, duplicated into this process (pidfd_getfd): the judge reads its
    options from the kernel itself instead of asking the student code. Needs ptrace rights over the
    process: root, or the same user."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        ours = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if ours < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"pidfd_getfd of fd {fd} in process {pid}: {os.strerror(error)}")
    finally:
        os.close(pidfd)
    return socket.socket(fileno=ours)
