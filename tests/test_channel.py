"""The signed channel: only lines written with the run's key count."""
from grader import channel


def test_events_round_trip_and_forgeries_are_counted(tmp_path):
    key = channel.new_key()
    path = tmp_path / "channel.log"
    reader = channel.Reader(path, key)
    assert reader.poll() == []
    with open(path, "a") as f:
        f.write(channel.encode(key, {"event": "start", "nodeid": "x"}))
        f.write("0" * 64 + ' {"event": "result", "nodeid": "x", "status": "passed"}\n')
        f.write(channel.encode(channel.new_key(), {"event": "result", "nodeid": "x", "status": "passed"}))
        f.write(channel.encode(key, {"event": "result", "nodeid": "x", "status": "failed"})[:20])
    assert reader.poll() == [{"event": "start", "nodeid": "x"}]
    assert reader.forged == 2
    with open(path, "a") as f:  # the half line is completed later: still one (bad) line
        f.write("\n")
    assert reader.poll() == [] and reader.forged == 3


def test_tampered_payload_fails_verification():
    key = channel.new_key()
    line = channel.encode(key, {"status": "failed"})
    assert channel.decode(key, line) == {"status": "failed"}
    assert channel.decode(key, line.replace("failed", "passed")) is None
