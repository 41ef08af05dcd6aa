"""The wire between the test process and the grader: one signed JSON event a line.

The test process also runs student code, so anything it writes could be forged.
Each line carries an HMAC made with a per-run key that the recorder plugin takes
out of the environment before any student code is imported; lines that do not
verify are dropped (and counted, so the grader can say that something tried).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets

KEY_ENV = "GRADER_CHANNEL_KEY"


def new_key() -> str:
    return secrets.token_hex(32)


def encode(key: str, event: dict) -> str:
    payload = json.dumps(event, sort_keys=True, separators=(",", ":"))
    mac = hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"{mac} {payload}\n"


def decode(key: str, line: str) -> dict | None:
    """The event on `line`, or None when the line was not written with `key`."""
    mac, _, payload = line.strip().partition(" ")
    expected = hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


class Reader:
    """Follows a channel file as it grows; yields whole, verified events."""

    def __init__(self, path, key: str):
        self._path = path
        self._key = key
        self._offset = 0
        self._partial = b""
        self.forged = 0

    def poll(self) -> list[dict]:
        try:
            with open(self._path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
                self._offset = f.tell()
        except FileNotFoundError:
            return []
        text = self._partial + chunk
        lines = text.split(b"\n")
        self._partial = lines.pop()
        events = []
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            event = decode(self._key, line)
            if event is None:
                self.forged += 1
            else:
                events.append(event)
        return events
