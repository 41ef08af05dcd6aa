"""The visible tests students run: they pass on the reference and fail on the skeleton."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ASSIGNMENTS, assignment


def _pytest(folder):
    # One process, as in a student's clone (this repository's addopts would start xdist workers).
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(folder)],
                          capture_output=True, text=True, cwd=folder, timeout=300)


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_visible_tests_pass_on_the_reference(id):
    done = _pytest(assignment(id).solution_dir)
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize("id", ASSIGNMENTS)
def test_visible_tests_fail_on_the_skeleton_pointing_at_the_stub(id):
    done = _pytest(assignment(id).skeleton_dir)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "NotImplementedError" in done.stdout and " passed" not in done.stdout.splitlines()[-1]
