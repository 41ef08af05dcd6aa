"""The figures of the 04-keepalive handout, measured on this machine with the reference solution.

- Linux's keepalive defaults, and what they mean for a dead peer;
- how long the reference `receive` takes to notice a vanished peer, for a few
  settings (in a private network namespace whose loopback goes down, as in the
  hidden test), beside a control connection of the test's own;
- a peer that vanishes while data waits for its acknowledgement: keepalive never
  fires, TCP_USER_TIMEOUT does;
- what reading 2 MiB costs by chunk size (CPU time of the reading thread).

Prints, never asserts. The namespace parts need root, passwordless sudo or
unprivileged user namespaces (they say so and are left out otherwise):

    .venv/bin/python benchmarks/keepalive_figures.py
"""
from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

from grader import course

ASSIGNMENT = next(a for a in course.CATALOGUE if a.id == "04-keepalive")
sys.path[:0] = [str(ASSIGNMENT.hidden_dir), str(ASSIGNMENT.solution_dir)]
import keepalive  # noqa: E402  (the reference solution)
import peers  # noqa: E402  (the hidden tests' helpers)

SETTINGS = [(1, 1, 2), (2, 1, 3), (1, 2, 3), (3, 3, 1)]  # idle, interval, count
HELD_FOR = 20  # seconds we watch a connection whose data is never acknowledged


def linux_defaults() -> None:
    names = ("tcp_keepalive_time", "tcp_keepalive_intvl", "tcp_keepalive_probes")
    idle, interval, count = (int(Path("/proc/sys/net/ipv4", n).read_text()) for n in names)
    total = idle + interval * count
    print(f"Linux defaults here: idle {idle} s, interval {interval} s, count {count}: a dead peer is noticed "
          f"{total} s ({total // 3600} h {total % 3600 // 60} min) after its last packet")


def in_namespace(network: peers.PrivateNetwork, *args: str):
    """Run this file with `args` in a fresh network namespace; what it printed, unpickled."""
    paths = os.pathsep.join(p for p in sys.path if p)
    command = [*network.prefix, "env", f"PYTHONPATH={paths}", sys.executable, __file__, "--inside", *args]
    done = subprocess.run(command, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace").strip().splitlines()[-1])
    return pickle.loads(done.stdout)


def dead_peers(network: peers.PrivateNetwork) -> None:
    print("\nA peer vanishes (loopback down) a moment after its last data; seconds until receive returns:")
    print(f"  {'idle':>4} {'interval':>8} {'count':>5}   idle+interval*count   receive   control")
    for idle, interval, count in SETTINGS:
        seen = in_namespace(network, "dead-peer", network.ip, str(idle), str(interval), str(count))
        print(f"  {idle:>4} {interval:>8} {count:>5}   {idle + interval * count:>19}   {seen.seconds:7.2f}   "
              f"{seen.control:7.2f}")


def unacknowledged(network: peers.PrivateNetwork) -> None:
    print("\nThe peer vanishes while our reply awaits its acknowledgement (keepalive 1/1/2 on):")
    for user_timeout in (0, 3000):
        outcome = in_namespace(network, "unacknowledged", network.ip, str(user_timeout))
        label = f"TCP_USER_TIMEOUT {user_timeout} ms" if user_timeout else "keepalive alone"
        print(f"  {label:<26} {outcome}")


def inside_dead_peer(ip: str, idle: str, interval: str, count: str):
    return peers.dead_peer(int(idle), int(interval), int(count), 10, ip)


def inside_unacknowledged(ip: str, user_timeout: str) -> str:
    """A reply sent after the peer vanished: how long until the connection is declared dead."""
    subprocess.run([ip, "link", "set", "lo", "up"], check=True)
    with keepalive.listen(idle=1, interval=1, count=2) as listener:
        client = socket.create_connection(listener.getsockname())
        connection, _ = listener.accept()
        if int(user_timeout):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(user_timeout))
        client.sendall(b"question\n")
        connection.recv(100)
        subprocess.run([ip, "link", "set", "lo", "down"], check=True)
        vanished = time.monotonic()
        connection.sendall(b"an answer that is never acknowledged\n")
        connection.settimeout(HELD_FOR)
        try:
            connection.recv(100)
        except TimeoutError as exc:
            if exc.errno is None:  # Python's own timeout, not the kernel's
                return f"still open after {HELD_FOR} s (the kernel is retransmitting; keepalive waits)"
            return f"{type(exc).__name__} [errno {exc.errno}] after {time.monotonic() - vanished:.2f} s"
        return "the connection ended"


def chunk_reader(size: int, quadratic: bool):
    """A reader of `size`-byte chunks that keeps them in a list, or (quadratic) in one growing bytes."""
    def reader(listener):
        connection, _ = listener.accept()
        with connection:
            chunks, data = [], b""
            while chunk := connection.recv(size):
                if quadratic:
                    data += chunk
                else:
                    chunks.append(chunk)
            return data if quadratic else b"".join(chunks)
    return reader


def reading_costs() -> None:
    payload = bytes(range(256)) * (8192)
    print(f"\nReading {len(payload) >> 20} MiB, CPU time of the reading thread (median of 3):")
    peers.time_reading(peers.plain_reader, payload)  # warm up: the first reading in a process costs more
    for size, quadratic in ((65536, False), (4096, False), (1024, False), (1024, True), (1, False)):
        runs = sorted(peers.time_reading(chunk_reader(size, quadratic), payload)[0]
                      for _ in range(3 if size > 1 else 1))
        how = "data += chunk" if quadratic else "list, join"
        print(f"  recv({size:>5}), {how:<13} {runs[len(runs) // 2] * 1000:9.1f} ms")
    runs = sorted(peers.time_reading(keepalive.receive, payload)[0] for _ in range(3))
    print(f"  reference receive {runs[1] * 1000:18.1f} ms")


def main() -> int:
    linux_defaults()
    network = peers.private_network()
    if isinstance(network, str):
        print(f"\n(no namespace figures: {network})")
    else:
        dead_peers(network)
        unacknowledged(network)
    reading_costs()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        task = {"dead-peer": inside_dead_peer, "unacknowledged": inside_unacknowledged}[sys.argv[2]]
        sys.stdout.buffer.write(pickle.dumps(task(*sys.argv[3:])))
    else:
        raise SystemExit(main())
