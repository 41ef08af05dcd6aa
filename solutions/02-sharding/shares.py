"""The book's experiment, run with your hashing.py: how evenly each way of sharding spreads real words.

    python shares.py                         # the words of words.txt, beside this file
    python shares.py /usr/share/dict/words   # or any other list, one word per line

It prints the handout's table of shares with a bar for each server, then how many
of the words change server when a fifth server joins four: with `md5 % n`, and
with your pick_server.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import hashing

WORDS = Path(__file__).with_name("words.txt")
HALF = 40  # characters in the bar of a 50 % share
EIGHTHS = " ▏▎▍▌▋▊▉"


def read_words(path: Path) -> list[str]:
    """The words of the file, lowercased as the book's main() does before sharding them."""
    return [word.lower() for word in path.read_text(encoding="utf-8").split()]


def bar(fraction: float) -> str:
    """HALF characters for 50 %, drawn to an eighth of a character."""
    eighths = round(fraction * 2 * HALF * 8)
    return "█" * (eighths // 8) + EIGHTHS[eighths % 8].strip()


def shares_table(words: list[str]) -> str:
    """One row per shard function and server: words received, share, bar."""
    rows = []
    for shard in (hashing.alpha_shard, hashing.hash_shard, hashing.md5_shard):
        name = shard.__name__.removesuffix("_shard")
        for server, fraction in hashing.distribution(words, shard).items():
            rows.append(f"{name:<5}  {server}  {round(fraction * len(words)):>7,}  {fraction:6.2%}  {bar(fraction)}")
            name = ""
        rows.append("")
    return "\n".join(rows)


def modulo(servers: list[str]):
    """The naive placement: the whole MD5 digest of the key, modulo the number of servers."""
    return lambda key: servers[int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big") % len(servers)]


def rendezvous(servers: list[str]):
    """Your pick_server over `servers`."""
    return lambda key: hashing.pick_server(key, servers)


def movement(words: list[str], n: int = 4) -> str:
    """The share of the words that change server when an (n + 1)-th server joins n."""
    before = [f"10.0.0.{i}:11211" for i in range(1, n + 1)]
    after = before + [f"10.0.0.{n + 1}:11211"]
    rows = [f"adding a server to {n}: the ideal is to move 1/{n + 1} = {1 / (n + 1):.1%} of the words"]
    for name, placement in (("md5 % n", modulo), ("pick_server", rendezvous)):
        old, new = placement(before), placement(after)
        moved = sum(old(word) != new(word) for word in words)
        rows.append(f"  {name:<12} moves {moved:>7,} words  {moved / len(words):6.2%}  {bar(moved / len(words))}")
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else WORDS
    words = read_words(path)
    print(f"{len(words):,} words from {path.name}, lowercased, on four servers:\n")
    print(shares_table(words))
    print(movement(words))


if __name__ == "__main__":
    main(sys.argv)
