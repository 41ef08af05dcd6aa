"""02-sharding: the book's three shard functions, against their exact definitions, and the book's table.

`hashing` is the student's module in a student process (PYTHONHASHSEED=0, as here,
so hash() agrees on both sides); every expected value is worked out here.
"""
from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

# Words as a shard function may meet them: any text, and on purpose upper case,
# digits, punctuation, non-ASCII letters and the edges of the book's ranges.
tricky_first = st.sampled_from(list("afgmntzAGNTZ09'_-é€😀\x00 ") + ["\U0010ffff"])
words = st.one_of(st.text(min_size=1), st.builds(lambda c, rest: c + rest, tricky_first, st.text(max_size=5)))


def alpha_rule(word: str) -> str:
    """The contract's alpha_shard: word[0] compared as a str."""
    first = word[0]
    return "server0" if first < "g" else "server1" if first < "n" else "server2" if first < "t" else "server3"


def md5_rule(word: str) -> str:
    return "server%d" % (hashlib.md5(word.encode("utf-8")).digest()[-1] % 4)


@pytest.mark.points(3)
@given(word=words)
@example(word="Apple")
@example(word="Zebra")
@example(word="9lives")
@example(word="éclair")
@example(word="g")
@example(word="t")
def test_alpha_shard_compares_the_first_character(hashing, word):
    """alpha_shard compares word[0] as a str: < 'g' server0, < 'n' server1, < 't' server2, else server3.

    No lowercasing, and no list of letters: 'Zebra' and '9lives' go to server0, 'éclair' to server3.
    """
    got = hashing.alpha_shard(word)
    assert got == alpha_rule(word), (
        f"alpha_shard({word!r}) returned {got!r}; its first character {word[0]!r} compared as a str "
        f"gives {alpha_rule(word)!r} (the functions do not lowercase: the book's main() does)")


@pytest.mark.points(1)
def test_alpha_shard_rejects_the_empty_word(hashing, expect_value_error):
    """alpha_shard('') raises ValueError: an empty word has no first letter."""
    expect_value_error(lambda: hashing.alpha_shard(""), "alpha_shard('')")


@pytest.mark.points(2)
@given(word=st.one_of(words, st.just("")))
@example(word="")
@example(word="Apple")
def test_hash_shard_is_hash_modulo_4(hashing, word):
    """hash_shard(word) is 'server%d' % (hash(word) % 4), for any word, the empty one too."""
    expected = "server%d" % (hash(word) % 4)
    got = hashing.hash_shard(word)
    assert got == expected, (
        f"hash_shard({word!r}) returned {got!r}; 'server%d' % (hash(word) % 4) is {expected!r} "
        "(hash the word itself: no lowercasing, no encoding)")


@pytest.mark.points(3)
@given(word=st.one_of(words, st.just("")))
@example(word="")
@example(word="éclair")
@example(word="Apple")
def test_md5_shard_takes_the_last_byte_of_the_digest(hashing, word):
    """md5_shard(word) is 'server%d' % (md5(word.encode('utf-8')).digest()[-1] % 4), non-ASCII words too."""
    got = hashing.md5_shard(word)
    assert got == md5_rule(word), (
        f"md5_shard({word!r}) returned {got!r}; the last byte of the MD5 digest of its UTF-8 bytes, "
        f"modulo 4, gives {md5_rule(word)!r}")


@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_the_books_table_from_the_word_list(hashing, distribution, book_words):
    """distribution() over the course's 104,334 lowercased words gives the handout's table for all three.

    alpha_shard: about 35/23/29/12 percent; hash_shard and md5_shard: about 25 percent each.
    """
    rules = {"alpha_shard": alpha_rule, "hash_shard": lambda w: "server%d" % (hash(w) % 4), "md5_shard": md5_rule}
    for name, rule in rules.items():
        counts = dict.fromkeys(("server0", "server1", "server2", "server3"), 0)
        for word in book_words:
            counts[rule(word)] += 1
        expected = {server: count / len(book_words) for server, count in counts.items()}
        got = distribution(book_words, getattr(hashing, name))  # its own function, given in its process
        assert isinstance(got, dict) and set(got) == set(expected), (
            f"distribution(words, {name}) returned {got!r}; expected the four keys server0..server3")
        wrong = {s: (got[s], expected[s]) for s in expected if not math.isclose(got[s], expected[s], abs_tol=1e-9)}
        assert not wrong, (
            f"over the book's word list, distribution(words, {name}) gave (got, expected) {wrong}")
