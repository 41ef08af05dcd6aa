"""The system calls student code may not make: a seccomp filter each student process installs on itself.

Installed last, after a student process is locked down and before a line of student
code runs (zygote.py; the lab kernels' launcher, walled_kernel.py), and inherited by
everything it starts. Each refusal closes something the sandbox's namespaces leave open:

- the kernel's keyrings (add_key, request_key, keyctl): a user's keyring outlives its
  processes, so one student's code could leave a module there for the next student
  graded under the same uid;
- new user namespaces (unshare or clone with CLONE_NEWUSER; clone3, whose flags a
  filter cannot read, answers ENOSYS and the C library falls back to clone): inside
  one, code holds every capability over what it then makes, a tmpfs as large as it
  likes among them, beyond every limit of ours;
- kernel interfaces no assignment needs, and which are a large attack surface
  (bpf, perf_event_open, userfaultfd, io_uring_setup).

Everything else is allowed. A call through another ABI than the machine's own (i386 or
x32 numbers on x86_64) is refused whole, so it cannot dodge the numbers above.

This file is loaded by path inside the sandbox (never as part of `grader`): standard
library only.
"""
import ctypes
import os
import platform
import struct

CLONE_NEWUSER = 0x10000000
EPERM, ENOSYS = 1, 38
# (audit architecture, system call numbers) of the machines we know
MACHINES = {
    "x86_64": (0xC000003E, {"add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "clone": 56,
                            "clone3": 435, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
                            "io_uring_setup": 425}),
    "aarch64": (0xC00000B7, {"add_key": 217, "request_key": 218, "keyctl": 219, "unshare": 97, "clone": 220,
                             "clone3": 435, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
                             "io_uring_setup": 425}),
}
REFUSED = ("add_key", "request_key", "keyctl", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup")
X32_BIT = 0x40000000  # x86_64's x32 ABI numbers have it

# classic BPF, as seccomp reads it: struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
LOAD, JEQ, JGE, JSET, RETURN = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (the low half of args[0] on these machines)


def program(machine: str) -> bytes | None:
    """The filter for `machine` (platform.machine()), as the bytes of its instructions; None when we
    do not know the machine's numbers."""
    if machine not in MACHINES:
        return None
    arch, numbers = MACHINES[machine]
    code: list[tuple] = []  # (code, jt, jf, k), jt/jf as labels or offsets, resolved below

    def emit(op, k=0, jt=0, jf=0):
        code.append([op, jt, jf, k])

    emit(LOAD, ARCH)
    emit(JEQ, arch, 0, "refuse")  # another ABI: refused whole
    emit(LOAD, NR)
    if machine == "x86_64":
        emit(JGE, X32_BIT, "refuse", 0)
    for name in REFUSED:
        emit(JEQ, numbers[name], "refuse", 0)
    emit(JEQ, numbers["clone3"], "no-such-call", 0)
    emit(JEQ, numbers["unshare"], "flags", 0)
    emit(JEQ, numbers["clone"], "flags", 0)
    emit(RETURN, ALLOW)
    labels = {"flags": len(code)}
    emit(LOAD, ARG0)
    emit(JSET, CLONE_NEWUSER, "refuse", 0)
    emit(RETURN, ALLOW)
    labels["refuse"] = len(code)
    emit(RETURN, ERRNO | EPERM)
    labels["no-such-call"] = len(code)
    emit(RETURN, ERRNO | ENOSYS)
    out = b""
    for at, (op, jt, jf, k) in enumerate(code):
        jt, jf = (labels[j] - at - 1 if isinstance(j, str) else j for j in (jt, jf))
        out += struct.pack("HBBI", op, jt, jf, k)
    return out


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> bool:
    """Install the filter on this process (no_new_privs must be set); False where this machine's
    numbers are unknown (the sandbox's namespaces still hold)."""
    code = program(platform.machine())
    if code is None:
        return False
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _Program(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"seccomp: {os.strerror(error)}")
    return True
