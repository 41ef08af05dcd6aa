"""The channel from the judge to the grader: whole JSON lines only, followed as the file grows."""
from grader import channel


def test_events_round_trip_and_garbled_lines_are_counted(tmp_path):
    path = tmp_path / "channel.log"
    reader = channel.Reader(path)
    assert reader.poll() == []
    with open(path, "a") as f:
        f.write(channel.encode({"event": "start", "nodeid": "x"}))
        f.write("not an event\n")
        f.write(channel.encode({"event": "result", "nodeid": "x", "status": "failed"})[:20])
    assert reader.poll() == [{"event": "start", "nodeid": "x"}]
    assert reader.garbled == 1
    with open(path, "a") as f:  # the half line is completed later: still one (bad) line
        f.write("\n")
    assert reader.poll() == [] and reader.garbled == 2
