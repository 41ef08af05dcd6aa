"""The messages between judge, zygote and student process: declared once (grader/protocol.py), and what is
not declared is refused loudly on each side; statuses travel as data."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import zygote_for

from grader import channel, protocol
from grader.scoring import CRASHED, NOT_RUN


@pytest.mark.parametrize("message, declared, ok", [
    ({"op": "spawn"}, protocol.Spawn, True),
    ({"op": "spawn", "network": "private"}, protocol.Spawn, True),
    ({"op": "spawn", "network": "public"}, protocol.Spawn, False),
    ({"op": "script", "argv": ["server", "1060"]}, protocol.Script, True),
    ({"op": "script", "argv": ["server", 1060]}, protocol.Script, False),
    ({"op": "end", "pid": 7, "grace": 2}, protocol.End, True),
    ({"op": "end", "pid": True}, protocol.End, False),
    ({"killed": False, "exit": None}, protocol.Ended, True),
    ({"op": "call", "id": 1, "target": {}, "args": [], "kwargs": {}, "times": 3}, protocol.Call, True),
    ({"op": "call", "id": 1, "target": {}, "args": [], "kwargs": {}, "later": 1}, protocol.Call, False),
    ({"out": "", "id": 3, "ok": [1, 2]}, protocol.Reply, True),
    ({"out": 3}, protocol.Reply, False),
    ({"out": "", "event": ["f", (1,)]}, protocol.Event, True),
    ({"name": "f", "args": (1,)}, protocol.Ask, True),
    ({"name": "f", "args": [1]}, protocol.Ask, False),
])
def test_messages_are_checked_against_their_declaration(message, declared, ok):
    assert (protocol.problem(message, declared) is None) == ok


def test_an_undeclared_request_is_refused_loudly_by_the_zygote_and_the_student_process():
    with zygote_for("mod", "def double(x):\n    return 2 * x\n") as zygote:
        with pytest.raises(RuntimeError, match="an undeclared request 'boom'"):
            zygote._ask({"op": "boom"})
        process = zygote.spawn()
        process.start(timeout=30)
        assert process.module().double(21) == 42  # the zygote still serves, the process still answers
        number = process._send({"op": "boom", "target": {"attrs": []}}, "in a test")
        reply = process._reply(number, "in a test", 30)
        assert reply["undeclared"] == "an undeclared request 'boom'"
        process.end()


def test_a_message_the_protocol_does_not_declare_ends_the_conversation():
    """A student process that sends a reply of its own making is no longer listened to, and the test says so."""
    source = ("import sys\n"
              "def forge():\n"
              "    side = sys.modules['_grader_student_side']\n"
              "    side.LINK[0].sock.sendall(side.wire.frame(side.wire.dumps({'out': '', 'id': 1, 'score': 99})))\n"
              "    return 1\n")
    from grader.student_process import NotPlainData

    with zygote_for("mod", source) as zygote:
        process = zygote.spawn()
        process.start(timeout=30)
        with pytest.raises(NotPlainData, match="Reply has no score"):
            process.module().forge()
        process.end()


STATUSES = '''
import pytest
from grader.student_process import StudentProcessEnded, ZygoteGone

@pytest.fixture
def broken():
    raise StudentProcessEnded("ended while the test was being set up")

def test_set_up_meets_an_ended_process(broken):
    pass

def test_the_zygote_is_gone():
    raise ZygoteGone("the parent of the student processes is gone")
'''


def test_statuses_come_from_the_exception_in_every_phase(tmp_path):
    (tmp_path / "test_statuses.py").write_text(STATUSES)
    path = tmp_path / "channel.log"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "grader.recorder",
                    "--grader-channel", str(path), "-o", "addopts=", str(tmp_path / "test_statuses.py")],
                   capture_output=True, text=True, cwd=tmp_path, timeout=120)
    results = {e["nodeid"].split("::")[-1]: e["status"] for e in channel.Reader(path).poll() if e["event"] == "result"}
    assert results == {"test_set_up_meets_an_ended_process": CRASHED, "test_the_zygote_is_gone": NOT_RUN}

