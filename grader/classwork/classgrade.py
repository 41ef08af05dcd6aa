"""Grade a whole class on this machine: one folder per student, several at a time.

Each student is graded by a `grader grade` process of its own (with its own
throwaway memcached servers), so one student's crash or hang cannot touch
another's grade. A student whose grading does not finish within the time limit,
or cannot run at all, still gets a results file: every test at 0, and the reason.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader import pipeline
from grader.course import Assignment
from grader.formats import class_csv, gradescope
from grader.processes import kill_tree
from grader.scoring import NOT_RUN, AssignmentResult, Outcome, TestSpec, score
from grader.settings import Settings, without_settings


@dataclass(frozen=True)
class Job:
    student: str
    folder: Path
    results: Path
    log: Path


def jobs_for(submissions: Path, out: Path) -> list[Job]:
    """One job per sub-folder of `submissions` (the folder's name is the student's)."""
    folders = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [Job(p.name, p, out / f"{p.name}.json", out / f"{p.name}.log") for p in folders]


def manifests(assignments: list[Assignment]) -> dict[str, list[TestSpec]]:
    """Every assignment's hidden tests, collected before any grading starts: collecting runs a
    child of this process, which reaps every other child it finds, gradings in flight included."""
    return {a.id: pipeline.manifest_of(a) for a in assignments}


def stand_in(assignments: list[Assignment], reason: str, known: dict[str, list[TestSpec]]) -> dict:
    """A results file for a student whose grading did not finish: every test at 0, and why."""
    results = []
    for assignment in assignments:
        manifest = known[assignment.id]
        outcomes = {spec.nodeid: Outcome(NOT_RUN, reason) for spec in manifest}
        results.append(AssignmentResult(assignment.id, score(manifest, outcomes), [reason]))
    document = gradescope.results_json(results, 0.0)
    document["extra_data"] = {"problem": reason}  # Gradescope keeps extra_data without reading it
    return document


def grade_one(job: Job, name: str, limit: float, settings: Settings) -> tuple[str | None, dict | None]:
    """Run `grader grade` for one student: (None, results) when it finished, else (what went wrong, None).

    The results file is written where only root can reach when grading as root, and
    read back only once the student's `grader grade` has exited and its process
    group is gone.
    """
    private = Path(tempfile.mkdtemp(prefix="grader-results-"))  # 0700: not the student's TMPDIR
    command = [sys.executable, "-m", "grader", "grade", name, "--submission", str(job.folder),
               "--results", str(private / "results.json"), "--verbose",  # its log is every test, to hand back
               *(["--unsealed"] if settings.unsealed else [])]
    scratch = tempfile.mkdtemp(prefix=f"grader-{job.student}-")  # removed even if grading is killed
    # Each student's grading takes student uids of its own (its pid: settings.py) and a network namespace
    # of its own: a classmate's grading beside it shares neither.
    env = {**without_settings(os.environ), **dataclasses.replace(settings, own_network=True).environment(),
           "COLUMNS": "120", "TMPDIR": scratch}
    try:
        started = time.time()
        with open(job.log, "wb") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
            try:
                returncode = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)  # its test processes and memcached servers too: they sit in other groups
                return f"grading did not finish within {limit:.0f} s and was stopped", None
            finally:
                _kill_group(proc.pid, started)
        if returncode < 0:
            return f"grading crashed: the grader was killed by {signal.Signals(-returncode).name}", None
        document = _read(private / "results.json")
        if returncode != 0 or document is None:
            last = (job.log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
            return f"grading could not run (exit status {returncode}): {last}", None
        return None, document
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


def _kill_group(pgid: int, started: float) -> None:
    """Kill what is left of a grading's process group (never a later group that reuses the number)."""
    for process in psutil.process_iter(["pid", "create_time"]):
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(process.pid) == pgid and process.info["create_time"] >= started - 1:
                process.kill()


def _read(path: Path) -> dict | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and isinstance(document.get("tests"), list) else None


def _write(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


def grade_class(name: str, assignments: list[Assignment], submissions: Path, out: Path,
                jobs: int, limit: float, settings: Settings, console=None) -> list[class_csv.Student]:
    """Grade every folder of `submissions`; `out` gets one results file per student, and no other.

    Each file is written as soon as that student is done (so a grading run cut short
    keeps what it finished), and all of them again at the end from what this process
    read back, so a file one submission wrote in a classmate's name does not stay.
    """
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    todo = jobs_for(submissions, out)
    known = manifests(assignments) if todo else {}
    documents: dict[str, dict] = {}
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=console) as progress, ThreadPoolExecutor(max_workers=jobs) as pool:
        task = progress.add_task("", total=len(todo))
        futures = {pool.submit(grade_one, job, name, limit, settings): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            problem, document = future.result()
            documents[job.student] = document or stand_in(assignments, problem, known)
            _write(job.results, documents[job.student])
            said = f"{job.student}" + (f": {problem}" if problem else "")  # words of the student's: not markup
            progress.update(task, advance=1, description=escape(said))
    own = {job.results for job in todo}
    for stray in set(out.glob("*.json")) - own:
        stray.unlink()
    for job in todo:
        _write(job.results, documents[job.student])
    return [class_csv.read(job.results) for job in todo]
