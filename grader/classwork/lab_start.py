"""Inside a lab kernel's sandbox, before the kernel: become the student, take the limits, install the filter.

Run by path as `python -S lab_start.py UID COMMAND...` (UID '-' without root), beside
syscall_filter.py; standard library only. As root it becomes the student uid (its
capabilities go with root), then every process of the kernel, and what the lab forks,
holds the limits below, and the syscall filter: then the kernel starts.
"""
import os
import resource
import sys

LIMITS = {  # a lab runs matplotlib, numpy, memcached and a few workers: more room than a test's process
    resource.RLIMIT_AS: 4 << 30,
    resource.RLIMIT_FSIZE: 64 << 20,
    resource.RLIMIT_NOFILE: 1024,
    resource.RLIMIT_NPROC: 256,
    resource.RLIMIT_CORE: 0,
    resource.RLIMIT_CPU: 3600,
}


def main(uid: str, command: list[str]) -> None:
    if uid != "-":
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
    for kind, value in LIMITS.items():
        resource.setrlimit(kind, (value, value))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import syscall_filter

    syscall_filter.install()
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
