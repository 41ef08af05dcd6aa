"""Solution regions become stubs; hidden-test regions vanish; bad markers are refused."""
import pytest

from grader.authoring.stripping import MarkerError, has_markers, solution_lines, strip_solutions

REFERENCE = '''\
def f(x):
    """Docstring stays."""
    ### BEGIN SOLUTION
    y = x + 1
    return y
    ### END SOLUTION


class C:
    def m(self):
        if True:
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
### BEGIN HIDDEN TESTS
assert f(1) == 2
### END HIDDEN TESTS
'''


def test_regions_become_stubs_at_their_indentation():
    assert strip_solutions(REFERENCE) == '''\
def f(x):
    """Docstring stays."""
    raise NotImplementedError()


class C:
    def m(self):
        if True:
            raise NotImplementedError()
'''


def test_stripped_code_still_compiles_and_has_no_markers():
    out = strip_solutions(REFERENCE)
    compile(out, "<skeleton>", "exec")
    assert not has_markers(out) and has_markers(REFERENCE)


def test_single_hash_markers_count_too():
    assert strip_solutions("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n") == \
        "def f():\n    raise NotImplementedError()\n"


@pytest.mark.parametrize("text, problem", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without a matching BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside"),
    ("### BEGIN SOLUTION\n### END HIDDEN TESTS\n", "without a matching BEGIN"),
])
def test_unbalanced_markers_are_refused(text, problem):
    with pytest.raises(MarkerError, match=problem):
        strip_solutions(text, source="m.py")


def test_solution_lines_are_the_answers_only():
    """What a self-test looks for in anything handed back: the regions' lines, not markers or hidden tests."""
    assert solution_lines(REFERENCE) == ["    y = x + 1", "    return y", "            return 1"]
