"""The manifest once per hidden-test content: collected by pytest the first time, read back after.

Collecting the hidden tests (`child.collect_manifest`) takes a pytest process and a
second or so, and gives the same list for every student: a class of 200 collects
once. The key is a hash of everything collection reads that can change between two
gradings: the copied hidden tests, the pytest.ini they run under, the grader's own
modules (the recorder plugin writes the manifest; the conftest imports the rest), and
the versions of Python, pytest and Hypothesis. Student code plays no part in
collection, nor in the key.

The cache lives beside this Python (`var/manifests`, a sibling of the Hypothesis
home), in a folder only the grader's user may write: in the private checkout when
grading as root. A cache that is not ours, or cannot be written, is not used.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Callable

from grader.sandbox import Sandbox
from grader.scoring import TestSpec

GRADER = Path(__file__).resolve().parent
HOME = Path(sys.prefix) / "var" / "manifests"


def key(sandbox: Sandbox) -> str:
    """A hash of what collection depends on (never the student's files)."""
    digest = hashlib.sha256()
    for part in (sys.version, metadata.version("pytest"), metadata.version("hypothesis")):
        digest.update(part.encode() + b"\0")
    files = [(f"ini/{sandbox.ini.name}", sandbox.ini)]
    files += [(f"grader/{p.name}", p) for p in sorted(GRADER.glob("*.py"))]
    files += [(f"tests/{p.relative_to(sandbox.tests).as_posix()}", p)
              for p in sorted(sandbox.tests.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _home(home: Path) -> Path | None:
    """The cache folder, made on first use (0700); None when it is not ours alone or cannot be made."""
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = home.stat()
    except OSError:
        return None
    if found.st_uid != os.geteuid() or found.st_mode & 0o022:
        return None
    return home


def cached(sandbox: Sandbox, collect: Callable[[], list[TestSpec]], home: Path = HOME) -> list[TestSpec]:
    """The manifest of `sandbox`'s hidden tests: from the cache when this content was collected before,
    else from `collect()`, then kept (written whole, then renamed: gradings side by side may race)."""
    folder = _home(home)
    path = folder / f"{key(sandbox)}.json" if folder else None
    if path is not None:
        try:
            return [TestSpec(**entry) for entry in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            pass  # not collected yet, or unreadable: collect again
    manifest = collect()
    if path is not None:
        try:
            with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as out:
                json.dump([dataclasses.asdict(spec) for spec in manifest], out)
            os.replace(out.name, path)
        except OSError:
            pass  # not ours after all (a user namespace shows unmapped owners as nobody): not kept
    return manifest
