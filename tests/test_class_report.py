"""`grader report`: the class at a glance, built for a class of 32 made-up students (references,
skeletons, partial work, a repository that is missing, a grading that timed out, two late pushes,
a submission whose failure message is HTML) from results files in the shape `grader grade --results`
writes, with the grading workflow's plan and manifests. Opened in a real headless Chromium: it
renders, logs nothing, and its numbers are the CSV's."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader import cli
from grader.classwork import classgrade, classplan, overview, rollcall
from grader.formats import gradescope
from grader.scoring import FAILED, PASSED, TIMED_OUT, AssignmentResult, Outcome, TestSpec, score

DEADLINE = "2026-12-01T23:59:00Z"
BEFORE, AFTER = "2026-11-30T10:00:00Z", "2026-12-02T10:00:00Z"
HOSTILE = '<script>console.error("escaped?")</script><img src=x onerror="console.error(1)"> [/] [bold]x[/bold]'


def spec(assignment: str, name: str, description: str, points: float) -> TestSpec:
    return TestSpec(f"grader/hidden/{assignment}/test_x.py::{name}", name, description, points, 10.0)


MANIFESTS = {  # two assignments' hidden tests, as a manifest lists them (names and points like the real ones)
    "01-cache-aside": [
        spec("01-cache-aside", "test_square_key_is_sq_colon_n", "square_key(n) is 'sq:' and n in decimal.", 2),
        spec("01-cache-aside", "test_miss_computes_once_and_returns_the_square",
             "On a miss, expensive_square is called once and its result returned.", 3),
        spec("01-cache-aside", "test_miss_stores_decimal_ascii_text[7]", "A miss stores the square as text.", 1),
        spec("01-cache-aside", "test_miss_stores_decimal_ascii_text[-3]", "A miss stores the square as text.", 1),
        spec("01-cache-aside", "test_ttl_is_given_to_memcached", "The ttl reaches memcached as its expiry.", 3),
        spec("01-cache-aside", "test_unreachable_memcached_is_not_a_dependency",
             "With memcached unreachable, the square is still computed and returned.", 3),
    ],
    "02-sharding": [
        spec("02-sharding", "test_pick_server_is_stable", "The same key always goes to the same server.", 3),
        spec("02-sharding", "test_keys_spread_evenly", "Keys spread evenly over the servers.", 4),
        spec("02-sharding", "test_few_keys_move_when_a_server_joins", "Adding a server moves few keys.", 4),
    ],
}
NOT_WRITTEN = ("NotWrittenYet: not written yet: {function} ({function}(mc, 7) raised NotImplementedError (raised at "
               "squares.py, line 82): replace the `raise NotImplementedError()` with your code)")


def partial_outcome(student: int, test: int, spec: TestSpec) -> Outcome:
    """Partial work: each student breaks a few rules, each in words that carry their own values."""
    if (student + test) % 3:
        return Outcome(PASSED)
    if "ttl" in spec.name and student % 2:
        return Outcome(TIMED_OUT, f"the test did not finish within {10 + student} s")
    if "evenly" in spec.name:
        return Outcome(FAILED, f"AssertionError: server 'mc{student % 3}' got {40 + student} of 100 keys; "
                               "expected between 25 and 42")
    return Outcome(FAILED, f"AssertionError: {spec.name.split('[')[0]} returned {student * 7!r} for the input "
                           f"'{student}'; the contract says otherwise")


def results(kind: str, index: int) -> list[AssignmentResult]:
    found = []
    for assignment, manifest in MANIFESTS.items():
        outcomes = {}
        for n, test in enumerate(manifest):
            if kind == "reference":
                outcomes[test.nodeid] = Outcome(PASSED)
            elif kind == "skeleton":
                outcomes[test.nodeid] = Outcome(FAILED, NOT_WRITTEN.format(function=test.name.split("_")[1]))
            else:
                outcomes[test.nodeid] = partial_outcome(index, n, test)
        if kind == "hostile":
            outcomes[manifest[0].nodeid] = Outcome(FAILED, HOSTILE)
        found.append(AssignmentResult(assignment, score(manifest, outcomes), seconds=1.5))
    return found


def class_of_32() -> list[tuple[str, str]]:
    """(student, kind): 6 references, 5 skeletons, 18 partial, one hostile, one missing repository,
    one whose grading timed out."""
    kinds = ["reference"] * 6 + ["skeleton"] * 5 + ["partial"] * 18 + ["hostile", "missing", "timed-out"]
    return [(f"s{n:02d}", kind) for n, kind in enumerate(kinds)]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The workflow's artifacts for the class (manifests and results files), the CSV `collect` writes
    from them, and the report `grader report` writes."""
    tmp = tmp_path_factory.mktemp("report")
    students = class_of_32()
    plan = classplan.make([{"student": name, "repository": f"org/cq-{name}"} for name, _ in students],
                          "all", classplan.deadline.parse_deadline(DEADLINE), "last-commit", size=11)
    (tmp / "plan.json").write_text(json.dumps(plan))
    kinds = dict(students)
    late = {"s07", "s20"}
    artifacts = tmp / "artifacts"
    for batch in plan["batches"]:
        entries = []
        (artifacts / f"results-{batch['batch']}").mkdir(parents=True)
        for entry in batch["students"]:
            name, kind = entry["student"], kinds[entry["student"]]
            if kind == "missing":
                entries.append({**entry, "commit": "", "committed_at": "", "deadline": DEADLINE,
                                "problem": f"no repository: {entry['repository']} could not be cloned (missing, "
                                           "renamed, or the token cannot read it): repository not found"})
                continue
            entries.append({**entry, "commit": f"{int(name[1:]):040x}", "committed_at": BEFORE,
                            "pushed_at": AFTER if name in late else BEFORE, "deadline": DEADLINE, "problem": ""})
            if kind == "timed-out":
                document = classgrade.stand_in([a for a in _assignments()], "grading did not finish within "
                                               "1200 s and was stopped", MANIFESTS)
            else:
                document = gradescope.results_json(results(kind, int(name[1:])), 3.0)
            (artifacts / f"results-{batch['batch']}" / f"{name}.json").write_text(json.dumps(document))
        (artifacts / f"manifest-{batch['batch']}").mkdir()
        (artifacts / f"manifest-{batch['batch']}" / "manifest.json").write_text(
            json.dumps({"batch": batch["batch"], "deadline": DEADLINE, "students": entries}))
    summary = tmp / "summary.md"
    assert cli.main(["collect", str(artifacts), "--plan", str(tmp / "plan.json"),
                     "--csv", str(tmp / "grades.csv")]) == 0
    assert cli.main(["report", str(artifacts), "--plan", str(tmp / "plan.json"), "--out", str(tmp / "report.html"),
                     "--summary", str(summary), "--where", "The report: artifact class-report."]) == 0
    with open(tmp / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"tmp": tmp, "rows": rows, "page": tmp / "report.html", "summary": summary.read_text(),
            "artifacts": artifacts, "plan": tmp / "plan.json"}


def _assignments():
    from grader.course import Assignment
    return [Assignment(id, "x.py") for id in MANIFESTS]


# -- what the page says, read as plain HTML ---------------------------------------------------------


class Page(HTMLParser):
    """The text of every element that has an id, and the rows of the table of every student."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, str] = {}
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self._open: list[tuple[str, str | None]] = []  # (tag, id)
        self._in_students = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src") or "")
            return
        if tag in ("meta", "br", "link", "input"):
            return
        self._open.append((tag, attrs.get("id")))
        if attrs.get("id"):
            self.by_id[attrs["id"]] = ""
        if tag == "table" and attrs.get("id") == "every-student":
            self._in_students = True
        elif self._in_students and tag == "tr":
            self._row = []
        elif self._in_students and tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break
        if tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row:
            self.rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._in_students = False

    def handle_data(self, data):
        for _, ident in self._open:
            if ident:
                self.by_id[ident] += data
        if self._cell is not None:
            self._cell.append(data)


def test_every_number_of_the_page_is_the_csvs(made):
    check_numbers(made["page"].read_text(), made["rows"])


def check_numbers(text: str, rows: list[dict]) -> None:
    page = Page(text)
    graded = [r for r in rows if not r["problem"]]
    totals = sorted(float(r["total"]) for r in graded)
    assert int(page.by_id["n-students"]) == len(rows) == 32
    assert int(page.by_id["n-graded"]) == len(graded) == 30
    assert int(page.by_id["n-missing"]) == len(rows) - len(graded) == 2
    assert float(page.by_id["mean-total"]) == pytest.approx(sum(totals) / len(totals), abs=0.01)
    assert float(page.by_id["max-total"]) == float(rows[0]["max_score"])
    assert int(page.by_id["n-late"]) == 2
    assignments = [key for key in rows[0] if key[:2].isdigit()]
    assert [r[0] for r in page.rows] == [r["student"] for r in rows]
    for shown, row in zip(page.rows, rows):
        assert [float(x) for x in shown[1:len(assignments) + 2]] == [float(row[a]) for a in [*assignments, "total"]]
        assert shown[-1] == row["problem"]


def test_the_most_broken_tests_come_first_and_failures_are_grouped_by_rule(made):
    call = rollcall.collect(classplan.load(made["plan"]), made["artifacts"])
    view = overview.overview(call.students)
    cache = view.assignments[0]
    shares = [t.share for t in cache.tests]
    assert shares == sorted(shares) and len(cache.tests) == len(MANIFESTS["01-cache-aside"])
    assert all(t.graded == 30 for t in cache.tests)
    reference_only = 6  # the skeletons pass nothing; partial work passes two tests in three
    assert min(t.passed for t in cache.tests) >= reference_only
    stores = next(r for r in cache.failures if r.rule == "test_miss_stores_decimal_ascii_text")
    assert stores.description == "A miss stores the square as text."  # its cases [7] and [-3] are one rule
    kinds = {g.message: g.students for g in stores.groups}
    assert kinds["failed: NotWrittenYet: not written yet: miss (miss(mc, N) raised NotImplementedError (raised at "
                 "squares.py, line N): replace the `raise NotImplementedError()` with your code)"] == 5
    partial = "failed: AssertionError: test_miss_stores_decimal_ascii_text returned N for the input '…'; the " \
              "contract says otherwise"
    assert kinds[partial] == sum(1 for s in call.students if s.name in _partial_failing(2) | _partial_failing(3))
    assert stores.students == sum(kinds.values())
    assert [r.students for r in cache.failures] == sorted((r.students for r in cache.failures), reverse=True)
    assert [s.name for s in view.late] == ["s07", "s20"]
    assert {s.name for s in view.missing} == {"s30", "s31"}


def _partial_failing(test: int) -> set[str]:
    kinds = dict(class_of_32())
    return {name for name, kind in kinds.items() if kind == "partial" and (int(name[1:]) + test) % 3 == 0}


class Elements(HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_student_text_is_shown_as_text_never_as_html(made):
    page = Elements(made["page"].read_text())
    assert not [tag for tag, _ in page.tags if tag in ("script", "iframe", "object", "embed", "link", "base")]
    assert not [(tag, a) for tag, attrs in page.tags for a in attrs if a.startswith("on")]
    assert all(attrs["src"].startswith("data:image/png;base64,") for tag, attrs in page.tags if tag == "img")
    assert any(f"failed: {HOSTILE}" in text for text in page.text)  # the message itself, as the student wrote it
    policy = next(a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none'")  # and were it not escaped, nothing could run or load


def test_the_headline_numbers_go_to_the_runs_summary(made):
    summary, rows = made["summary"], made["rows"]
    assert "## The class at a glance" in summary and "The report: artifact class-report." in summary
    assert f"**{len(rows)}** students: **30** graded, **2** without a grade" in summary
    assert "**2** commits dated before the deadline but pushed after it" in summary


def test_a_grade_class_folder_makes_the_same_page_without_push_times(made, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    for path in made["artifacts"].glob("results-*/*.json"):
        shutil.copy(path, folder)
    (folder / "<b>eve<b>.json").write_text(json.dumps(gradescope.results_json(results("reference", 0), 1.0)))
    assert cli.main(["report", str(folder), "--out", str(tmp_path / "r.html")]) == 0
    text = (tmp_path / "r.html").read_text()
    assert "&lt;b&gt;eve&lt;b&gt;" in text and "<b>eve" not in text
    assert "No push times here" in text and 'id="n-late"' not in text


def test_no_results_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == cli.USAGE
    assert "no results files" in capsys.readouterr().err and not (tmp_path / "r.html").exists()


# -- in a real browser ---------------------------------------------------------------------------------

def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


BROWSER = [  # headless, as root, and quiet: no sandbox (root), no GPU, no network of its own, a fresh profile
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-default-apps", "--enable-logging=stderr", "--v=0",
]


def browse(page: Path, scratch: Path, *what: str) -> tuple[str, list[str]]:
    """Open `page` in Chromium doing `what` (e.g. --dump-dom); (its stdout, what the page's console said)."""
    profile = scratch / f"profile-{len(list(scratch.glob('profile-*')))}"
    env = {**os.environ, "HOME": str(scratch)}
    done = subprocess.run([chromium(), *BROWSER, f"--user-data-dir={profile}", *what, page.as_uri()],
                          capture_output=True, text=True, timeout=120, env=env, cwd=scratch)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


needs_chromium = pytest.mark.skipif(chromium() is None, reason="no chromium on PATH: setup.sh installs Debian's "
                                    "chromium with the dev extras (apt-get install chromium)")


@needs_chromium
def test_the_page_renders_in_chromium_without_a_console_message(made, tmp_path):
    from PIL import Image
    shot = tmp_path / "shot.png"
    _, console = browse(made["page"], tmp_path, f"--screenshot={shot}", "--window-size=1200,1400",
                        "--hide-scrollbars")
    assert console == []  # no error, no blocked script or request: nothing at all
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 20)
        ink = sum(count for count, rgb in colours if sum(rgb) < 600)  # not white, not near it
        assert pixels.size == (1200, 1400) and len(colours) > 50 and ink > 0.01 * 1200 * 1400


@needs_chromium
def test_the_browsers_dom_holds_the_csvs_numbers_and_every_chart_decodes(made, tmp_path):
    dom, console = browse(made["page"], tmp_path, "--dump-dom")
    assert console == []
    check_numbers(dom, made["rows"])
    # A copy without the page's policy, with a probe that says how wide each image decoded.
    probe = tmp_path / "probe.html"
    text = made["page"].read_text()
    policy = text[text.index('<meta http-equiv="Content-Security-Policy"'):]
    probe.write_text(text.replace(policy[:policy.index(">") + 1], "").replace(
        "</body>", "<script>addEventListener('load', () => { for (const i of document.images) "
                   "console.log('image ' + i.naturalWidth); })</script></body>"))
    _, console = browse(probe, tmp_path, "--dump-dom")
    widths = [line.split('"image ')[1].split('"')[0] for line in console if '"image ' in line]
    assert widths == ["640", "640"], console
