"""01-cache-aside: run_experiment, the book's ten successive runs."""
from __future__ import annotations

import random
import re
import pytest


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


@pytest.mark.points(2)
@pytest.mark.parametrize("seed, keyspace", [(0, 5001), (2024, 4095)])
def test_misses_are_the_distinct_keys_drawn_in_order(squares, mc, computed, seed, keyspace):
    """On an empty cache the misses are exactly the first draw of each n, in order, from one Random(seed)."""
    squares.run_experiment(mc, runs=4, requests=60, keyspace=keyspace, seed=seed)
    expected = first_occurrences(n for run in draws(seed, 4, 60, keyspace) for n in run)
    assert computed == expected, (
        f"run_experiment(mc, runs=4, requests=60, keyspace={keyspace}, seed={seed}) computed {len(computed)} "
        f"squares, starting {computed[:5]}; expected the {len(expected)} distinct n drawn by one "
        f"random.Random({seed}).randrange({keyspace}), starting {expected[:5]}")


@pytest.mark.points(3)
def test_each_run_is_timed_on_its_own(squares, mc, process, stand_ins):
    """One wall-clock time per run: a run full of misses takes longer than a later run of hits only."""
    pause = 0.02
    slow_square, _ = stand_ins("expensive_square", ("square",), sleep=pause)
    process.assign("expensive_square", slow_square)
    runs = draws(5, 3, 100, 20)
    misses = [len(first_occurrences(sum(runs[: i + 1], []))) - len(first_occurrences(sum(runs[:i], [])))
              for i in range(3)]
    assert misses[0] >= 15 and misses[2] == 0  # the design of this test, not the student's code
    timings = squares.run_experiment(mc, runs=3, requests=100, keyspace=20, seed=5)
    assert isinstance(timings, list) and len(timings) == 3, f"runs=3 should return 3 timings, not {timings!r}"
    assert all(isinstance(t, float) for t in timings), f"timings should be floats (seconds): {timings!r}"
    for i, (took, missed) in enumerate(zip(timings, misses)):
        assert took >= 0.9 * missed * pause, (
            f"run {i + 1} had {missed} misses of {pause} s each but was timed at {took:.3f} s")
    assert timings[2] < timings[0] / 2, (
        f"run 3 (all hits) took {timings[2]:.3f} s and run 1 ({misses[0]} misses) {timings[0]:.3f} s: "
        "each run should be timed from its own start, not from the start of the experiment")


# Linear on any output (a student's printed text can be a million digits or newlines): no pattern
# that can start inside a run of what it repeats, and no repeat without a bound.
_HEADER = re.compile(r"(?im)^[ \t]{0,80}(ten|10)[ \t]{1,80}successive[ \t]{1,80}runs:")
_TIMING = re.compile(r"(?<![\d.])(\d{1,15})\.(\d{1,24})s\b")
OUTPUT_READ = 64 * 1024  # characters of the output looked at: the book's line is a hundred


@pytest.mark.points(2)
def test_prints_ten_successive_runs_like_the_book(squares, mc, computed, process):
    """It prints 'Ten successive runs:' and the ten timings on one line, as '4.60s 3.13s ...'."""
    process.take_output()
    timings = squares.run_experiment(mc, runs=10, requests=20, keyspace=50, seed=1)
    out = process.take_output()[:OUTPUT_READ]
    header = _HEADER.search(out)
    assert header, f"expected a line starting 'Ten successive runs:'; the output was:\n{out[:500]}"
    rest = out[header.end():].lstrip(" \t")
    line = rest.split("\n", 1)[0] if _TIMING.search(rest.split("\n", 1)[0]) else (rest.split("\n") + [""])[1]
    printed = _TIMING.findall(line)
    assert len(printed) == 10, f"expected ten timings like '4.60s' on one line after the header; got {line!r}"
    for (whole, frac), value in zip(printed, timings):
        number = float(f"{whole}.{frac}")
        assert abs(number - value) <= 0.5 * 10 ** -len(frac) + 1e-9, (
            f"printed {whole}.{frac}s for a run that returned {value!r}: print the measured times")


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_the_books_experiment_by_default(squares, mc, computed):
    """With no arguments it is the book's experiment: 10 runs of 2000 requests over 5001 keys, seed 0."""
    timings = squares.run_experiment(mc)
    assert isinstance(timings, list) and len(timings) == 10, f"run_experiment(mc) returned {timings!r}"
    expected = first_occurrences(n for run in draws(0, 10, 2000, 5001) for n in run)
    assert computed == expected, (
        f"run_experiment(mc) computed {len(computed)} squares, starting {computed[:5]}; the book's "
        f"experiment (10 runs of 2000 requests, keyspace 5001, seed 0) misses {len(expected)} times, "
        f"starting {expected[:5]}")
