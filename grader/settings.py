"""One grading's settings: built once where a grading starts, then passed down as an object.

The environment plays a part only at the boundary where a process of ours starts
another (`grader grade-class` starting one `grader grade` per student): it is read in
`from_environment` and written in `environment`, nowhere else. Each value is checked
where it is read, and a wrong one says where it came from.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Mapping

SLOT_ENV = "GRADER_SLOT"  # which grading this is (its student uids); by default the pid of its process
NETWORK_ENV = "GRADER_OWN_NETWORK"  # grade-class: the whole grading gets a network namespace of its own
SERVERS_ENV = "MEMCACHED_SERVERS"  # memcached given from outside (host:port,...): the harness reads it too


class SettingError(ValueError):
    """A setting that cannot be used, and where it came from."""


@dataclass(frozen=True)
class Settings:
    slot: int  # this grading's number, for its student uids (lockdown.student_uid): unique while it runs
    lane: int = 0  # which of the assignments graded side by side in it (a uid of its own each)
    own_network: bool = False  # the whole grading in a network namespace of its own (grade-class asks)
    servers: str = ""  # memcached servers given from outside, host:port,...
    unsealed: bool = False  # student code without the wall (--unsealed): every result says so

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ, unsealed: bool = False) -> Settings:
        """The settings a grading starts with: what the process that started it set, else our defaults."""
        slot = os.getpid()
        if SLOT_ENV in environ:
            try:
                slot = int(environ[SLOT_ENV])
            except ValueError:
                raise SettingError(f"{SLOT_ENV}={environ[SLOT_ENV]!r} in the environment is not a number") from None
            if slot < 1:
                raise SettingError(f"{SLOT_ENV}={slot} in the environment must be 1 or more")
        return cls(slot=slot, own_network=NETWORK_ENV in environ, servers=environ.get(SERVERS_ENV, "").strip(),
                   unsealed=unsealed)

    def in_lane(self, lane: int) -> Settings:
        return dataclasses.replace(self, lane=lane)

    def environment(self) -> dict[str, str]:
        """What a process of ours that starts another grading (one student's, for grade-class) hands it:
        the network namespace request and the servers; never its own slot (each grading takes its own)."""
        return {**({NETWORK_ENV: "1"} if self.own_network else {}),
                **({SERVERS_ENV: self.servers} if self.servers else {})}


def without_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without any grading setting: the base a starting grading's environment is made from."""
    return {k: v for k, v in environ.items() if k not in (SLOT_ENV, NETWORK_ENV, SERVERS_ENV)}
