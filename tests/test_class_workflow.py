"""A class of 300 through the grading workflow's own commands: plan, fetch (from real git
repositories on this machine), grade-class for one batch, collect. Every student gets a row
with the right score or 0 and the reason, whatever a classmate's submission did."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ASSIGNMENTS, assignment

from grader import cli
from grader.classwork import classplan, fetch, rollcall
from grader.course import ROOT

ID = ASSIGNMENTS[0]
DEADLINE = "2026-12-01T23:59:00Z"
BEFORE, AFTER = "2026-11-30T10:00:00Z", "2026-12-02T10:00:00Z"
SPECIAL = ["alice", "mallory", "killer", "nobody", "latecomer"]


def git(repo: Path, *args: str, date: str = BEFORE) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="s", GIT_AUTHOR_EMAIL="s@x", GIT_COMMITTER_NAME="s",
               GIT_COMMITTER_EMAIL="s@x", GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def student_repo(bare: Path, commits: list[tuple[str, str]]) -> None:
    """A bare repository whose history is `commits`: (date, text of the module) each."""
    work = bare.with_suffix(".work")
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    module = work / "assignments" / ID / assignment(ID).module
    module.parent.mkdir(parents=True)
    for date, text in commits:
        module.write_text(text)
        (work / "assignments" / ID / "README.md").write_text("handout\n")
        git(work, "add", "-A")
        git(work, "commit", "-qm", "work", date=date)
    git(bare.parent, "clone", "-q", "--bare", str(work), str(bare))
    shutil.rmtree(work)


def attacks(out: Path) -> dict[str, str]:
    """What mallory and killer hand in: the skeleton (0 points), and an attack at import."""
    skeleton = (assignment(ID).skeleton_dir / assignment(ID).module).read_text()
    forged = json.dumps({"score": 99, "max_score": 99, "tests": [{"name": f"{ID}::forged", "score": 99,
                                                                   "max_score": 99}]})
    mallory = f"""
import pathlib
for name in ("alice", "mallory", "zed"):  # a classmate's file, her own, and a stranger's
    try:
        pathlib.Path({str(out)!r}, name + ".json").write_text({forged!r})
    except OSError:
        pass
"""
    killer = """
import os, signal
pid = os.getppid()
while pid > 1:  # up to the `grader grade` that grades this submission, and kill it
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        if b"grader\\x00grade\\x00" in f.read():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            break
    with open(f"/proc/{pid}/stat") as f:
        pid = int(f.read().rsplit(")", 1)[1].split()[1])
"""
    return {"mallory": mallory + skeleton, "killer": killer + skeleton}


def prepared(score: int) -> dict:
    """A results file as a grading job would upload it, for the students not graded for real."""
    return {"score": score, "max_score": 10,
            "tests": [{"name": f"{ID}::test_{n}", "score": float(n < score), "max_score": 1.0} for n in range(10)]}


def ordinary(index: int) -> int:
    return index % 11


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The whole workflow on this machine, once: what each step left behind."""
    tmp = tmp_path_factory.mktemp("class")
    artifacts, repos = tmp / "artifacts", tmp / "repos"
    graded_out = artifacts / "results-001"  # where batch 001's grading writes, as the workflow does
    names = SPECIAL + [f"s{i:03d}" for i in range(295)]
    roster = tmp / "roster.csv"
    roster.write_text("student,repository\n" + "".join(f"{n},org/cq-{n}\n" for n in names))

    # The repositories: one made with git for the ordinary students, copied; the others their own.
    reference = (assignment(ID).solution_dir / assignment(ID).module).read_text()
    student_repo(repos / "template.git", [(BEFORE, "# ordinary\n")])
    for name in names[len(SPECIAL):]:
        shutil.copytree(repos / "template.git", repos / "org" / f"cq-{name}.git")
    hand_in = attacks(graded_out)
    student_repo(repos / "org" / "cq-alice.git", [(BEFORE, "# started\n"), (BEFORE, reference),
                                                  (AFTER, "# broke it after the deadline\n")])
    student_repo(repos / "org" / "cq-mallory.git", [(BEFORE, hand_in["mallory"])])
    student_repo(repos / "org" / "cq-killer.git", [(BEFORE, hand_in["killer"])])
    student_repo(repos / "org" / "cq-latecomer.git", [(AFTER, reference)])  # nobody: no repository at all

    # plan: as the workflow's first job runs it, before anything is installed
    output = tmp / "github-output"
    done = subprocess.run([sys.executable, "-S", "-m", "grader.classwork.classplan", str(roster), "--assignment", ID,
                           "--deadline", DEADLINE, "--per-job", "3", "--out", str(tmp / "plan.json"),
                           "--github-output", str(output)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    plan = classplan.load(tmp / "plan.json")

    # fetch: one job per batch; the first as the workflow runs it, the rest in this process
    source = f"{repos}/{{repository}}.git"
    fetched = tmp / "fetched"
    done = subprocess.run([sys.executable, "-S", "-m", "grader.classwork.fetch", "--plan", str(tmp / "plan.json"),
                           "--batch", "001", "--out", str(fetched / "001"), "--source", source],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    lost_fetch, lost_grading = "060", "050"  # a fetch job that failed, a grading job that did
    rest = [b["batch"] for b in plan["batches"][1:] if b["batch"] != lost_fetch]
    with ThreadPoolExecutor(2) as pool:
        assert set(pool.map(lambda b: fetch.main(["--plan", str(tmp / "plan.json"), "--batch", b, "--out",
                                                  str(fetched / b), "--source", source]), rest)) == {0}
    for batch in ["001", *rest]:
        (artifacts / f"manifest-{batch}").mkdir(parents=True)
        shutil.copy(fetched / batch / "manifest.json", artifacts / f"manifest-{batch}")

    # grade: batch 001 for real, as the workflow's grading job runs it; the others' results prepared
    done = subprocess.run([sys.executable, "-m", "grader", "grade-class", ID, "--submissions",
                           str(fetched / "001" / "submissions"), "--out", str(graded_out), "--jobs", "2",
                           "--timeout", "120"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    graded_files = sorted(p.name for p in graded_out.glob("*.json"))
    for batch in rest:
        if batch == lost_grading:
            continue
        (artifacts / f"results-{batch}").mkdir()
        for folder in (fetched / batch / "submissions").glob("*"):
            score = ordinary(names.index(folder.name))
            (artifacts / f"results-{batch}" / f"{folder.name}.json").write_text(json.dumps(prepared(score)))
    # a grading job's own extra: a file in the name of a student of another batch
    (graded_out / "s100.json").write_text(json.dumps(prepared(10)))

    # collect
    grades = tmp / "grades.csv"
    summary = tmp / "summary.md"
    assert cli.main(["collect", str(artifacts), "--plan", str(tmp / "plan.json"), "--csv", str(grades),
                     "--summary", str(summary)]) == 0
    with open(grades) as f:
        rows = list(csv.DictReader(f))
    return {"plan": plan, "rows": rows, "by_name": {r["student"]: r for r in rows}, "names": names,
            "summary": summary.read_text(), "output": output.read_text(), "fetched": fetched,
            "lost": (lost_fetch, lost_grading), "graded_files": graded_files}


def test_every_rostered_student_has_exactly_one_row(run):
    assert [r["student"] for r in run["rows"]] == run["names"]


def test_the_plan_cuts_the_class_into_batches_under_the_matrix_limit(run):
    plan = run["plan"]
    assert len(plan["batches"]) == 100 and all(len(b["students"]) == 3 for b in plan["batches"])
    lines = dict(line.split("=", 1) for line in run["output"].splitlines())
    assert lines["ready"] == "true" and json.loads(lines["batches"]) == [b["batch"] for b in plan["batches"]]
    assert int(lines["job-minutes"]) == plan["job_minutes"] <= classplan.JOB_LIMIT_MINUTES


def test_the_reference_is_graded_at_its_last_commit_before_the_deadline(run):
    alice = run["by_name"]["alice"]
    assert float(alice["total"]) == float(alice["max_score"]) > 0, alice
    assert alice["problem"] == ""
    manifest = json.loads((run["fetched"] / "001" / "manifest.json").read_text())
    entry = next(e for e in manifest["students"] if e["student"] == "alice")
    assert alice["commit"] == entry["commit"] and alice["committed_at"] == BEFORE
    assert alice["deadline"] == DEADLINE and alice["repository"] == "org/cq-alice"


def test_a_submission_that_writes_classmates_results_files_changes_no_grade(run):
    assert float(run["by_name"]["mallory"]["total"]) == 0  # not her forged 99
    assert run["by_name"]["mallory"]["problem"] == ""  # graded, and graded as what she handed in
    assert float(run["by_name"]["alice"]["total"]) > 0
    assert float(run["by_name"]["s100"]["total"]) == ordinary(run["names"].index("s100"))
    assert "results-001/s100.json" in run["summary"]  # listed as ignored
    assert "zed" not in run["by_name"]
    assert run["graded_files"] == ["alice.json", "killer.json", "mallory.json"]  # grade-class kept no stray


def test_a_submission_that_kills_the_grader_gets_zero_and_the_reason(run):
    killer = run["by_name"]["killer"]
    assert float(killer["total"]) == 0
    # as root in the grader's process the attack kills `grader grade`; as the student user it cannot
    assert killer["problem"] == "" or "killed by SIGKILL" in killer["problem"], killer


def test_no_repository_and_no_commit_before_the_deadline_get_zero_and_the_reason(run):
    nobody, late = run["by_name"]["nobody"], run["by_name"]["latecomer"]
    assert float(nobody["total"]) == 0 and nobody["problem"].startswith("no repository")
    assert float(late["total"]) == 0 and late["problem"] == f"no commit before the deadline {DEADLINE}"
    assert late["commit"] == "" and late["deadline"] == DEADLINE
    assert "### Not graded" in run["summary"] and "latecomer" in run["summary"]


def test_lost_jobs_cost_their_students_a_grade_never_a_row(run):
    lost_fetch, lost_grading = run["lost"]
    for batch in run["plan"]["batches"]:
        for entry in batch["students"]:
            row = run["by_name"][entry["student"]]
            if batch["batch"] == lost_fetch:
                assert row["problem"].startswith(f"not fetched: the fetch job of batch {lost_fetch}")
            elif batch["batch"] == lost_grading:
                assert row["problem"].startswith(f"no results file: the grading job of batch {lost_grading}")
            elif entry["student"].startswith("s"):
                assert float(row["total"]) == ordinary(run["names"].index(entry["student"])), row
                assert row["committed_at"] == BEFORE and len(row["commit"]) == 40


def test_the_export_holds_only_the_assignment_folders_regular_files(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "assignments" / ID).mkdir(parents=True)
    (work / "assignments" / ID / assignment(ID).module).write_text("x = 1\n")
    (work / "assignments" / ID / "peek.py").symlink_to("/etc/passwd")
    (work / "notes.txt").write_text("not graded\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "w")
    count = fetch.export(work, "HEAD", [ID], tmp_path / "out")
    assert count == 1
    assert [p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()] \
        == [f"assignments/{ID}/{assignment(ID).module}"]


@pytest.mark.parametrize("bad", ["garbage", "", "01/12/2026", "2026-12-01T23:59:00", "2026-12-01"])
def test_a_bad_deadline_stops_the_run_before_anything_is_read_or_graded(tmp_path, bad):
    output = tmp_path / "out"
    done = subprocess.run([sys.executable, "-S", "-m", "grader.classwork.classplan", "no-such-roster.csv",
                           "--assignment", ID, "--deadline", bad, "--out", str(tmp_path / "plan.json"),
                           "--github-output", str(output)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 1
    assert any(why in done.stderr for why in ("is not ISO 8601", "has no time zone", "no deadline")), done.stderr
    assert not (tmp_path / "plan.json").exists() and "ready=false" in output.read_text()


def test_a_roster_that_cannot_be_read_stops_the_run_loudly(tmp_path):
    output = tmp_path / "out"
    done = subprocess.run([sys.executable, "-S", "-m", "grader.classwork.classplan", "no-such-roster.csv",
                           "--assignment", ID, "--deadline", DEADLINE, "--out", str(tmp_path / "plan.json"),
                           "--github-output", str(output)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 1 and "no-such-roster.csv" in done.stderr
    assert "ready=false" in output.read_text()


def test_a_schedule_before_the_deadline_grades_nothing(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repository\nada,org/ada\n")
    output = tmp_path / "out"
    assert classplan.main([str(roster), "--assignment", ID, "--deadline", "2999-01-01T00:00:00Z",
                           "--only-after-deadline", "--out", str(tmp_path / "plan.json"),
                           "--github-output", str(output)]) == 0
    assert "ready=false" in output.read_text() and not (tmp_path / "plan.json").exists()


def test_a_roster_of_a_thousand_is_graded_several_students_per_job():
    students = [{"student": f"s{i:04d}", "repository": f"org/s{i:04d}"} for i in range(1000)]
    plan = classplan.make(students, ID, classplan.deadline.parse_deadline(DEADLINE), "last-commit")
    batches = plan["batches"]
    assert len(batches) <= 256 and max(len(b["students"]) for b in batches) > 1
    assert [s for b in batches for s in b["students"]] == students
    assert len({b["batch"] for b in batches}) == len(batches)
    assert sorted(b["batch"] for b in batches) == [b["batch"] for b in batches]
    assert plan["job_minutes"] <= classplan.JOB_LIMIT_MINUTES


def test_a_class_too_big_for_the_job_limit_is_refused_with_what_to_do():
    students = [{"student": f"s{i}", "repository": f"org/s{i}"} for i in range(5000)]
    with pytest.raises(classplan.PlanError, match="student-minutes"):
        classplan.make(students, ID, classplan.deadline.parse_deadline(DEADLINE), "last-commit")


def test_collect_reads_no_manifest_or_results_outside_the_plan(tmp_path):
    plan = {"batches": [{"batch": "001", "students": [{"student": "ada", "repository": "org/ada"}]}]}
    (tmp_path / "manifest-001").mkdir()
    (tmp_path / "manifest-001" / "manifest.json").write_text(json.dumps({"students": [
        {"student": "ada", "repository": "org/ada", "commit": "c" * 40, "committed_at": BEFORE,
         "deadline": DEADLINE, "problem": ""}]}))
    (tmp_path / "results-002").mkdir()  # a batch the plan does not have
    (tmp_path / "results-002" / "ada.json").write_text(json.dumps(prepared(10)))
    call = rollcall.collect(plan, tmp_path)
    assert [s.name for s in call.students] == ["ada"] and call.students[0].total == 0
    assert call.students[0].problem.startswith("no results file")


def test_the_push_time_is_the_first_push_that_brought_the_commit():
    history = {"c1": {"c1"}, "c2": {"c1", "c2"}, "c3": {"c1", "c2", "c3"}}  # head -> commits it contains
    pushes = [  # newest first, as GitHub lists them
        {"activity_type": "push", "after": "c3", "timestamp": "2026-12-03T09:00:00Z"},
        {"activity_type": "force_push", "after": "c2", "timestamp": "2026-12-02T09:00:00Z"},
        {"activity_type": "branch_deletion", "after": "c2", "timestamp": "2026-11-20T09:00:00Z"},
        {"activity_type": "push", "after": "c1", "timestamp": "2026-11-30T09:00:00Z"},
    ]
    contains = lambda head, commit: commit in history[head]  # noqa: E731
    assert fetch.first_push(pushes, "c2", contains) == "2026-12-02T09:00:00Z"
    assert fetch.first_push(pushes, "c1", contains) == "2026-11-30T09:00:00Z"
    assert fetch.first_push(pushes, "c9", contains) == ""


def test_a_commit_dated_before_the_deadline_but_pushed_after_it_is_listed(tmp_path):
    plan = {"batches": [{"batch": "001", "students": [{"student": "ada", "repository": "org/ada"}]}]}
    (tmp_path / "manifest-001").mkdir()
    (tmp_path / "manifest-001" / "manifest.json").write_text(json.dumps({"students": [
        {"student": "ada", "repository": "org/ada", "commit": "c" * 40, "committed_at": BEFORE,
         "pushed_at": AFTER, "deadline": DEADLINE, "problem": ""}]}))
    (tmp_path / "results-001").mkdir()
    (tmp_path / "results-001" / "ada.json").write_text(json.dumps(prepared(7)))
    call = rollcall.collect(plan, tmp_path)
    assert call.students[0].total == 7 and rollcall.pushed_late(call.students[0])
    assert f"ada: committed {BEFORE}, pushed {AFTER}" in rollcall.summary(call)


def test_a_student_who_never_accepted_keeps_a_row(tmp_path):
    fixture = ROOT / "tests" / "fixtures" / "rosters" / "github-classroom-grades.csv"
    assert classplan.main([str(fixture), "--assignment", ID, "--deadline", DEADLINE,
                           "--out", str(tmp_path / "plan.json")]) == 0
    plan = classplan.load(tmp_path / "plan.json")
    [larry] = [s for b in plan["batches"] for s in b["students"] if s["student"] == "late-larry"]
    entry = fetch.fetch_one(larry, plan, "/nowhere/{repository}", tmp_path)
    assert entry["problem"].startswith("no repository") and "never accepted" in entry["problem"]


def test_a_classroom50_roster_with_pending_and_unlinked_rows_is_planned_and_collected_for_everyone(tmp_path):
    """The web app's rows without an account get 0 and the reason; a teacher enrolled as a student too is
    graded; a TA who is only staff is left out of the grades and named in the summary."""
    fixture = ROOT / "tests" / "fixtures" / "rosters" / "classroom50-web-roster.csv"
    assert classplan.main([str(fixture), "--assignment", ID, "--deadline", DEADLINE, "--classroom50",
                           "my-org/cq-fall", "--out", str(tmp_path / "plan.json")]) == 0
    plan = classplan.load(tmp_path / "plan.json")
    repos = tmp_path / "repos"
    for who in ("ada-l", "prof-x", "alan-t"):  # prof-x accepted the assignment as a student; ta-tom did not
        student_repo(repos / "my-org" / f"cq-fall-{ID}-{who}.git", [(BEFORE, "# work\n")])
    artifacts = tmp_path / "artifacts"
    for batch in plan["batches"]:
        name = batch["batch"]
        assert fetch.main(["--plan", str(tmp_path / "plan.json"), "--batch", name, "--out",
                           str(artifacts / f"manifest-{name}"), "--source", f"{repos}/{{repository}}.git"]) == 0
        (artifacts / f"results-{name}").mkdir()
        for folder in (artifacts / f"manifest-{name}" / "submissions").glob("*"):
            (artifacts / f"results-{name}" / f"{folder.name}.json").write_text(json.dumps(prepared(4)))
    call = rollcall.collect(plan, artifacts)
    rows = {s.name: s for s in call.students}
    assert set(rows) == {"ada-l", "prof-x", "alan-t", "pending_example.edu", "Grace_Hopper", "Octo_Fez",
                         "Mallory_Tables"}
    assert rows["ada-l"].total == rows["prof-x"].total == 4 and not rows["prof-x"].problem
    for name in ("pending_example.edu", "Grace_Hopper", "Octo_Fez", "Mallory_Tables"):
        assert rows[name].total == 0 and rows[name].problem.startswith("no GitHub"), rows[name]
    assert call.staff == ["ta-tom (ta)"]
    assert "ta-tom (ta)" in rollcall.summary(call) and "invitation to pending@example.edu" in rollcall.summary(call)
