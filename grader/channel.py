"""The wire between the test process and the grader: one JSON event a line, in a file.

The test process (the judge) runs no student code: student code runs behind the wall
(wall.py), in a sandbox that shows neither this file nor the judge's process. So the
events need no signature: nothing a student can reach writes here. (An earlier
design signed each line with a key passed in the judge's environment, when student
code shared the judge's process; a key in an environment is readable through /proc
by anything of the same user, and the wall made it unnecessary.) Graded --unsealed,
student code could write here: those results say "unsealed" and are not trusted.
"""
from __future__ import annotations

import json


def encode(event: dict) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n"


def decode(line: str) -> dict | None:
    """The event on `line`, or None when it is not one."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


class Reader:
    """Follows a channel file as it grows; yields whole events."""

    def __init__(self, path):
        self._path = path
        self._offset = 0
        self._partial = b""
        self.garbled = 0

    def poll(self) -> list[dict]:
        try:
            with open(self._path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
                self._offset = f.tell()
        except FileNotFoundError:
            return []
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        events = []
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            event = decode(line)
            if event is None:
                self.garbled += 1
            else:
                events.append(event)
        return events
