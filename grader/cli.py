"""`grader`: the instructors' command line.

  grade              grade one submission with the hidden tests
  grade-class        grade a folder of submissions (one folder per student) in parallel
  plan               check the deadline, read the roster, cut the class into batches (plan.json)
  fetch              fetch one batch's submissions at the deadline (the only step that needs the token)
  collect            total a folder of results files into one CSV (with --plan: every student of the plan)
  report             the same rows as one HTML page: the class at a glance
  generate           make assignments/ (the skeletons) from solutions/
  release            build the student template (every assignment, with its preview workflow)
  classroom50        per assignment, what Classroom 50 takes: template, runtime file, preview autograder
  release-solutions  build the solutions for publishing after the deadline
  gradescope-bundle  build a Gradescope autograder .zip for one assignment
  gradebook          nbgrader's gradebook: import a class's results, export one CSV
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from grader import course, harness, pipeline, report
from grader.authoring import bundle, classroom50, generate, release
from grader.child import GradingError
from grader.classwork import classgrade, classplan, fetch, rollcall
from grader.formats import class_csv, classroom, gradescope, markdown
from grader.settings import SERVERS_ENV, SettingError, Settings

# Exit statuses: 0 when the work was done (whatever the scores); the others mean it could not be.
USAGE, NO_SERVICE, BROKEN = 2, 3, 4
UNSEALED_HELP = ("grade even where no wall can be built around student code (no bubblewrap, no namespaces): "
                 "it then runs as this user, and every result says 'unsealed'")
# What grade-class totals into its --out folder: the hidden tests only (the gradebook's export has it all).
HIDDEN_CSV = "hidden-tests.csv"


def fail(status: int, message: str) -> int:
    print(f"grader: {message}", file=sys.stderr)
    return status


def _new(path: str) -> Path:
    """An output file's path, its folder made: grades/ need not exist before the first command."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Path(path)


def _append(path: str, text: str) -> None:
    with open(_new(path), "a", encoding="utf-8") as f:
        f.write(text)


def one_assignment(name: str, why: str) -> course.Assignment:
    """The single assignment a command works on; 'all' is refused, saying `why` (a usage error in main)."""
    if name == "all":
        raise course.UnknownAssignment(f"name one assignment: {why}")
    [assignment] = course.select(name)
    return assignment


def cmd_grade(args) -> int:
    assignments = course.select(args.assignment)
    folder = Path(args.submission)
    if not folder.is_dir():
        return fail(USAGE, f"no such submission folder: {folder}")
    started = time.monotonic()
    try:
        results = pipeline.grade(assignments, folder, unsealed=args.unsealed)
    except harness.MemcachedUnavailable as exc:
        return fail(NO_SERVICE, str(exc))
    except GradingError as exc:
        return fail(BROKEN, str(exc))
    # Every file first: whatever the terminal makes of the report, the grade is kept.
    if args.results:
        document = gradescope.results_json(results, time.monotonic() - started, args.visibility)
        _new(args.results).write_text(json.dumps(document, indent=2) + "\n")
    if args.runner_json:
        _new(args.runner_json).write_text(json.dumps(classroom.runner_result(results), indent=2) + "\n")
    if args.summary:
        _append(args.summary, markdown.summary(results, title=args.title or ""))
    report.show(results, verbose=args.verbose)
    return 0


def cmd_grade_class(args) -> int:
    assignments = course.select(args.assignment)
    submissions = Path(args.submissions)
    if not submissions.is_dir():
        return fail(USAGE, f"no such folder of submissions: {submissions}")
    settings = Settings.from_environment(unsealed=args.unsealed)
    jobs = args.jobs or os.cpu_count() or 1
    if settings.servers and jobs > 1:
        print(f"grader: {SERVERS_ENV} is set, and gradings running side by side would empty each "
              "other's servers: grading one student at a time", file=sys.stderr)
        jobs = 1
    problem = None if args.unsealed else pipeline.class_seal_problem(settings)  # before anyone is graded
    if problem:
        return fail(BROKEN, f"{problem}\nTo grade without the wall anyway, give --unsealed: every result then "
                            "says 'unsealed'.")
    out = Path(args.out)
    students = classgrade.grade_class(args.assignment, assignments, submissions, out, jobs, args.timeout, settings)
    class_csv.write_csv(students, out / HIDDEN_CSV)
    print(class_csv.markdown(students))
    if args.summary:
        _append(args.summary, f"## Graded in this job\n\n{class_csv.markdown(students)}\n")
    print(f"results: {out}/<student>.json, totals: {out / HIDDEN_CSV}")
    return 0


def _class_rows(args) -> tuple[list[class_csv.Student], str]:
    """The class's rows (and their Markdown) from a folder of results files, or with --plan from the
    workflow's artifacts; raises ValueError saying what is wrong."""
    folder = Path(args.results)
    if args.plan:  # every student of the plan, from the workflow's artifacts
        try:
            call = rollcall.collect(classplan.load(Path(args.plan)), folder)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"cannot read the plan {args.plan}: {exc}") from None
        students, text = call.students, rollcall.summary(call)
    else:
        students = class_csv.collect(folder) if folder.is_dir() else []
        text = f"## Grades\n\n{class_csv.markdown(students)}\n"
    if not students:
        raise ValueError(f"no results files (*.json) in {folder}")
    return students, text


def cmd_collect(args) -> int:
    try:
        students, text = _class_rows(args)
    except ValueError as exc:
        return fail(USAGE, str(exc))
    class_csv.write_csv(students, _new(args.csv))
    print(text)
    if args.summary:
        _append(args.summary, text)
    return 0


def cmd_report(args) -> int:
    from grader.classwork.overview import overview
    from grader.formats import class_report
    try:
        students, _ = _class_rows(args)
        view = overview(students)
        page = class_report.html(view, args.title or "")
    except (ValueError, class_report.ReportError) as exc:
        return fail(USAGE if isinstance(exc, ValueError) else BROKEN, str(exc))
    _new(args.out).write_text(page, encoding="utf-8")
    text = class_report.headline(view, args.where or "")
    print(text, end="")
    print(f"report: {args.out}")
    if args.summary:
        _append(args.summary, text)
    return 0


def cmd_generate(args) -> int:
    assignments = course.select(args.assignment)
    if args.check:
        drift = [line for a in assignments for line in generate.drift(a)]
        for line in drift:
            print(line)
        if drift:
            return fail(1, "assignments/ differs from what `grader generate` makes: run it and commit")
        return 0
    for assignment in assignments:
        written = generate.write(assignment)
        print(f"{assignment.skeleton_dir.relative_to(course.ROOT)}: {len(written)} files")
    return 0


def cmd_release(args) -> int:
    try:
        files = release.build_template(Path(args.dest), course.available())
    except (FileExistsError, release.LeakError) as exc:
        return fail(BROKEN if isinstance(exc, release.LeakError) else USAGE, str(exc))
    print(f"student template: {len(files)} files in {args.dest}")
    return 0


def cmd_classroom50(args) -> int:
    out = Path(args.out)
    everything = course.available()
    try:
        folders = [classroom50.write(a, out, everything) for a in course.select(args.assignment)]
    except (FileExistsError, ValueError, release.LeakError) as exc:
        return fail(USAGE if isinstance(exc, FileExistsError) else BROKEN, str(exc))
    for folder in folders:
        [assignment] = course.select(folder.name)
        print(f"{folder}: template/, runtime.json, autograder/ (visible tests only: Classroom 50 publishes it)")
        print(f"# {classroom50.budget(assignment)}")
        print(classroom50.teacher_commands(assignment, folder, args.org, args.classroom, args.due))
    return 0


def cmd_release_solutions(args) -> int:
    try:
        files = release.build_solutions(Path(args.dest), course.select(args.assignment))
    except (FileExistsError, release.LeakError) as exc:
        return fail(BROKEN if isinstance(exc, release.LeakError) else USAGE, str(exc))
    print(f"solutions: {len(files)} files in {args.dest}")
    return 0


def cmd_gradescope_bundle(args) -> int:
    assignment = one_assignment(args.assignment, "a Gradescope bundle grades one")
    try:
        names = bundle.build(assignment, Path(args.out), args.visibility, args.unsealed)
    except release.LeakError as exc:
        return fail(BROKEN, str(exc))
    print(f"{args.out}: {len(names)} files (upload it as the autograder of a Gradescope assignment); "
          f"tests' visibility: {args.visibility}")
    return 0


def cmd_gradebook_import(args) -> int:
    from grader.classwork import nbgrader_gradebook as book
    folder = Path(args.results)
    if not folder.is_dir():
        return fail(USAGE, f"no such folder of results files: {folder}")
    try:
        imported = book.import_results(folder, args.db, Path(args.roster) if args.roster else None)
    except book.GradebookError as exc:
        return fail(BROKEN, str(exc))
    for entry in imported:
        note = " (no notebook handed in)" if entry.created_submission else ""
        print(f"{entry.student:<24} {entry.assignment:<16} {entry.score:g}{note}")
    print(f"imported {len(imported)} hidden-test scores into {args.db}")
    return 0


def cmd_gradebook_init(args) -> int:
    from grader.classwork import nbgrader_gradebook as book
    assignment = one_assignment(args.assignment, "its lab notebook goes into the gradebook")
    try:
        recorded = book.init(assignment, args.db)
    except book.GradebookError as exc:
        return fail(BROKEN, str(exc))
    print(f"{assignment.id}: {', '.join(recorded)} recorded in {args.db}")
    return 0


def cmd_gradebook_collect(args) -> int:
    from grader.classwork import nbgrader_gradebook as book
    assignment = one_assignment(args.assignment, "its lab notebooks are collected")
    if not Path(args.submissions).is_dir():
        return fail(USAGE, f"no such folder of submissions (one folder per student): {args.submissions}")
    copied = book.collect(assignment, Path(args.submissions), Path(args.to) if args.to else book.SUBMITTED)
    for student, files in copied.items():
        print(f"{student:<24} {', '.join(files) or 'nothing handed in'}")
    return 0


def cmd_gradebook_export(args) -> int:
    from grader.classwork import nbgrader_gradebook as book
    try:
        table = book.export_csv(args.db, _new(args.csv))
    except book.GradebookError as exc:
        return fail(BROKEN, str(exc))
    print(f"{args.csv}: {len(table)} rows (student x assignment)")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    one = argparse.ArgumentParser(add_help=False)  # the commands that work on a single assignment
    one.add_argument("assignment", help="an assignment id")

    g = sub.add_parser("grade", help="grade one submission with the hidden tests")
    g.add_argument("assignment", help="an assignment id, or 'all'")
    g.add_argument("--submission", required=True, metavar="PATH",
                   help="folder holding PATH/<id>/<module> or PATH/assignments/<id>/<module>")
    g.add_argument("--results", metavar="FILE", help="write Gradescope's results.json here")
    g.add_argument("--visibility", choices=gradescope.VISIBILITIES, default="visible",
                   help="Gradescope's visibility of each test in --results (default: visible)")
    g.add_argument("--runner-json", metavar="FILE",
                   help="write the runner result that GitHub Classroom's grading reporter reads")
    g.add_argument("--summary", metavar="FILE", help="append a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    g.add_argument("--title", help="a heading for the Markdown summary (e.g. the student's name)")
    g.add_argument("--unsealed", action="store_true", help=UNSEALED_HELP)
    g.add_argument("-v", "--verbose", action="store_true",
                   help="show every test in detail, not only those that lost points")
    g.set_defaults(run=cmd_grade)

    c = sub.add_parser("grade-class", help="grade every submission folder under a folder, in parallel")
    c.add_argument("assignment", help="an assignment id, or 'all'")
    c.add_argument("--submissions", required=True, metavar="DIR", help="one sub-folder per student")
    c.add_argument("--out", required=True, metavar="DIR", help="where <student>.json, <student>.log and "
                                                                f"{HIDDEN_CSV} go")
    c.add_argument("--jobs", type=int, default=0, help="students graded at once (default: one per core)")
    c.add_argument("--timeout", type=float, default=1800, help="seconds one student's grading may take")
    c.add_argument("--summary", metavar="FILE", help="append the table as Markdown (e.g. $GITHUB_STEP_SUMMARY)")
    c.add_argument("--unsealed", action="store_true", help=UNSEALED_HELP)
    c.set_defaults(run=cmd_grade_class)

    t = sub.add_parser("collect", help="total a folder of results files (<student>.json) into one CSV")
    t.add_argument("results", metavar="DIR", help="results files (<student>.json); with --plan, the workflow's "
                                                   "artifacts, each in its own folder")
    t.add_argument("--csv", required=True, metavar="FILE")
    t.add_argument("--plan", metavar="FILE", help="plan.json (grader plan): a row for every student, graded or "
                                                  "not, with the graded commit, its date and the deadline")
    t.add_argument("--summary", metavar="FILE", help="append the table as Markdown (e.g. $GITHUB_STEP_SUMMARY)")
    t.set_defaults(run=cmd_collect)

    h = sub.add_parser("report", help="one HTML page: the class at a glance (scores, the most broken tests, "
                                      "failures by rule, who has no grade, who pushed late)")
    h.add_argument("results", metavar="DIR", help="a grade-class --out folder; with --plan, the workflow's artifacts")
    h.add_argument("--plan", metavar="FILE", help="plan.json (grader plan): the rows `collect --plan` makes")
    h.add_argument("--out", required=True, metavar="FILE.html", help="where the page goes (self-contained)")
    h.add_argument("--title", help="the page's heading (default: The class at a glance)")
    h.add_argument("--summary", metavar="FILE", help="append the headline numbers as Markdown "
                                                     "(e.g. $GITHUB_STEP_SUMMARY)")
    h.add_argument("--where", metavar="TEXT", help="a line after the headline numbers, saying where the page is")
    h.set_defaults(run=cmd_report)

    s = sub.add_parser("generate", help="make assignments/<id>/ (the skeletons) from solutions/<id>/")
    s.add_argument("assignment", nargs="?", default="all", help="an assignment id, or 'all' (the default)")
    s.add_argument("--check", action="store_true", help="change nothing; fail if assignments/ has drifted")
    s.set_defaults(run=cmd_generate)

    r = sub.add_parser("release", help="build the student template (every assignment) into a new folder")
    r.add_argument("dest", metavar="DIR")
    r.set_defaults(run=cmd_release)

    f = sub.add_parser("classroom50", help="per assignment: the template, runtime file and preview autograder "
                                           "that `gh teacher assignment add` takes")
    f.add_argument("assignment", help="an assignment id, or 'all'")
    f.add_argument("--out", required=True, metavar="DIR", help="a new folder; gets <id>/ for each assignment")
    f.add_argument("--org", default="<org>", help="the organisation of the Classroom 50 classroom (for the "
                                                  "printed commands)")
    f.add_argument("--classroom", default="<classroom>", help="the classroom's short name (for the printed commands)")
    f.add_argument("--due", default="2026-12-01T23:59:00Z", help="the deadline, ISO 8601 with a time zone")
    f.set_defaults(run=cmd_classroom50)

    o = sub.add_parser("release-solutions", help="build the reference solutions for publishing")
    o.add_argument("dest", metavar="DIR")
    o.add_argument("--assignment", default="all", help="an assignment id, or 'all' (the default)")
    o.set_defaults(run=cmd_release_solutions)

    b = sub.add_parser("gradescope-bundle", parents=[one], help="build a Gradescope autograder .zip for one assignment")
    b.add_argument("--out", required=True, metavar="FILE.zip")
    b.add_argument("--visibility", choices=gradescope.VISIBILITIES, default="after_due_date",
                   help="when students see each test's result and their score (default: after_due_date; "
                        "whether their module was found and imports, they always see at once)")
    b.add_argument("--unsealed", action="store_true", help="grade without the wall around student code, where "
                   "Gradescope's container allows no namespace (every result then says 'unsealed')")
    b.set_defaults(run=cmd_gradescope_bundle)

    book = sub.add_parser("gradebook", help="nbgrader's gradebook: hidden-test scores beside the notebooks'")
    books = book.add_subparsers(dest="action", required=True)
    n = books.add_parser("init", parents=[one],
                         help="record an assignment's lab notebook in the gradebook (creating it)")
    n.set_defaults(run=cmd_gradebook_init)
    i = books.add_parser("import", help="write a folder of results files (<student>.json) into the gradebook")
    i.add_argument("results", metavar="DIR")
    i.add_argument("--roster", metavar="FILE", help="add every student of the roster (classroom/roster.csv)")
    i.set_defaults(run=cmd_gradebook_import)
    c = books.add_parser("collect", parents=[one], help="copy each student's lab notebook and modules to "
                                                       "nbgrader/submitted/")
    c.add_argument("--submissions", required=True, metavar="DIR", help="one folder per student")
    c.add_argument("--to", metavar="DIR", help="nbgrader's submitted folder (default: nbgrader/submitted)")
    c.set_defaults(run=cmd_gradebook_collect)
    e = books.add_parser("export", help="one CSV: hidden tests, autograded and written points, per student")
    e.add_argument("--csv", required=True, metavar="FILE")
    e.set_defaults(run=cmd_gradebook_export)
    for each in (n, i, e):
        each.add_argument("--db", default=None, help="the gradebook's URL (default: nbgrader/gradebook.db)")
    return p


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds: children killed, servers stopped, sandboxes removed


# Standard library only, so that the workflow runs them before installing anything: their own parsers.
PLAIN = {"plan": classplan.main, "fetch": fetch.main}


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PLAIN:
        return PLAIN[argv[0]](argv[1:], prog=f"grader {argv[0]}")
    args = parser().parse_args(argv)
    if getattr(args, "db", "absent") is None:
        from grader.classwork.nbgrader_gradebook import DEFAULT_DB
        args.db = DEFAULT_DB
    try:
        return args.run(args)
    except (course.UnknownAssignment, SettingError) as exc:
        return fail(USAGE, str(exc))


if __name__ == "__main__":
    raise SystemExit(main())
