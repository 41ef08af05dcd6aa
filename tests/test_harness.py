"""The memcached harness: real processes, stopped and restarted; the helpers tests lean on."""
from __future__ import annotations

import os
import subprocess
import sys

from grader.harness import MemcachedServer, free_port, given_servers, parse_servers


def test_parse_servers():
    assert parse_servers("a:1, b:2,") == [("a", 1), ("b", 2)]
    assert parse_servers(":3") == [("127.0.0.1", 3)]


def test_session_servers_are_real_and_emptied_per_test(memcached_servers, mc):
    assert len(memcached_servers) == 3
    assert all(s.ping() for s in memcached_servers)
    mc.set("left-over", b"1", noreply=False)
    assert memcached_servers[0].keys() == {"left-over": -1}


def test_clients_use_no_delay(memcached_servers, mc):
    assert mc.no_delay is True
    assert memcached_servers[1].client("pooled").no_delay is True


def test_a_private_server_stops_and_restarts_empty(memcached_server):
    server = memcached_server()
    client = server.client()
    client.set("k", b"v", expire=100, noreply=False)
    assert 95 <= server.ttl("k") <= 100 and server.ttl("missing") is None
    server.stop()
    assert not server.running and not server.ping()
    server.start()
    assert server.running and server.client().get("k") is None
    server.kill()
    assert not server.running


def test_given_servers_must_answer():
    import pytest

    from grader.harness import MemcachedUnavailable
    with pytest.raises(MemcachedUnavailable, match="does not answer"):
        given_servers(f"127.0.0.1:{free_port()}")


def test_without_memcached_the_session_stops_with_one_line(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_x(mc):\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != "MEMCACHED_SERVERS"}
    env["PATH"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "grader.harness", "-q", "-p", "no:cacheprovider",
                           str(tmp_path)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 3
    lines = [line for line in done.stdout.splitlines() if "memcached is not installed" in line]
    assert len(lines) == 1 and "apt-get install memcached" in lines[0]


def test_servers_are_stopped_with_the_session(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "def test_x(memcached_servers):\n    print('SERVERS', *[s.port for s in memcached_servers])\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "grader.harness", "-q", "-s", "-p",
                           "no:cacheprovider", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items() if k != "MEMCACHED_SERVERS"}, timeout=120)
    assert done.returncode == 0, done.stdout
    ports = [int(p) for line in done.stdout.splitlines() if line.startswith("SERVERS") for p in line.split()[1:]]
    assert len(ports) == 3
    assert not any(MemcachedServer("127.0.0.1", port).ping() for port in ports)


# mirakuru's exit hook, as it runs in a process whose pid the server's mirakuru mark contains.
# The hook kills every process whose mark merely *contains* the pid (a substring test); the
# pretend pid here is the server's whole mark, so that nothing else on the machine matches.
_OTHER_PROCESS_EXITS = """\
import os, sys, psutil, mirakuru.base
mark = psutil.Process(int(sys.argv[1])).environ().get(mirakuru.base.ENV_UUID)
print(mark)
os.getpid = lambda: mark or "no mark to match"
"""


def test_a_server_outlives_other_processes_that_use_mirakuru(memcached_server):
    """Once pids wrap, some test process's pid (2407) sits in a server's mark ("12407:...");
    that process's exit must not take our server down mid-grading."""
    server = memcached_server()
    done = subprocess.run([sys.executable, "-c", _OTHER_PROCESS_EXITS, str(server.pid)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert server.ping(), f"killed by the exit hook of a process matching its mark {done.stdout.strip()}"


def test_a_server_dies_with_the_process_that_started_it(tmp_path):
    done = subprocess.run([sys.executable, "-c", "from grader.harness import MemcachedServer\n"
                                                 "print(MemcachedServer.launch().port)"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not MemcachedServer("127.0.0.1", int(done.stdout)).ping()
