"""Grading assignments side by side: who may run beside whom, forked workers, the manifest cache."""
from __future__ import annotations

import os
import re
import subprocess
import time

import psutil
import pytest
from conftest import QUICK, assignment

from grader import child, course, lockdown, manifests, pipeline, processes, sandbox, schedule, workers
from grader.scoring import FAILED, AssignmentResult, Outcome, TestResult, TestSpec

CACHE, SHARDING, QUEUEPI, KEEPALIVE, WORKQUEUE = (a.id for a in course.CATALOGUE)


# -- schedule: pure ---------------------------------------------------------------


def test_without_a_network_apart_everything_is_graded_one_after_the_other():
    everything = list(course.CATALOGUE)
    assert schedule.groups(everything, apart=False, given_servers=False) == [
        schedule.Group(tuple(everything), own_network=False)]


def test_apart_each_assignment_has_a_network_of_its_own_the_longest_first():
    groups = schedule.groups(list(course.CATALOGUE), apart=True, given_servers=False)
    assert sorted(a.id for g in groups for a in g.assignments) == sorted(a.id for a in course.CATALOGUE)
    assert all(len(g.assignments) == 1 and g.own_network for g in groups)
    assert [g.seconds for g in groups] == sorted((g.seconds for g in groups), reverse=True)


def test_given_servers_are_shared_one_assignment_at_a_time_the_others_still_beside_them():
    groups = schedule.groups(list(course.CATALOGUE), apart=True, given_servers=True)
    shared = [g for g in groups if not g.own_network]
    assert [[a.id for a in g.assignments] for g in shared] == [[CACHE, SHARDING]]
    assert sorted(a.id for g in groups if g.own_network for a in g.assignments) == [QUEUEPI, KEEPALIVE, WORKQUEUE]


def test_one_assignment_has_a_network_of_its_own_too():
    only = [assignment(WORKQUEUE)]
    assert schedule.groups(only, apart=True, given_servers=False) == [schedule.Group(tuple(only), True)]


def test_results_come_back_in_the_assignments_order():
    chosen = [assignment(CACHE), assignment(QUEUEPI), assignment(WORKQUEUE)]
    assert schedule.in_order(chosen, {WORKQUEUE: 5, CACHE: 1, QUEUEPI: 3}) == [1, 3, 5]


# -- workers: forked, results back, nothing left ------------------------------------


def test_each_job_runs_in_a_worker_of_its_own_results_in_order():
    pids = workers.side_by_side([os.getpid, os.getpid, os.getpid])
    assert len(set(pids)) == 3 and os.getpid() not in pids


def _fails():
    raise child.GradingError("the hidden tests did not collect")


def test_what_a_worker_raised_is_raised_here_at_once_the_others_stopped():
    before, started = processes.our_descendants(), time.monotonic()
    with pytest.raises(child.GradingError, match="did not collect"):
        workers.side_by_side([lambda: time.sleep(60), _fails], passes=(child.GradingError,))
    assert time.monotonic() - started < 30
    assert processes.our_descendants() <= before  # the sleeper is gone


def _dies():
    os._exit(3)


def test_a_worker_that_dies_without_a_result_says_so():
    with pytest.raises(workers.WorkerDied, match="without a result"):
        workers.side_by_side([_dies, lambda: 1])


def test_an_exception_the_caller_did_not_name_comes_back_as_words():
    """Nothing crosses back but JSON: an exception of a type not passed is WorkerDied, with its traceback."""
    with pytest.raises(workers.WorkerDied, match="GradingError(.|\n)*did not collect"):
        workers.side_by_side([_fails, lambda: 1])


def test_results_cross_as_json_and_come_back_equal():
    result = AssignmentResult("01-cache-aside", [TestResult(SPEC, Outcome(FAILED, "AssertionError: é\n"))],
                              ["a note"], 1.5, "")
    [back] = workers.side_by_side([lambda: result], encode=AssignmentResult.to_plain,
                                  decode=AssignmentResult.from_plain)
    assert back == result and back is not result


def _leaves_a_daemon() -> int:
    return subprocess.Popen(["sleep", "60"], start_new_session=True).pid


def test_what_a_worker_leaves_running_is_reaped():
    left = workers.side_by_side([_leaves_a_daemon, _leaves_a_daemon])
    for pid in left:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


# -- the manifest, once per content of the hidden tests ------------------------------

SPEC = TestSpec("01-cache-aside/test_x.py::test_x", "test_x", "", 1.0, 30.0)


@pytest.fixture
def box(tmp_path):
    return sandbox.build(assignment(CACHE), None, tmp_path / "box")


def test_the_manifest_is_collected_once_per_content_of_the_hidden_tests(box, tmp_path):
    calls = []

    def collect():
        calls.append(1)
        return [SPEC]

    home = tmp_path / "manifests"
    assert manifests.cached(box, collect, home) == manifests.cached(box, collect, home) == [SPEC]
    assert len(calls) == 1
    assert home.stat().st_mode & 0o777 == 0o700
    (box.tests / CACHE / "test_added.py").write_text("def test_added():\n    pass\n")
    manifests.cached(box, collect, home)
    assert len(calls) == 2


def test_a_cache_folder_others_may_write_is_not_trusted(box, tmp_path):
    home = tmp_path / "manifests"
    home.mkdir()
    home.chmod(0o777)
    calls = []
    for _ in range(2):
        manifests.cached(box, lambda: calls.append(1) or [SPEC], home)
    assert len(calls) == 2 and list(home.iterdir()) == []


def test_a_cached_manifest_is_what_collecting_gives(box):
    child.collect_manifest(box, {})  # in the cache now, if it was not
    assert child.collect_manifest(box, {}) == child._collect(box, {})


# -- end to end, as root: each assignment beside the others is on its own ------------

TELLS = ("import os, socket\n"
         "def __getattr__(name):  # every function the judge asks for says who and where it runs\n"
         "    raise RuntimeError(f'uid {os.getuid()} sees {sorted(n for _, n in socket.if_nameindex())}')\n")


@pytest.mark.skipif(not lockdown.may_have_own_network(), reason="needs root, or unprivileged user namespaces")
def test_assignments_side_by_side_run_as_uids_of_their_own_on_networks_of_their_own(submission):
    """Each assignment's test processes (not only the import probe): one uid per assignment as root, and
    one network of its own each."""
    chosen = [assignment(QUEUEPI), assignment(KEEPALIVE), assignment(WORKQUEUE)]
    for each in chosen:
        folder = submission(each.id, TELLS)
    results = pipeline.grade(chosen, folder, limits=QUICK)
    assert [r.assignment for r in results] == [QUEUEPI, KEEPALIVE, WORKQUEUE]
    told = [{match.groups() for t in r.tests for match in re.finditer(r"uid (\d+) sees (\[.*?\])", t.outcome.reason)}
            for r in results]
    assert all(len(seen) == 1 for seen in told), told  # every test of an assignment: one uid, one network
    uids = {int(uid) for seen in told for uid, _ in seen}
    assert 0 not in uids and len(uids) == (3 if lockdown.root() else 1)
    assert {network for seen in told for _, network in seen} == {"['lo']"}
