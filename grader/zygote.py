"""The parent of every student process: started once, preloaded, it forks one per test.

PrairieLearn's zygote idea: importing pymemcache and pyzmq costs far more than a
fork, so this process imports them (never the student's module) and then forks a
fresh student process whenever the judge asks. Each child, before it runs a line
of student code:

- gets the resource limits (CPU seconds, address space, file size, open files,
  and processes when it has a user of its own), hard and soft alike;
- becomes the unprivileged student user when this process runs as root (and may
  never gain privileges again: no setuid binary helps it);
- as root, gets its own small tmpfs over its home, /tmp, /var/tmp and /dev/shm
  (private_scratch), so it cannot fill the disk or leave files for others;
- keeps only the socket to the judge (stdin, stdout and stderr are /dev/null;
  everything else this process had open is closed), a minimal environment, and
  the folder of the submission's .py files as its working directory and first
  entry of sys.path;
- then imports the module and answers the judge (student_side.py).

Two variations, each asked for by the judge with the request: `script` runs the
module as a program (`python keepalive.py server 1060`: __main__, with the
arguments given and pipes of the judge's as its standard streams, instead of the
socket); `network: private` gives the child a network namespace of its own, made
while it is still root, where it has nothing but a loopback interface it cannot
configure (the judge enters that namespace to place a peer there and to take the
loopback down: see private_network).

Only the libraries the assignment allows are preloaded (pymemcache for 01): once it
has its own user, a student process may not read site-packages to import others.

This process is a child subreaper: whatever a student process forks, and whatever
escapes into a new session, stays below it, and `end` kills all of it. It dies with
the judge (PR_SET_PDEATHSIG), and kills every child when the judge hangs up.

Run as a script (`python -s -S -P zygote.py CONFIG`), never imported: the student
process must not be able to import `grader`, so this file loads its two helpers
by path under private names.
"""
import ctypes
import importlib.util
import json
import os
import resource
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Beside the libraries the assignment allows (the config's "preload"): what most submissions import.
PRELOAD = ("json", "pickle", "hashlib", "random", "functools", "socket", "selectors", "threading", "struct",
           "base64", "math", "collections", "encodings.idna")
SUBMODULES = {"pymemcache": ("pymemcache.client.base", "pymemcache.client.hash", "pymemcache.client.retrying",
                             "pymemcache.serde", "pymemcache.exceptions"),
              "zmq": ("zmq.utils.monitor", "zmq.asyncio", "zmq.devices", "zmq.decorators")}
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
MS_NOSUID, MS_NODEV = 2, 4
CLONE_NEWNS, MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 1, 32, 4096, 16384, 1 << 18
CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
LIMITS = {"cpu": resource.RLIMIT_CPU, "address_space": resource.RLIMIT_AS, "file_size": resource.RLIMIT_FSIZE,
          "open_files": resource.RLIMIT_NOFILE, "processes": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE}
_libc = ctypes.CDLL(None, use_errno=True)


def load(name: str, filename: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def readable_by_others(path: str) -> bool:
    parts = os.path.abspath(path).split(os.sep)
    folders = [os.sep.join(parts[:i]) or os.sep for i in range(1, len(parts) + 1)]
    return all(os.stat(f).st_mode & 0o005 == 0o005 for f in folders)


def expose_stdlib(config: dict) -> None:
    """Student processes import from the standard library as they run. When it sits where the
    student user may not enter (a pyenv under /root, say), it is bind-mounted read-only into the
    box, in a mount namespace of this process's own that every child inherits."""
    stdlib, view = config["stdlib"], config["stdlib_view"]
    if config["uid"] is None or readable_by_others(stdlib):
        return
    mounts = ((b"none", b"/", MS_REC | MS_PRIVATE), (stdlib.encode(), view.encode(), MS_BIND | MS_REC),
              (b"none", view.encode(), MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC))
    if _libc.unshare(CLONE_NEWNS) != 0 or any(_libc.mount(source, target, None, flags, None) != 0
                                               for source, target, flags in mounts):
        print(f"zygote: cannot show {stdlib} to the student user (errno {ctypes.get_errno()})", file=sys.stderr)
        return
    def seen(path):
        return view + path[len(stdlib):] if path == stdlib or path.startswith(stdlib + os.sep) else path

    sys.path[:] = map(seen, sys.path)
    for module in list(sys.modules.values()):  # packages already imported look for submodules here
        if isinstance(getattr(module, "__path__", None), list):
            module.__path__[:] = map(seen, module.__path__)


SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # where anyone may write, on a usual system


def private_scratch(config: dict) -> bool:
    """As root, before becoming the student: a mount namespace of this child's own, where its home and
    every place anyone may write are small, empty tmpfs mounts. The student can neither fill the disk
    nor leave a file behind for the next test or a classmate. False when the kernel refuses."""
    size = config["limits"].get("scratch") or (64 << 20)
    if _libc.unshare(CLONE_NEWNS) != 0 or _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    home = config["env"]["HOME"]
    for place in (*SCRATCH, home):
        if os.path.isdir(place) and not os.path.islink(place):
            options = f"size={size},mode={'0700' if place == home else '1777'}".encode()
            if _libc.mount(b"tmpfs", place.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options) != 0:
                return False
    os.chown(home, config["uid"], config["gid"])
    return True


def private_network() -> None:
    """A network namespace of the child's own (before it drops privileges): only a loopback, down.

    As root, the namespace belongs to the machine's user namespace, so the student user,
    holding no capability there, can neither configure it nor leave it. Without root, a
    user namespace of its own comes first (the grader's user, mapped to itself): such a
    child keeps capabilities inside it, but without root it is the grader's user anyway.
    """
    if os.geteuid() == 0:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        return
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER | CLONE_NEWNET)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def become_student(config: dict, keep: int | None = None, stdio: tuple[int, int, int] | None = None) -> None:
    """Everything a child does before student code runs; see the module's docstring.

    `keep`: the one descriptor it keeps beside its standard streams (the socket to the judge);
    `stdio`: what its standard streams are (the judge's pipes, for a script), /dev/null when None.
    """
    os.setsid()
    if config["uid"] is not None:
        private_scratch(config)  # when refused (a container without CAP_SYS_ADMIN): the file size limit only
    for name, value in config["limits"].items():
        if name in LIMITS and value is not None:  # "scratch" is private_scratch's
            resource.setrlimit(LIMITS[name], (value, value))
    if config["uid"] is not None:
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd, source in zip((0, 1, 2), stdio or (null, null, null)):
        os.dup2(source, fd)
    if keep is None:
        os.closerange(3, 65536)
    else:
        os.closerange(3, keep)
        os.closerange(keep + 1, 65536)
    os.chdir(config["folder"])
    os.environ.clear()
    os.environ.update(config["env"])
    sys.path.insert(0, config["folder"])


SETUP_FAILED = 111  # the exit status of a child that could not be locked down: the grader's problem
NO_PRIVATE_NETWORK = 112  # ... that could not have a network namespace of its own: the machine's limit


def child(config: dict, request: dict, fds: list[int]) -> None:
    """A student process: serves the judge over fds[0], or (`script`) runs the module with fds as stdio."""
    code = 0
    try:
        if request.get("network") == "private":
            try:
                private_network()
            except BaseException:
                os._exit(NO_PRIVATE_NETWORK)
        script = request["op"] == "script"
        try:
            become_student(config, None if script else fds[0], tuple(fds[:3]) if script else None)
        except BaseException:
            os._exit(SETUP_FAILED)
        side = sys.modules["_grader_student_side"]
        if script:
            code = side.run_script(config["module"], config["folder"], request["argv"])
        else:
            side.serve(socket.socket(fileno=fds[0]), config["module"], config["folder"])
    finally:
        os._exit(code)


def descendants() -> list[int]:
    """Every process below this one, found through /proc (orphans come back to us: we are a subreaper)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    parent[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    below, frontier = [], [os.getpid()]
    while frontier:
        found = [pid for pid, ppid in parent.items() if ppid in frontier]
        below += found
        frontier = found
    return below


def reap() -> bool:
    """Collect every child that has ended; whether any child is left.

    None left means no descendant at all: this process is a subreaper, so whatever a child
    leaves behind when it dies becomes our child before that child can be collected."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def kill_everything(deadline: float = 10.0) -> None:
    """Kill every descendant, again and again until none is left (a fork bomb keeps forking while it dies).

    Usually nothing is left, and reap says so at once: the walk through /proc (milliseconds on a busy
    machine) is for when something is."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop and reap():
        for pid in descendants():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if reap():
            time.sleep(0.005)  # the killed are still dying, or a fork bomb keeps forking


def end(pid: int, grace: float = 0.0) -> dict:
    """The child's fate (its exit status, or the signal that ended it), and everything below us killed.

    `grace`: seconds to let it finish dying first (the judge saw its socket close).
    """
    stop = time.monotonic() + grace
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, None
        if done or time.monotonic() >= stop:
            break
        time.sleep(0.002)
    alive = done == 0
    if alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    kill_everything()
    reap()
    code = None if status is None or alive else os.waitstatus_to_exitcode(status)
    return {"killed": alive, "exit": code}


def main() -> None:
    config = json.loads(sys.argv[1])
    control = socket.socket(fileno=config.pop("control"))
    sys.path.extend(config["site"])
    expose_stdlib(config)
    for name in [*PRELOAD, *(m for library in config["preload"] for m in (library, *SUBMODULES.get(library, ())))]:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    wire = load("_grader_wire", "wire.py")
    load("_grader_student_side", "student_side.py")
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if os.getppid() == 1:
        return  # the judge is already gone
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1024, 4)
        except OSError:
            data, fds = b"", []
        if not data:
            kill_everything()
            return
        request = wire.loads(data)
        if request["op"] in ("spawn", "script"):
            pid = os.fork()
            if pid == 0:
                control.close()
                child(config, request, fds)
            for fd in fds:
                os.close(fd)
            control.send(wire.dumps({"pid": pid}))
        elif request["op"] == "end":
            control.send(wire.dumps(end(request["pid"], request.get("grace", 0.0))))


if __name__ == "__main__":
    main()
