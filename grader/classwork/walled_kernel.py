"""The lab notebooks' kernels behind the wall: `nbgrader autograde` runs each student's lab here.

A lab is student code like any module: its answer cells, and the module it imports,
run in the kernel. nbgrader starts kernels through jupyter_client; this kernel
manager starts each one inside bubblewrap (wall.py), as the graded modules are:

- it sees this environment's Python and packages (read-only, without its `var/`
  caches), the notebook's own folder (read-only: the student's submission), the
  course's harness.py (the labs start their memcached with it), and scratch space;
  never the checkout, solutions/, the hidden tests, nbgrader's source folder or
  gradebook.db;
- it has a network namespace of its own, with nothing but a loopback: the memcached
  a lab starts and the workers it forks meet there. nbgrader talks to the kernel
  over Unix sockets (jupyter's `ipc` transport) in a folder of the kernel's own,
  the one thing besides scratch it may write;
- as root, it runs as the student uid (lockdown.student_uid), which becomes the
  kernel's user before any of its code runs; without root, as the instructor's own
  user in a user namespace. Either way lab_start.py gives it resource limits and the
  syscall filter (syscall_filter.py) first. Its folder is a small tmpfs as root.
  Interrupts go as messages (bwrap does not pass signals on).

The hidden-test cells of a lab still run in the same kernel as the student's code:
nbgrader's design. Those points are the student's own process saying how its tests
went, so they are worth little and say so (docs/instructors.md).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from grader import lockdown, wall
from grader.settings import Settings

GRADER = Path(__file__).resolve().parent.parent
HARNESS = GRADER / "harness.py"
START = Path(__file__).with_name("lab_start.py")  # the student's uid, limits and syscall filter, then the kernel
LAB = "/opt/lab"  # where harness.py and the two files of the start are, inside


def lab_view(notebook_folder: str, kernel_folder: str) -> wall.View:
    prefix = Path(sys.prefix)
    shown = [(str(prefix), str(prefix)), (str(HARNESS), f"{LAB}/harness.py"), (str(START), f"{LAB}/start.py"),
             (str(GRADER / "syscall_filter.py"), f"{LAB}/syscall_filter.py"), (notebook_folder, notebook_folder)]
    env = {"PATH": f"{prefix}/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "HOME": wall.HOME, "TMPDIR": "/tmp", "PYTHONPATH": LAB, "MPLCONFIGDIR": "/tmp/matplotlib",
           "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1"}
    hidden = (str(prefix / "var"),) if (prefix / "var").is_dir() else ()
    return wall.View(read_only=tuple(shown), writable=((kernel_folder, kernel_folder),), env=env,
                     workdir=notebook_folder, own_network=True, hidden=hidden,
                     capabilities=("CAP_SETUID", "CAP_SETGID") if lockdown.root() else ())


MNT_DETACH = 2
KERNEL_FOLDER_BYTES = 16 << 20


def small_tmpfs(folder: Path) -> bool:
    """As root: a tmpfs of KERNEL_FOLDER_BYTES over `folder` (the kernel's sockets and connection file);
    False when it cannot be mounted (the folder stays on the disk)."""
    libc = ctypes.CDLL(None, use_errno=True)
    options = f"size={KERNEL_FOLDER_BYTES},mode=0700".encode()
    return libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs", 0, options) == 0


class WalledKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager, starting each kernel behind the wall (see the module's docstring)."""

    def __init__(self, **kwargs):
        self._folder = Path(tempfile.mkdtemp(prefix="grader-lab-"))
        self._mounted = lockdown.root() and small_tmpfs(self._folder)  # the kernel may write here: not the disk
        kwargs.update(transport="ipc", connection_file=str(self._folder / "kernel.json"))
        super().__init__(**kwargs)
        self._uid = lockdown.student_uid(Settings.from_environment())
        if self._uid is not None:
            os.chown(self._folder, self._uid, self._uid)  # its Unix sockets go here

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"  # a signal would reach bwrap, not the kernel
        return spec

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if self._uid is not None:
            os.chown(self.connection_file, self._uid, self._uid)  # the kernel reads it: it is the kernel's

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        folder = str(Path((self._launch_args or {}).get("cwd") or os.getcwd()).resolve())
        uid = "-" if self._uid is None else str(self._uid)
        command = [str(wall.python()), "-S", f"{LAB}/start.py", uid, *command]
        return wall.command(command, lab_view(folder, str(self._folder)), lockdown.root())

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            if self._mounted:
                ctypes.CDLL(None, use_errno=True).umount2(str(self._folder).encode(), MNT_DETACH)
            shutil.rmtree(self._folder, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources
