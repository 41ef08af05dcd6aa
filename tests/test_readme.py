"""The documentation's commands are tests: every ```console block, run exactly as written, does what it says.

In a fresh copy of the repository (its tracked files, as a clone has them), with
three students in class/ (ada handed in the reference, bob the skeleton, cy a
partly written squares.py) and the three of them in classroom/roster.csv, as an
instructor would set up a round, every ```console block of README.md, then of
docs/instructors.md, then of docs/contributing.md runs in order, each line in its
own bash (so no line may lean on an earlier activation or `cd`), from the copy's
root, without the virtual environment on PATH. Then the console blocks of the
handouts these guides link run, the way a student runs them: each `$ ` line in the
handout's own folder beside a complete module (solutions/<id>/, the handout's
source) with the virtual environment active; output the handout shows must be the
output got. Last, the students' README (the template's) runs the same way at the
root of a student's repository: the released template with every module written.
```sh blocks are for another machine (GitHub, Gradescope) and are not run.
Commands that cannot run here are listed in NOT_RUN, each with its reason, and
every entry must still match a command, so the list cannot rot.

Every relative link of these files (and of the template as released) must point at
a file that exists, and a `#fragment` at one of its headings, so that moving a
section cannot leave a reader at a dead end.
"""
from __future__ import annotations

import csv
import html
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import answered_lab, assignment
from markdown_it import MarkdownIt

from grader import course
from grader.authoring import generate, release
from grader.authoring.stripping import drop_markers, solution_lines, strip_solutions
from grader.course import ROOT

NOT_RUN = {  # a command containing the key is not run here, for the reason given
    ".venv/bin/pytest": "the whole suite: what CI runs, and this test is part of it",
    "jupyter lab": "a browser session a person works in (formgrader for the written answers, a student's lab)",
    "sudo apt-get install": "installs a system package for a student (setup.sh did it here)",
    "pip install": "installs into a student's own environment (the course's .venv has it all)",
    "python squares.py": "needs a memcached of the student's own on 127.0.0.1:11211, and prints timings",
    "sudo tcpdump": "captures traffic until it is stopped by hand",
    "keepalive.py server": "a server that runs until it is stopped by hand",
    "keepalive.py client": "an interactive client: the student types into it",
    "sudo iptables": "changes this machine's firewall",
    "benchmarks/": "prints this machine's figures and asserts none; it grades every reference again, or waits "
                   "for dead peers, for minutes",
}
OUTPUT_VARIES = {"python queuepi.py": "an estimate of pi and a rate that differ from run to run",
                 "python workqueue.py": "timings that differ from run to run"}

GUIDES = ("README.md", "docs/instructors.md", "docs/contributing.md")  # an instructor's, run in this order
# the template's: every student's repository has it
STUDENTS_README = Path("grader/authoring/student_template/README.md")
ID = "01-cache-aside"  # the assignment of the instructors' guide's round
STUDENTS = ("ada", "bob", "cy")
LINE_TIMEOUT = 900  # seconds one command may take (grading every reference is the longest)


@dataclass
class Command:
    text: str
    guide: Path  # the Markdown file it was written in
    shown: list[str]  # the output the guide shows after it (a handout's transcript)


def console_blocks(markdown: str) -> list[list[str]]:
    """Their lines, a block indented under a list item included (its indentation taken off)."""
    found = re.findall(r"^( *)```console\n(.*?)^\1```", markdown, re.M | re.S)
    return [[line.removeprefix(indent) for line in block.splitlines()] for indent, block in found]


def commands(guide: Path) -> list[Command]:
    """The commands of a guide's console blocks: every line, or in a transcript the `$ ` lines."""
    out: list[Command] = []
    for lines in console_blocks(guide.read_text()):
        transcript = any(line.startswith("$ ") for line in lines)
        pending = ""
        for line in lines:
            if pending:
                pending += "\n" + line
            elif transcript and not line.startswith("$ "):
                if out and line.strip():
                    out[-1].shown.append(line)
                continue
            else:
                pending = line.removeprefix("$ ") if transcript else line
            if not pending.endswith("\\"):
                if pending.strip():
                    out.append(Command(pending, guide, []))
                pending = ""
    return out


# -- links ----------------------------------------------------------------------------------

MARKDOWN = MarkdownIt("commonmark").enable("table")


def relative_links(markdown: str) -> list[str]:
    """The targets of a document's links and images that are not URLs (code spans hold none)."""
    inline = [child for token in MARKDOWN.parse(markdown) for child in token.children or []]
    targets = [c.attrGet("href") if c.type == "link_open" else c.attrGet("src")
               for c in inline if c.type in ("link_open", "image")]
    return [str(t) for t in targets if t and not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", str(t))]


def anchors(markdown: str) -> set[str]:
    """The ids GitHub gives a document's headings: lower case, punctuation dropped, spaces as hyphens."""
    tokens = MARKDOWN.parse(markdown)
    seen: Counter[str] = Counter()
    out = set()
    for heading, inline in zip(tokens, tokens[1:]):
        if heading.type == "heading_open":
            text = "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))
            slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
            out.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
            seen[slug] += 1
    return out


def broken_links(document: Path) -> list[str]:
    """Its relative links whose file, or whose heading in a Markdown file, does not exist."""
    broken = []
    for link in relative_links(document.read_text()):
        path, _, fragment = link.partition("#")
        target = (document.parent / path) if path else document
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif fragment and target.suffix == ".md" and fragment not in anchors(target.read_text()):
            broken.append(f"{link}: no such heading in {target.name}")
    return broken


def linked(document: Path) -> list[Path]:
    return list(dict.fromkeys((document.parent / link.partition("#")[0]).resolve()
                              for link in relative_links(document.read_text()) if not link.startswith("#")))


def handouts() -> list[Path]:
    """The handouts the guides link (assignments/<id>/README.md), in the order they are linked."""
    found = dict.fromkeys(target for guide in GUIDES for target in linked(ROOT / guide))
    return [t for t in found if t.name == "README.md" and t.is_relative_to(ROOT / "assignments")]


def not_run(command: Command) -> str | None:
    return next((reason for key, reason in NOT_RUN.items() if key in command.text), None)


# -- the class an instructor grades --------------------------------------------------


def partly_written(reference: str) -> str:
    """The reference with only its first solution region written: the rest are still stubs."""
    lines = reference.splitlines(keepends=True)
    begin = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION")
    end = next(i for i, line in enumerate(lines) if i > begin and line.strip() == "### END SOLUTION")
    return strip_solutions("".join(lines[:begin] + lines[begin + 1:end] + lines[end + 1:]))


def make_class(copy: Path) -> None:
    a = assignment(ID)
    released = nbformat.read(a.skeleton_dir / "lab.ipynb", as_version=4)
    answered = answered_lab(released, nbformat.read(a.solution_dir / "lab.ipynb", as_version=4))
    reference = (a.solution_dir / a.module).read_text()
    handed_in = {"ada": (reference, answered), "bob": ((a.skeleton_dir / a.module).read_text(), released),
                 "cy": (partly_written(reference), answered)}
    for student, (module, lab) in handed_in.items():
        folder = copy / "class" / student / "assignments" / ID  # a clone of the student's repository
        shutil.copytree(a.skeleton_dir, folder)
        (folder / a.module).write_text(module)
        nbformat.write(lab, folder / "lab.ipynb")
    rows = "".join(f"{s},{s},our-classroom/caches-and-queues-{s}\n" for s in STUDENTS)
    (copy / "classroom" / "roster.csv").write_text("student,github_username,repository\n" + rows)


def students_repository(dest: Path) -> list[Path]:
    """The template as released, every module written as the reference writes it: a student who is done."""
    files = release.build_template(dest, course.available())
    for a in course.available():
        for rel in generate.students_files(a):
            source = a.solution_dir / rel
            (dest / "assignments" / a.id / rel).write_text(drop_markers(source.read_text(), source=str(source)))
    return files


def fresh_copy(dest: Path) -> Path:
    """The tracked files of this checkout, as a clone has them, and a git index to tell what is ignored."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    # This test's own virtual environment stands in for the one setup.sh would make, so setup.sh finds it
    # installed and takes seconds. Its editable install points at this checkout, so PYTHONPATH (below)
    # puts the copy's own `grader` first: every command then runs the copy's code and writes in the copy.
    (dest / ".venv").symlink_to(sys.prefix)
    return dest


# -- running them -------------------------------------------------------------------------


def place(guide: Path, copy: Path, student: Path) -> tuple[Path, bool]:
    """Where a guide's commands run, and whether as a student does (their virtual environment active)."""
    rel = guide.relative_to(ROOT)
    if rel.as_posix() in GUIDES:
        return copy, False
    if rel == STUDENTS_README:
        return student, True
    return copy / "solutions" / rel.parent.name, True  # a handout: beside the complete module, its source


def run(command: Command, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command.text], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=LINE_TIMEOUT)


def text_of(path: Path) -> str:
    """What a student reads in a file: a notebook's cells, an HTML page's text."""
    if path.suffix == ".ipynb":
        return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    text = path.read_text(errors="replace")
    return html.unescape(re.sub(r"<[^>]+>", "", text)) if path.suffix == ".html" else text


def lines_of(paths) -> set[str]:
    return {line.strip() for path in paths for line in text_of(path).splitlines()}


def secrets(student_folder: Path) -> set[str]:
    """Lines of the assignment's solution regions that neither the release nor this student's work holds."""
    a = assignment(ID)
    answers = set()
    for path in a.solution_dir.iterdir():
        if path.suffix in (".py", ".ipynb"):
            answers |= {line.strip() for line in solution_lines(text_of(path), source=str(path))}
    given = lines_of(p for p in a.skeleton_dir.iterdir() if p.is_file())
    own = lines_of(p for p in student_folder.rglob("*") if p.is_file())
    return answers - given - own - {""}


def test_every_relative_link_points_at_a_file_and_heading_that_exist(tmp_path):
    """Every Markdown file of the repository, and of the template as released (its README is written for there)."""
    tracked = subprocess.run(["git", "ls-files", "-z", "*.md"], cwd=ROOT, capture_output=True, check=True).stdout
    documents = [ROOT / name for name in filter(None, tracked.decode().split("\0")) if Path(name) != STUDENTS_README]
    documents += [path for path in students_repository(tmp_path / "student") if path.suffix == ".md"]
    broken = [f"{doc}: {link}" for doc in documents if doc.is_file() for link in broken_links(doc)]
    assert broken == [], "links that lead nowhere:\n" + "\n".join(broken)
    read_on = set(linked(ROOT / "README.md"))
    assert {(ROOT / doc).resolve() for doc in (*GUIDES[1:], STUDENTS_README)} <= read_on, \
        "the README must link the guides and the students' README"


def walk(guides: list[Path], tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Every console command of `guides`, in order, each where and as whom its reader runs it; what each
    printed, and the course's fresh copy they ran in."""
    todo = [c for guide in guides for c in commands(guide)]
    installed = Path(sys.prefix, ".installed-pyproject")
    assert installed.is_file() and installed.read_bytes() == (ROOT / "pyproject.toml").read_bytes(), \
        "run `bash setup.sh` first: this test shares its .venv, which must not be reinstalled from a copy"
    copy = fresh_copy(tmp_path / "course")
    make_class(copy)
    student = tmp_path / "student"
    students_repository(student)
    bin_dir = str(Path(sys.prefix) / "bin")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "MEMCACHED_SERVERS", "VIRTUAL_ENV"))}
    path = os.pathsep.join(p for p in base.get("PATH", "").split(os.pathsep) if p != bin_dir)
    env = dict(base, PATH=path, PYTHONPATH=str(copy))
    venv_env = dict(env, PATH=bin_dir + os.pathsep + path, VIRTUAL_ENV=sys.prefix)
    places = {guide: place(guide, copy, student) for guide in guides}

    outputs: dict[str, str] = {}
    skipped = []
    for command in todo:
        reason = not_run(command)
        if reason:
            skipped.append(f"{command.text}: {reason}")
            continue
        cwd, as_student = places[command.guide]
        done = run(command, cwd, venv_env if as_student else env)
        assert done.returncode == 0, (f"{command.guide.relative_to(ROOT)}: `{command.text}` exited "
                                      f"{done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        outputs[command.text] = done.stdout + done.stderr
        if command.shown and not any(key in command.text for key in OUTPUT_VARIES):
            assert done.stdout.splitlines() == command.shown, f"`{command.text}` printed other than its guide shows"
    print("not run:\n  " + "\n  ".join(skipped))
    return outputs, copy


def test_not_run_names_only_commands_the_guides_have():
    todo = [c for guide in [ROOT / g for g in GUIDES] + handouts() + [ROOT / STUDENTS_README] for c in commands(guide)]
    assert any("gradebook export" in c.text for c in todo), "the instructors' guide's round is missing"
    unused = [key for key in NOT_RUN if not any(key in c.text for c in todo)]
    assert unused == [], f"NOT_RUN names commands no guide has any more: {unused}"


def test_every_handout_and_the_students_readme_run_as_written(tmp_path):
    """A student's commands: each handout's, beside the complete module, and the students' README's at the
    root of their repository (run apart from the instructors' round, so the two go side by side)."""
    walk(handouts() + [ROOT / STUDENTS_README], tmp_path)


@pytest.mark.timeout(40 * 60)  # the whole round, one command after another; a few minutes on two cores
def test_every_console_block_runs_as_written_and_does_what_it_says(tmp_path):
    """The instructors' round for three students, and every other console command of the guides."""
    outputs, copy = walk([ROOT / guide for guide in GUIDES], tmp_path)
    said = {key: next(out for text, out in outputs.items() if key in text) for key in (
        "grade all --submission solutions", "nbgrader autograde")}
    totals = re.findall(r"Total: (\d+) / (\d+) points", said["grade all --submission solutions"])
    assert totals and all(got == most for got, most in totals), "a reference lost points"
    assert "has changed!" not in said["nbgrader autograde"], "autograde reports untouched cells as tampered with"

    grades = copy / "grades"
    with open(grades / ID / "hidden-tests.csv") as f:
        hidden = {row["student"]: float(row[ID]) for row in csv.DictReader(f)}
    assert hidden["ada"] > hidden["cy"] > hidden["bob"] == 0
    page = (grades / f"{ID}.html").read_text()  # grader report: the same three students, a histogram
    assert all(f"<td>{student}</td>" in page for student in STUDENTS) and "data:image/png;base64," in page
    with open(grades / "gradebook.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["student"] for row in rows) == sorted(STUDENTS), "one row per rostered student, no one else"
    lab = {row["student"]: float(row["lab_autograded"]) for row in rows}
    assert lab["bob"] < lab["ada"], "the skeleton's lab must score less than the reference's"

    for student in STUDENTS:
        autograded = nbformat.read(copy / "nbgrader" / "autograded" / student / ID / "lab.ipynb", as_version=4)
        printed = "".join(o.get("text", "") for c in autograded.cells if c.cell_type == "code" for o in c.outputs)
        assert ("Ten successive runs" in printed) == (student == "ada"), f"{student}'s lab ran on another module"
        feedback = copy / "nbgrader" / "feedback" / student / ID
        assert (feedback / "lab.html").is_file()
        handed_in = copy / "class" / student / "assignments" / ID
        leaked = secrets(handed_in) & lines_of(p for p in feedback.rglob("*") if p.is_file())
        assert leaked == set(), f"{student}'s feedback holds lines of the solution: {sorted(leaked)[:5]}"
        module = assignment(ID).module
        assert (feedback / module).read_text() == (handed_in / module).read_text()

    untracked = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=copy,
                               capture_output=True, text=True, check=True).stdout
    assert [line for line in untracked.splitlines() if line.startswith("??")] == [], \
        "the round left class data that git would commit"
