"""01-cache-aside: run_experiment, the book's ten successive runs.

Every verdict rests on what memcached and the judge saw: the keys looked up and stored, in order, as they
reached the judge's relay in front of the server (`Tap`, checked against memcached's own counters), the calls
of expensive_square (the judge's: it hears each one and answers it, with a value only it knows, when it
chooses), and the judge's clock. The printed text and the returned timings are checked against those, never
taken on trust: the judge holds expensive_square's answers in each run for a time it draws in secret, so a
timing that was not measured does not fit.
"""
from __future__ import annotations

import random
import re
import time
from collections import Counter

import pytest
from memcached_peers import Counters, Tap, barrier, collapsed, read_since_stored, secret_square, tapped_problems

from grader.harness import CLIENT_DEFAULTS
from grader.student_process import memcached_client

SLACK = 0.01  # a share of a run's time: a student's clock against the judge's
# Each timed run holds expensive_square's answers for a total drawn in secret, for every run on its own, from
# HOLD to HOLD * SPREAD seconds (evenly on a log scale). A run's timing must lie between the time the judge's
# clock saw it spend in expensive_square and the time from its first lookup to its last answer plus HOLD_SHARE
# of its hold. The room above is for the moments before the run's first lookup and after its last answer:
# about half a millisecond, sixty times less than the least hold, so a loaded machine's pause fits too. A
# made-up timing fits a run by a chance of log(1 + HOLD_SHARE) / log(SPREAD), a third (a little more, as the
# run's lookups add to its span), and must fit every run: nine in one test, ten in the other.
HOLD, SPREAD, HOLD_SHARE = 0.03, 8.0, 1.0


def draws(seed, runs, requests, keyspace):
    """The n of every request, run by run, as the contract draws them."""
    rng = random.Random(seed)
    return [[rng.randrange(keyspace) for _ in range(requests)] for _ in range(runs)]


def first_occurrences(numbers):
    seen, out = set(), []
    for n in numbers:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


@pytest.fixture
def tap(server):
    """The judge's relay in front of the (emptied) first server."""
    relay = Tap(server.address)
    yield relay
    relay.close()


@pytest.fixture
def tapped(tap):
    """A pymemcache Client built in the student process that reaches memcached through the judge's relay."""
    return memcached_client("base", [tap.address], "mc", **CLIENT_DEFAULTS)


def experiment(squares, process, mc, tap, server, **arguments):
    """run_experiment(mc, **arguments), timed on the judge's clock: (what it returned, when it was asked,
    when its answer came). Then every command it sent has reached the judge's relay, and memcached counted
    exactly the lookups and stores the relay passed on."""
    barrier(process, mc)  # the client's connection is made before the call
    counters, lookups, stores = Counters([server]), len(tap.lookups), len(tap.stores)
    asked = time.monotonic()
    timings = squares.run_experiment(mc, **arguments)
    answered = time.monotonic()
    barrier(process, mc)
    problems = tapped_problems(tap, counters.since(), lookups, stores)
    if problems:
        pytest.fail(f"during run_experiment(mc, {', '.join(f'{k}={v}' for k, v in arguments.items())}) "
                    + problems[0], pytrace=False)
    return timings, asked, answered


def looked_up_in_order(tap: Tap, numbers: list[int], call: str) -> list[tuple[str, int, int]]:
    """The judge's relay saw the keys of `numbers` looked up in their order (neighbours that are equal may be
    looked up any number of times); the runs of equal keys, each with the indexes of its lookups."""
    wanted = [key for key, _, _ in collapsed(["sq:%d" % n for n in numbers])]
    seen = collapsed([key for _, key in tap.lookups])
    got = [key for key, _, _ in seen]
    if got != wanted:
        at = next((i for i, (a, b) in enumerate(zip(got, wanted)) if a != b), min(len(got), len(wanted)))
        pytest.fail(f"{call}: memcached was asked for {len(tap.lookups)} keys; from lookup #{at + 1} on they were "
                    f"{got[at:at + 4]}, where the draws of one random.Random(seed).randrange(keyspace), in order, "
                    f"give {wanted[at:at + 4]}", pytrace=False)
    return seen


def hold_runs(computed, runs: list[list[int]]) -> None:
    """Hold the answers of expensive_square in each run (its misses: the n it draws first) for a total drawn
    in secret, spread evenly over them. The design of a test: every run has misses."""
    secret, seen = random.SystemRandom(), set()
    for run in runs:
        fresh = [n for n in first_occurrences(run) if n not in seen]
        seen.update(run)
        assert fresh, "every timed run must have misses to hold"  # the design of the test
        total = HOLD * SPREAD ** secret.random()
        computed.holds.update(dict.fromkeys(fresh, total / len(fresh)))


def run_bounds(tap: Tap, computed, runs: list[list[int]], asked: float, answered: float) -> list[tuple]:
    """For each run, from the judge's clock: (how long its calls of expensive_square took, from each reaching
    the judge to its answer leaving; how long from its first lookup to its last lookup or answer; from the last
    lookup before it to the first after it (the call itself at either end); how long expensive_square's answers
    were held in it). A lookup and a call wait for their answer, so a run's own clock starts before its first
    lookup reached the relay and stops after its last answer left the judge, and a timer of each call of
    fetch_square alone still holds every call of expensive_square."""
    numbers = [n for run in runs for n in run]
    seen = looked_up_in_order(tap, numbers, "run_experiment")
    group_of = {}  # the index of a draw -> the run of equal lookups that holds it
    for group, (_, first, last) in enumerate(collapsed(["sq:%d" % n for n in numbers])):
        for index in range(first, last + 1):
            group_of[index] = group
    times = [t for t, _ in tap.lookups]
    bounds, start = [], 0
    for run in runs:
        first, last = seen[group_of[start]], seen[group_of[start + len(run) - 1]]
        before = times[first[1] - 1] if first[1] else asked
        after = times[last[2] + 1] if last[2] + 1 < len(times) else answered
        began = times[first[1]]
        calls = [(came, left, hold) for _, came, left, hold in computed.answered if began <= came < after]
        ended = max([times[last[2]], *(left for _, left, _ in calls)])
        inside = sum(left - came for came, left, _ in calls)
        bounds.append((inside, ended - began, after - before, sum(hold for _, _, hold in calls)))
        start += len(run)
    return bounds


def timing_problems(timings, bounds) -> list[str]:
    problems = []
    for number, (took, (inside, span, longest, held)) in enumerate(zip(timings, bounds), start=1):
        least, most = inside * (1 - SLACK), min(longest * (1 + SLACK), span * (1 + SLACK) + HOLD_SHARE * held)
        if not least <= took <= most:
            problems.append(f"run {number} was timed at {took:.4f} s, but the judge's clock saw {span:.4f} s from "
                            f"its first lookup to its last answer, {inside:.4f} s of it inside expensive_square: "
                            f"it took between {least:.4f} s and {most:.4f} s")
    return problems


def boundaries_differ(runs) -> bool:
    """The design of a test: no run starts with the key its previous run ended on (a run's first lookup is then
    known from the keys alone)."""
    return all(runs[i][0] != runs[i - 1][-1] for i in range(1, len(runs)))


@pytest.mark.points(2)
@pytest.mark.parametrize("seed, keyspace", [(0, 5001), (2024, 4095)])
def test_misses_are_the_distinct_keys_drawn_in_order(squares, process, tapped, tap, computed, cache, server, seed,
                                                     keyspace):
    """On an empty cache the keys are looked up in the order one Random(seed) draws them, and the misses (the
    first draw of each n) are computed and stored, in order, and only those."""
    call = f"run_experiment(mc, runs=4, requests=60, keyspace={keyspace}, seed={seed})"
    numbers = [n for run in draws(seed, 4, 60, keyspace) for n in run]
    experiment(squares, process, tapped, tap, server, runs=4, requests=60, keyspace=keyspace, seed=seed)
    looked_up_in_order(tap, numbers, call)
    misses_stored_in_order(tap, computed, cache, numbers, call)


def misses_stored_in_order(tap: Tap, computed, cache, numbers: list[int], call: str) -> None:
    """The first draw of each n, and only those, went to the judge's expensive_square and were stored, in order,
    with what it answered."""
    distinct = first_occurrences(numbers)
    expected = ["sq:%d" % n for n in distinct]
    assert list(computed) == distinct, (
        f"{call} called expensive_square {len(computed)} times, starting with {list(computed)[:4]}; the misses "
        f"are the {len(distinct)} distinct n drawn, starting {distinct[:4]}, each computed once, in order")
    stored = [key for _, key in tap.stores]
    assert stored == expected, (
        f"{call} stored {len(stored)} keys, starting {stored[:4]}; the misses are the {len(expected)} distinct n "
        f"drawn, starting {expected[:4]}, each stored once, in order")
    values = cache.get_many(expected)
    wrong = {key: value for key, value in values.items() if value != b"%d" % secret_square(int(key[3:]))}
    assert not wrong and len(values) == len(expected), (
        f"{call}: memcached holds {dict(list(wrong.items())[:3]) or len(values)!r:.200} under those keys; each "
        "miss stores what expensive_square (the judge's) returned for it")


@pytest.mark.points(3)
def test_each_run_is_timed_on_its_own(squares, process, tapped, tap, computed, server):
    """One wall-clock time per run, of that run alone: each agrees with the judge's clock, which saw every lookup
    of the run reach memcached and held expensive_square's answers in it for a time only the judge knew."""
    runs = draws(5, 9, 30, 400)
    assert boundaries_differ(runs)  # the design of this test, not the student's code
    hold_runs(computed, runs)
    timings, asked, answered = experiment(squares, process, tapped, tap, server, runs=9, requests=30,
                                          keyspace=400, seed=5)
    assert isinstance(timings, list) and len(timings) == 9, f"runs=9 should return 9 timings, not {timings!r}"
    assert all(isinstance(t, float) for t in timings), f"timings should be floats (seconds): {timings!r}"
    problems = timing_problems(timings, run_bounds(tap, computed, runs, asked, answered))
    assert not problems, ("each run should be timed from its own start to its own end, on a wall clock: "
                          + "; ".join(problems))


# Linear on any output (a student's printed text can be a million digits or newlines): no pattern
# that can start inside a run of what it repeats, and no repeat without a bound.
_HEADER = re.compile(r"(?im)^[ \t]{0,80}(ten|10)[ \t]{1,80}successive[ \t]{1,80}runs:")
_TIMING = re.compile(r"(?<![\d.])(\d{1,15})\.(\d{1,24})s\b")
OUTPUT_READ = 64 * 1024  # characters of the output looked at: the book's line is a hundred


@pytest.mark.points(2)
def test_prints_ten_successive_runs_like_the_book(squares, tapped, tap, computed, process, server):
    """It prints 'Ten successive runs:' and the ten timings on one line, as '4.60s 3.13s ...': the times it
    measured, which agree with the judge's clock."""
    runs = draws(2, 10, 20, 10**6)
    assert boundaries_differ(runs)  # the design of this test
    hold_runs(computed, runs)
    process.take_output()
    timings, asked, answered = experiment(squares, process, tapped, tap, server, runs=10, requests=20,
                                          keyspace=10**6, seed=2)
    out = process.take_output()[:OUTPUT_READ]
    header = _HEADER.search(out)
    assert header, f"expected a line starting 'Ten successive runs:'; the output was:\n{out[:500]}"
    rest = out[header.end():].lstrip(" \t")
    line = rest.split("\n", 1)[0] if _TIMING.search(rest.split("\n", 1)[0]) else (rest.split("\n") + [""])[1]
    printed = _TIMING.findall(line)
    assert len(printed) == 10, f"expected ten timings like '4.60s' on one line after the header; got {line!r}"
    problems = timing_problems(timings, run_bounds(tap, computed, runs, asked, answered))
    assert not problems, "print the times measured, each run timed on its own: " + "; ".join(problems)
    for (whole, frac), value in zip(printed, timings):
        number = float(f"{whole}.{frac}")
        assert abs(number - value) <= 0.5 * 10 ** -len(frac) + 1e-9, (
            f"printed {whole}.{frac}s for a run that returned {value!r}: print the measured times")


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_the_books_experiment_by_default(squares, process, mc, computed, cache, server):
    """With no arguments it is the book's experiment: 10 runs of 2000 requests over 5001 keys, seed 0 (the judge's
    expensive_square and memcached's own counters and contents show every miss, store and hit)."""
    numbers = [n for run in draws(0, 10, 2000, 5001) for n in run]
    distinct = first_occurrences(numbers)
    counters = Counters([server])
    timings = squares.run_experiment(mc)
    barrier(process, mc)
    counted = counters.since()
    assert isinstance(timings, list) and len(timings) == 10, f"run_experiment(mc) returned {timings!r}"
    assert list(computed) == distinct, (
        f"run_experiment(mc) called expensive_square {len(computed)} times, starting with {list(computed)[:4]}; "
        f"the book's experiment (10 runs of 2000 requests, keyspace 5001, seed 0) misses on the {len(distinct)} "
        f"distinct n it draws, starting {distinct[:4]}, each once, in order")
    assert counted["get_misses"] == len(distinct) and counted["cmd_set"] == len(distinct), (
        f"run_experiment(mc): memcached counted {counted['get_misses']} misses and {counted['cmd_set']} stores; "
        f"the book's experiment misses {len(distinct)} times on an empty cache, and stores each miss once")
    assert counted["get_hits"] >= len(numbers) - len(distinct), (
        f"run_experiment(mc): memcached counted {counted['get_hits']} hits; the book's experiment makes "
        f"{len(numbers)} requests, {len(numbers) - len(distinct)} of them hits")
    drawn_again = {"sq:%d" % n for n, times in Counter(numbers).items() if times > 1}
    read = read_since_stored(server, ["sq:%d" % n for n in distinct])  # before the judge reads any itself
    assert read == drawn_again, (
        f"run_experiment(mc): memcached says {len(read)} entries were read after they were stored, where the "
        f"book's experiment draws {len(drawn_again)} n again after their first draw (each then a hit); "
        f"not read: {sorted(drawn_again - read)[:4]}, read: {sorted(read - drawn_again)[:4]}")
    stored = cache.get_many(["sq:%d" % n for n in range(5001)])
    expected = {"sq:%d" % n: b"%d" % secret_square(n) for n in distinct}
    assert stored == expected, (
        f"run_experiment(mc) left {len(stored)} keys in memcached; the book's experiment stores the "
        f"{len(expected)} distinct n of seed 0, each with what expensive_square returned for it")
