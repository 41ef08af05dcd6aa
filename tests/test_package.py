"""The grader as a real package: a wheel holds every module and data file it needs, and grades from
a fresh virtual environment outside this checkout."""
from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from grader.course import ROOT


def test_a_wheel_installed_outside_the_checkout_grades(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w",
                            str(tmp_path / "wheels")], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp_path / "wheels").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("grader/formats/class_report.html.j2", "grader/walled_etc/hosts", "grader/zygote.py",
                   "grader/hidden/04-keepalive/test_options.py", "grader/hidden/02-sharding/words.txt",
                   "grader/authoring/gradescope/run_autograder", "grader/classwork/lab_start.py"):
        assert needed in names, f"the wheel lacks {needed}"
    assert not [n for n in names if n.startswith(("solutions/", "assignments/", "tests/"))]

    fresh = tmp_path / "venv"
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([str(base), "-m", "venv", str(fresh)], check=True, timeout=300)
    site = Path(sysconfig.get_paths(vars={"base": str(fresh), "platbase": str(fresh)})["purelib"])
    # The grader's dependencies from this environment (a .pth adds a folder, not its .pth files: the
    # editable install of this checkout stays out); the grader itself from the wheel alone.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([str(fresh / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    where = subprocess.run([str(fresh / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(site)), where

    done = subprocess.run([str(fresh / "bin" / "grader"), "grade", "04-keepalive", "--submission",
                           str(ROOT / "solutions")], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert re.search(r"Total: (\d+) / \1 points", done.stdout), done.stdout[-2000:]
