"""Where and as whom student code runs: its box (the submission's files), its uid, its resource limits.

The judge and the grading build a Box; the zygote (zygote.py) gets it as its configuration,
and wall.py the sandbox around it.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader import lockdown, wall

ZYGOTE = Path(__file__).with_name("zygote.py")


@dataclass(frozen=True)
class ResourceLimits:
    """Resource limits of every student process (setrlimit), soft and hard alike."""

    cpu: int = 120  # seconds of CPU: beyond any test's time limit
    address_space: int = 1 << 30  # 1 GiB
    file_size: int = 16 << 20  # 16 MiB per file written
    open_files: int = 128
    processes: int = 64  # per uid (in the sandbox's user namespace without root), threads included
    memory: int = 2 << 30  # bytes all student processes of a sandbox may hold between them (zygote.py)
    core: int = 0
    scratch: int = 64 << 20  # bytes of each private tmpfs (home, /tmp, ...) when running as root


@dataclass(frozen=True)
class Box:
    """Where and as whom student processes run."""

    folder: Path  # the submission's .py files only: working directory and first entry of sys.path
    module: str  # 'squares'
    uid: int | None = None  # as root: the uid student processes become; None: the grader's own user
    sealed: bool = True  # behind the wall (wall.py); False only when grading was told --unsealed
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    preload: tuple[str, ...] = ("pymemcache", "zmq")  # libraries beyond the standard one it may import

    def __post_init__(self) -> None:
        if self.sealed and self.uid is None and lockdown.root():
            raise ValueError("as root, student code behind the wall needs a student uid (lockdown.student_uid)")

    def config(self, control: int) -> dict:
        limits = dict(vars(self.limits))
        if not self.sealed:  # RLIMIT_NPROC would count every process of the grader's own user
            limits["processes"] = None
        folder = wall.BOX if self.sealed else str(self.folder)
        home = wall.HOME if self.sealed else str(self.folder.parent / "home")
        return {"control": control, "folder": folder, "module": self.module, "uid": self.uid,
                "sealed": self.sealed, "limits": limits, "preload": list(self.preload),
                "site": [wall.SITE] if self.sealed else wall.site_packages(),
                # MALLOC_ARENA_MAX: glibc reserves 64 MiB of address space per thread's arena, which
                # put a correct node with a dozen threads over its 1 GiB limit
                "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                        "HOME": home, "TMPDIR": "/tmp" if self.sealed else home, "PYTHONHASHSEED": "0",
                        "MALLOC_ARENA_MAX": "2"}}

    def command(self, config: dict, env: dict[str, str]) -> list[str]:
        """How the zygote starts, with `env` as its environment: behind the wall, or (unsealed) as a
        plain child of ours (Popen gives it `env` then)."""
        flags = ["-s", "-S", "-P", "-B"]
        if not self.sealed:
            return [sys.executable, *flags, str(ZYGOTE), json.dumps(config)]
        root = self.uid is not None
        view = wall.student_side_view(self.folder, self.preload, env, self.limits.scratch, root)
        program = [str(wall.python()), *flags, f"{wall.INSIDE}/{ZYGOTE.name}", json.dumps(config)]
        return wall.command(program, view, root)


def box_of(folder: Path, module: str, sealed: bool, uid: int | None) -> Box:
    """The Box of a submission's folder: the libraries its assignment allows; as root, `uid` is the student
    uid the grading chose (lockdown.student_uid), which it tells the judge."""
    from grader.course import CATALOGUE

    libraries = next((a.libraries for a in CATALOGUE if a.module_name == module), Box.preload)
    return Box(folder=folder, module=module, uid=uid if sealed else None, sealed=sealed, preload=libraries)
