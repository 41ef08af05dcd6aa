"""The parent of every student process: started once, preloaded, it forks one per test.

PrairieLearn's zygote idea: importing pymemcache and pyzmq costs far more than a
fork, so this process imports them (never the student's module) and then forks a
fresh student process whenever the judge asks. It runs behind the wall (wall.py: a
bubblewrap sandbox that shows it only its box, its Python and the libraries the
assignment allows), as the first process of its own PID namespace: when it ends,
everything in it ends. Each child, before it runs a line of student code:

- as root (bwrap privileged): gets its own small tmpfs over its home, /tmp, /var/tmp
  and /dev/shm and an IPC namespace of its own (private_scratch), so it can neither
  fill the disk nor leave a file or a shared-memory segment for the next test; then
  becomes the numeric student uid (lockdown.student_uid), with every capability gone;
- without root: already is the grader's user in the sandbox's user namespace, with no
  capability; what it leaves in scratch or System V IPC is cleared once it has ended
  (tidy);
- gets the resource limits (CPU seconds, address space, file size, open files, and
  processes when it has a uid of its own), hard and soft alike, and can never gain
  privileges (bwrap set no_new_privs);
- keeps only the socket to the judge (stdin, stdout and stderr are /dev/null;
  everything else this process had open is closed), a minimal environment, and
  its box as working directory and first entry of sys.path;
- says hello to the judge with its credentials (SCM_CREDENTIALS), so that the judge
  learns from the kernel, not from us, which process (by the judge's own numbering)
  and which uid it is;
- then imports the module and answers the judge (student_side.py).

Two variations, each asked for by the judge with the request: `script` runs the
module as a program (`python keepalive.py server 1060`: __main__, with the
arguments given and pipes of the judge's as its standard streams, instead of the
socket); `network: private` gives the child a network namespace of its own, made
before it drops its privileges, where it has nothing but a loopback interface it
cannot configure (the judge enters that namespace to place a peer there and to take
the loopback down: see private_network).

Only the libraries the assignment allows are shown and preloaded (pymemcache for 01).

This process reaps and kills everything below it (`end`), and everything dies with
it (PID namespace; bwrap's --die-with-parent when the judge dies). Without a wall
(`--unsealed`) it runs as the judge's plain child, and student code as the grader's
own user.

Run as a script (`python -s -S -P zygote.py CONFIG`), never imported: the student
process must not be able to import `grader`, so this file loads its two helpers
by path under private names.
"""
import ctypes
import importlib.util
import json
import os
import resource
import select
import shutil
import signal
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Beside the libraries the assignment allows (the config's "preload"): what most submissions import.
PRELOAD = ("json", "pickle", "hashlib", "random", "functools", "socket", "selectors", "threading", "struct",
           "base64", "math", "collections", "encodings.idna")
SUBMODULES = {"pymemcache": ("pymemcache.client.base", "pymemcache.client.hash", "pymemcache.client.retrying",
                             "pymemcache.serde", "pymemcache.exceptions"),
              "zmq": ("zmq.utils.monitor", "zmq.asyncio", "zmq.devices", "zmq.decorators")}
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 36, 38
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWUSER = 0x20000, 0x08000000, 0x40000000, 0x10000000
IPC_RMID = 0
LIMITS = {"cpu": resource.RLIMIT_CPU, "address_space": resource.RLIMIT_AS, "file_size": resource.RLIMIT_FSIZE,
          "open_files": resource.RLIMIT_NOFILE, "processes": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE}
_libc = ctypes.CDLL(None, use_errno=True)
protocol = None  # protocol.py, loaded by path in main()


def load(name: str, filename: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")  # where anyone may write (and the home): tmpfs behind the wall


def private_scratch(config: dict) -> bool:
    """As root, before becoming the student: a mount namespace and an IPC namespace of this child's
    own, where its home and every place anyone may write are small, empty tmpfs mounts. The student
    can neither fill the disk nor leave a file or a System V object behind for the next test.
    False when the kernel refuses."""
    size, uid = config["limits"].get("scratch") or (64 << 20), config["uid"]
    if _libc.unshare(CLONE_NEWNS | CLONE_NEWIPC) != 0 \
            or _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    home = config["env"]["HOME"]
    for place in (*SCRATCH, home):
        if os.path.isdir(place) and not os.path.islink(place):
            own = f",mode=0700,uid={uid},gid={uid}" if place == home else ",mode=1777"
            if _libc.mount(b"tmpfs", place.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, f"size={size}{own}".encode()):
                return False
    return True


def tidy(config: dict) -> None:
    """Without root, once no student process is left: empty the sandbox's scratch and remove every
    System V object (they share them, being one user): nothing is left for the next test."""
    for place in (*SCRATCH, config["env"]["HOME"]):
        for entry in os.listdir(place) if os.path.isdir(place) else []:
            path = os.path.join(place, entry)
            for folder, _, _ in os.walk(path):  # a folder made unreadable would stop rmtree
                try:
                    os.chmod(folder, 0o700)
                except OSError:
                    pass
            try:
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
            except OSError:
                pass
    for kind, remove in (("shm", lambda n: _libc.shmctl(n, IPC_RMID, None)),
                         ("msg", lambda n: _libc.msgctl(n, IPC_RMID, None)),
                         ("sem", lambda n: _libc.semctl(n, 0, IPC_RMID))):
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                numbers = [int(line.split()[1]) for line in list(table)[1:] if line.split()]
        except (OSError, ValueError, IndexError):
            continue
        for number in numbers:
            remove(number)


def drop_capabilities() -> None:
    """No capability left, in any set, and none to be had again (the bounding set emptied too, where
    this process may still do that)."""
    for capability in range(64):
        _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable, twice (64 bits): all zero
    if _libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def private_network(config: dict) -> None:
    """A network namespace of the child's own (before it drops privileges): only a loopback, down.

    As root, the namespace belongs to the machine's user namespace, so the student uid,
    holding no capability there, can neither configure it nor leave it. Without root, a
    user namespace of its own comes first (the grader's user, mapped to itself), and the
    child then drops every capability it holds there: it cannot configure it either.
    """
    if config["uid"] is not None or os.geteuid() == 0:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        return
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER | CLONE_NEWNET)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    drop_capabilities()


def become_student(config: dict, keep: tuple[int, ...], stdio: tuple[int, int, int] | None = None) -> None:
    """Everything a child does before student code runs; see the module's docstring.

    `keep`: the descriptors it keeps beside its standard streams (the sockets to the judge, or for a
    script the socket it says hello on); `stdio`: what its standard streams are (the judge's pipes,
    for a script), /dev/null when None.
    """
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the zygote ignores it; the student's own
    if config["uid"] is not None and not private_scratch(config):
        raise OSError("no private scratch")
    for name, value in config["limits"].items():
        if name in LIMITS and value is not None:  # "scratch" is private_scratch's
            resource.setrlimit(LIMITS[name], (value, value))
    if config["uid"] is not None:
        for capability in range(64):  # none to be had again, ever (needs CAP_SETPCAP, still held now)
            _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
        os.setgroups([])
        os.setgid(config["uid"])
        os.setuid(config["uid"])  # from root to a uid of its own: the permitted and effective sets go
        drop_capabilities()  # and the inheritable set
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # again: becoming the student's uid made it not dumpable
    null = os.open(os.devnull, os.O_RDWR)
    for fd, source in zip((0, 1, 2), stdio or (null, null, null)):
        os.dup2(source, fd)
    start = 3
    for fd in sorted(keep):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 65536)
    os.chdir(config["folder"])
    os.environ.clear()
    os.environ.update(config["env"])
    sys.path.insert(0, config["folder"])


def hello(sock: socket.socket) -> None:
    """Our credentials, which the kernel checks and gives the judge in its own numbering (pid, uid)."""
    credentials = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
    sock.sendmsg([protocol.HELLO], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, credentials)])


def child(config: dict, request: dict, fds: list[int]) -> None:
    """A student process: serves the judge over fds[0] (and asks it what its stand-ins answer over fds[1]),
    or (`script`) runs the module with fds[:3] as stdio, having said hello over fds[3]."""
    code = 0
    try:
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the zygote is not; a child must be, to map a user namespace
        if request.get("network") == "private":
            try:
                private_network(config)
            except BaseException:
                os._exit(protocol.NO_PRIVATE_NETWORK)
        script = request["op"] == "script"
        try:
            become_student(config, (fds[3],) if script else (fds[0], fds[1]), tuple(fds[:3]) if script else None)
            greeting = socket.socket(fileno=fds[3] if script else fds[0])
            hello(greeting)
            if script:
                greeting.close()
            sys.modules["_grader_syscall_filter"].install()  # last: nothing of ours needs what it refuses
        except BaseException:
            os._exit(protocol.SETUP_FAILED)
        side = sys.modules["_grader_student_side"]
        if script:
            code = side.run_script(config["module"], config["folder"], request["argv"])
        else:
            side.serve(greeting, config["module"], config["folder"], socket.socket(fileno=fds[1]))
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


def end(config: dict, pid: int, grace: float = 0.0) -> dict:
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
    if not reap() and config["sealed"] and config["uid"] is None:
        tidy(config)
    code = None if status is None or alive else os.waitstatus_to_exitcode(status)
    return {"killed": alive, "exit": code}


WATCH_SECONDS = 0.1  # how often the memory of the student processes is looked at, between requests
SHM_COLUMNS = ("size", "rss")


def memory_in_use() -> int:
    """Bytes the student processes hold: their proportional set sizes (shared pages shared out, so a
    fork is not counted twice), and every System V shared-memory segment, which outlives them."""
    total = 0
    for pid in descendants():
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) << 10 for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError, IndexError):
            pass
    try:
        with open("/proc/sysvipc/shm") as table:
            rows = [line.split() for line in table]
        rss = rows[0].index("rss")
        total += sum(int(row[rss]) for row in rows[1:] if len(row) > rss)
    except (OSError, ValueError, IndexError):
        pass
    return total


def watch_memory(limit: int | None) -> None:
    """When the student processes hold more than `limit` bytes between them (many processes, each under
    its own address-space limit; shared memory), end all of them: the judge sees a process killed."""
    if not limit or not reap() or memory_in_use() <= limit:
        return
    kill_everything()
    try:
        with open("/proc/sysvipc/shm") as table:
            for line in list(table)[1:]:
                _libc.shmctl(int(line.split()[1]), IPC_RMID, None)
    except (OSError, ValueError, IndexError):
        pass


def main() -> None:
    config = json.loads(sys.argv[1])
    control = socket.socket(fileno=config.pop("control"))
    sys.path.extend(config["site"])
    for name in [*PRELOAD, *(m for library in config["preload"] for m in (library, *SUBMODULES.get(library, ())))]:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    wire = load("_grader_wire", "wire.py")
    global protocol
    protocol = load("_grader_protocol", "protocol.py")
    load("_grader_student_side", "student_side.py")
    load("_grader_syscall_filter", "syscall_filter.py")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # student processes of our own user may signal us
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # ... but never read our memory or trace us
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if not config["sealed"] and os.getppid() == 1:
        return  # the judge is already gone (behind the wall, bwrap's --die-with-parent sees to it)
    while True:
        if not select.select([control], [], [], WATCH_SECONDS)[0]:
            watch_memory(config["limits"].get("memory"))
            continue
        try:
            data, fds, _, _ = socket.recv_fds(control, 1024, 4)
        except OSError:
            data, fds = b"", []
        if not data:
            kill_everything()
            return
        request = wire.loads(data)
        if (problem := protocol.request_problem(request, protocol.JUDGE_TO_ZYGOTE)) is not None:
            for fd in fds:
                os.close(fd)
            control.send(wire.dumps({"error": problem}))
        elif request["op"] in ("spawn", "script"):
            pid = os.fork()
            if pid == 0:
                control.close()
                child(config, request, fds)
            for fd in fds:
                os.close(fd)
            control.send(wire.dumps({"pid": pid}))
        elif request["op"] == "end":
            control.send(wire.dumps(end(config, request["pid"], request.get("grace", 0.0))))


if __name__ == "__main__":
    main()
