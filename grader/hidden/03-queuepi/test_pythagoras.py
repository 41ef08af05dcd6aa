"""03-queuepi: pythagoras alone, asked by a REQ socket the test plays."""
from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

BIG = 10 ** 40


@pytest.mark.points(4)
@settings(max_examples=150)
@given(numbers=st.lists(st.integers(min_value=-BIG, max_value=BIG), max_size=12))
@example(numbers=[])
@example(numbers=[3, 4])
@example(numbers=[2 ** 32 - 1, 2 ** 32 - 1])
@example(numbers=[-5])
def test_pythagoras_replies_with_the_sum_of_squares(queuepi, asker, numbers):
    """pythagoras binds a REP socket and answers each JSON array of integers with the JSON sum of their squares: exact
    for big integers, 0 for []."""
    request = json.dumps(numbers).encode()
    answer = asker.ask(request)
    expected = sum(n * n for n in numbers)
    try:
        value = json.loads(answer)
    except ValueError:
        pytest.fail(f"pythagoras answered {request[:100]!r} with {answer[:100]!r}, which is not JSON", pytrace=False)
    assert value == expected and type(value) is int, (
        f"pythagoras answered {request[:100]!r} with {answer[:100]!r}; expected the JSON integer {expected} "
        "(the sum of the squares, exact: no float, no sum of the numbers themselves)")
