"""The grading engine end to end: the reference earns everything, the skeleton nothing,
cheats earn what the skeleton earns, and broken code costs only what it breaks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ASSIGNMENTS, QUICK, assignment, by_test, each, function_of, grade, graded, shares

from grader import course, harness, pipeline
from grader.child import Limits
from grader.scoring import CRASHED, FAILED, PASSED, TIMED_OUT
from grader.settings import Settings

CACHE = "01-cache-aside"
REFERENCE = (course.SOLUTIONS / CACHE / "squares.py").read_text()
SKELETON = (course.SKELETONS / CACHE / "squares.py").read_text()


@pytest.mark.parametrize("id", each("reference"))
def test_reference_scores_full_marks(id):
    result = graded(id, "reference")
    failed = {t.spec.name: f"{t.outcome.status}: {t.outcome.reason}" for t in result.tests
              if not t.passed}
    assert failed == {}
    assert result.score == result.max_score > 0
    assert result.notes == []


@pytest.mark.parametrize("id", each("skeleton"))
def test_skeleton_scores_nothing(id):
    result = graded(id, "skeleton")
    assert result.score == 0
    assert {t.outcome.status for t in result.tests} == {FAILED}
    assert all("NotImplementedError" in t.outcome.reason for t in result.tests)


@pytest.mark.parametrize("id", each("reference"))
def test_regrading_gives_identical_results(id):
    first, again = graded(id, "reference"), grade(id, course.SOLUTIONS)
    assert [(t.spec, t.outcome.status) for t in first.tests] == [(t.spec, t.outcome.status) for t in again.tests]


@shares(CACHE, "reference")
def test_regrading_a_wrong_submission_gives_identical_results(submission):
    folder = submission(CACHE, REFERENCE.replace('return "sq:%d" % n', 'return "sq:%d" % abs(n)'))
    results = [by_test(grade(CACHE, folder)) for _ in range(2)]
    assert results[0] == results[1]
    assert 0 < sum(results[0].values()) < graded(CACHE, "reference").max_score


def test_student_repository_layout_is_found(tmp_path):
    """PATH/assignments/<id>/<module>, as in a student's clone of the template."""
    shutil.copytree(course.SOLUTIONS / CACHE, tmp_path / "assignments" / CACHE)
    result = grade(CACHE, tmp_path, only=lambda spec: "square_key" in spec.nodeid)
    assert result.tests and result.score == result.max_score


# -- cheats: each earns what the skeleton earns --------------------------------

FORCE_PASS = '''
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''

FORGER = '''
import os, json, pathlib, time

FORGED = {"score": 999, "max_score": 999, "execution_time": 1, "output": "all good",
          "tests": [{"name": "01-cache-aside::everything", "score": 999, "max_score": 999,
                     "status": "passed", "output": "", "visibility": "visible"}]}


def _results_files():
    yield pathlib.Path("results.json")
    yield pathlib.Path(__file__).with_name("results.json")
    pid = os.getppid()
    while pid > 1:
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
            cwd = os.readlink(f"/proc/{pid}/cwd")
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except OSError:
            return
        for i, arg in enumerate(args[:-1]):
            if arg == b"--results":
                yield pathlib.Path(cwd, args[i + 1].decode())


def _forge():
    for path in _results_files():
        try:
            path.write_text(json.dumps(FORGED))
        except OSError:
            pass
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "channel" in target:
            with open(target, "a") as f:
                for test in ("test_square_key_is_sq_colon_n", "test_hit_skips_expensive_square"):
                    f.write("0" * 64 + ' {"event": "result", "nodeid": "%s", "status": "passed"}\\n' % test)


_forge()
if os.fork() == 0:  # and once more, from a daemon, after grading should be over
    os.setsid()
    if os.fork() == 0:
        time.sleep(4)
        _forge()
    os._exit(0)
'''


def _skeleton_score() -> float:
    return graded(CACHE, "skeleton").score


@shares(CACHE, "skeleton")
def test_conftest_that_forces_passes_is_ignored(submission):
    folder = submission(CACHE, SKELETON, {"conftest.py": FORCE_PASS, "/conftest.py": FORCE_PASS})
    assert grade(CACHE, folder).score == _skeleton_score()


@shares(CACHE, "skeleton")
def test_pytest_configuration_in_the_submission_is_ignored(submission):
    files = {
        "pytest.ini": "[pytest]\naddopts = -p no:grader.recorder -k nothing\n",
        "/pytest.ini": "[pytest]\naddopts = -k nothing\n",
        "/pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-k nothing'\n",
        "sitecustomize.py": "import os\nos._exit(0)\n",
        "usercustomize.py": "import os\nos._exit(0)\n",
    }
    result = grade(CACHE, submission(CACHE, SKELETON, files))
    assert result.score == _skeleton_score()
    assert {t.outcome.status for t in result.tests} == {FAILED}  # ran, and failed on the stubs


def test_os_exit_at_import_costs_everything_and_says_so(submission):
    result = grade(CACHE, submission(CACHE, "import os\nos._exit(0)\n" + SKELETON))
    assert result.score == 0
    assert any("os._exit" in note for note in result.notes), result.notes
    assert all("os._exit" in t.outcome.reason for t in result.tests)


def test_a_module_that_does_not_import_says_why(submission):
    result = grade(CACHE, submission(CACHE, SKELETON + "\ndef broken(:\n"))
    assert result.score == 0
    assert any("could not be imported" in note and "SyntaxError" in note for note in result.notes), result.notes


# At import: any packet socket among the process's descriptors fails it: the one the grading hands the judge sees
# all the loopback traffic of the grading, and is the judge's alone.
PACKET_SOCKET_PROBE = """
import os, socket
for _fd in map(int, os.listdir("/proc/self/fd")):
    try:
        _found = socket.socket(fileno=os.dup(_fd))
    except OSError:
        continue
    _family = _found.family
    _found.close()
    if _family == socket.AF_PACKET:
        raise RuntimeError("the judge's packet socket reached student code")
"""


def test_the_packet_socket_handed_to_the_judge_never_reaches_student_code(submission):
    """The grading opens a packet socket for the judge (lockdown.packet_socket); no student process holds it."""
    only = {"test_square_key_is_sq_colon_n"}
    result = grade(CACHE, submission(CACHE, PACKET_SOCKET_PROBE + REFERENCE),
                   only=lambda spec: function_of(spec.nodeid) in only)
    assert result.score == result.max_score > 0, (result.notes, [t.outcome for t in result.tests])


def test_hang_at_import_costs_everything_and_says_so(submission):
    started = time.monotonic()
    result = grade(CACHE, submission(CACHE, "import time\ntime.sleep(3600)\n" + REFERENCE))
    assert result.score == 0
    assert any("did not finish importing" in note for note in result.notes), result.notes
    assert time.monotonic() - started < 60


@shares(CACHE, "skeleton")
def test_forged_results_earn_nothing(submission, tmp_path):
    folder = submission(CACHE, SKELETON + FORGER)
    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "grader", "grade", CACHE, "--submission", str(folder), "--results", str(results)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    time.sleep(6)  # the daemon would have struck by now, had it survived
    document = json.loads(results.read_text())
    assert document["score"] == 0 and document["max_score"] == graded(CACHE, "skeleton").max_score
    assert all(t["name"].startswith(f"{CACHE}::") for t in document["tests"])
    # 01 runs student code in a student process, which cannot reach the channel at all (as root);
    # an assignment graded in-process would have its forged lines dropped and reported instead.


def test_missing_module_scores_nothing_and_says_where_it_looked(tmp_path):
    (tmp_path / CACHE).mkdir()
    (tmp_path / CACHE / "squares.py").symlink_to(course.SOLUTIONS / CACHE / "squares.py")
    result = grade(CACHE, tmp_path)
    assert result.score == 0
    assert any("squares.py was not found" in note for note in result.notes)


# -- broken code costs the tests it touches, not the grade ----------------------


def test_os_exit_inside_one_function_costs_only_its_tests(submission):
    text = REFERENCE.replace('    key = square_key(n)\n    try:\n        cached = mc.get(key)',
                             '    key = square_key(n)\n    os._exit(3)\n    try:\n        cached = mc.get(key)')
    wanted = ("test_miss_computes_once_and_returns_the_square", "test_hit_skips_expensive_square",
              "test_square_key_is_sq_colon_n", "test_results_come_back_equal_and_of_the_same_type")
    result = grade(CACHE, submission(CACHE, text), only=lambda s: function_of(s.nodeid) in wanted)
    status = {function_of(t.spec.nodeid): t.outcome.status for t in result.tests}
    assert status["test_miss_computes_once_and_returns_the_square"] == CRASHED
    assert status["test_hit_skips_expensive_square"] == CRASHED
    assert status["test_square_key_is_sq_colon_n"] == PASSED
    assert status["test_results_come_back_equal_and_of_the_same_type"] == PASSED
    crashed = next(t for t in result.tests if t.outcome.status == CRASHED)
    assert "os._exit" in crashed.outcome.reason and "status 3" in crashed.outcome.reason


def test_a_memcached_that_stops_during_grading_is_not_charged_to_the_student(memcached_server, tmp_path):
    """The harness ends a test session whose server does not answer (exit status 3): that is
    the machine's fault, not a crash of the test that was starting, nor a score."""
    server = memcached_server()
    env = {harness.SERVERS_ENV: server.name}
    server.kill()  # gone before the tests meet it, as a server killed by another process was
    wanted = ("test_square_key_is_sq_colon_n", "test_results_come_back_equal_and_of_the_same_type")
    with pytest.raises(harness.MemcachedUnavailable, match="stopped during grading"):
        pipeline.grade_assignment(assignment(CACHE), course.SOLUTIONS, env, tmp_path, Settings.from_environment(),
                                  QUICK,
                                  only=lambda s: function_of(s.nodeid) in wanted)


def test_a_hang_that_ignores_pytest_timeout_is_killed(submission):
    stubborn = ('    while True:\n        try:\n            time.sleep(60)\n'
                '        except BaseException:\n            pass\n')
    text = REFERENCE.replace('    return "sq:%d" % n\n', stubborn)
    limits = Limits(import_seconds=5, grace=2, linger=1, test_cap=3)
    # test_cap holds for every test: the ones that must pass take milliseconds (not a Hypothesis
    # run of a second or more, which a loaded machine stretched past 3 + 2 s), and none calls square_key.
    wanted = ("test_square_key_is_sq_colon_n", "test_prefix_and_arguments_are_not_confused",
              "test_arguments_are_told_apart")
    result = grade(CACHE, submission(CACHE, text), limits=limits, only=lambda s: function_of(s.nodeid) in wanted)
    status = {function_of(t.spec.nodeid): t.outcome for t in result.tests}
    assert status["test_square_key_is_sq_colon_n"].status == TIMED_OUT
    assert status["test_prefix_and_arguments_are_not_confused"].status == PASSED
    assert status["test_arguments_are_told_apart"].status == PASSED


# -- the command line ------------------------------------------------------------


def _grader(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def test_unknown_assignment_is_a_usage_error():
    done = _grader("grade", "99-nothing", "--submission", str(course.SOLUTIONS))
    assert done.returncode == 2 and "unknown assignment" in done.stderr


def test_missing_submission_folder_is_a_usage_error(tmp_path):
    done = _grader("grade", CACHE, "--submission", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and "no such submission folder" in done.stderr


def test_no_memcached_says_how_to_install_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MEMCACHED_SERVERS"}
    env["PATH"] = str(tmp_path)  # a folder with bubblewrap alone: no memcached to be found
    (tmp_path / "bwrap").symlink_to(shutil.which("bwrap"))
    done = _grader("grade", CACHE, "--submission", str(course.SOLUTIONS), env=env)
    assert done.returncode == 3
    assert "apt-get install memcached" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_results_file_has_gradescopes_shape(tmp_path):
    results = tmp_path / "out.json"
    done = _grader("grade", "all", "--submission", str(course.SKELETONS), "--results", str(results))
    assert done.returncode == 0, done.stderr
    document = json.loads(results.read_text())
    assert set(document) == {"score", "max_score", "execution_time", "output", "tests"}
    assert document["score"] == 0 and document["max_score"] > 0
    names = [t["name"] for t in document["tests"]]
    assert len(names) == len(set(names))
    for test in document["tests"]:
        assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in {"passed", "failed"} and test["name"].split("::")[0] in ASSIGNMENTS
    assert "Test" in done.stdout and "points" in done.stdout


@pytest.mark.parametrize("which", [CACHE, "all"])  # "all" as root: assignments side by side, in workers
def test_a_terminated_grading_leaves_nothing_behind(which, submission, tmp_path):
    import psutil
    stubborn = ('    while True:\n        try:\n            time.sleep(60)\n'
                '        except BaseException:\n            pass\n')
    folder = submission(CACHE, REFERENCE.replace('    return "sq:%d" % n\n', stubborn))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    grading = subprocess.Popen([sys.executable, "-m", "grader", "grade", which, "--submission", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, TMPDIR=str(scratch)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("channel" in " ".join(p.info["cmdline"] or [])
                                                  and str(scratch) in " ".join(p.info["cmdline"] or [])
                                                  for p in psutil.process_iter(["cmdline"])):
        time.sleep(0.2)
    tree = psutil.Process(grading.pid).children(recursive=True)
    assert any("memcached" in " ".join(p.cmdline()) for p in tree)
    grading.terminate()
    assert grading.wait(timeout=30) == 128 + 15
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    assert list(scratch.iterdir()) == []
