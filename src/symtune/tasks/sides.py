"""Which side, tuning or evaluation, a source item belongs to: a salted hash of its case-folded
form, so no word, name or sentence can appear in a tuning prompt and in an evaluation query,
whichever families use it. Also the small helpers family builders share."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence

SIDE_SALT = "symtune-side-v1"
SIDES = ("tuning", "evaluation")
LETTERS = re.compile(r"[^\W\d_]+")

Pools = dict[str, list[str]]
"""Candidate items per class name, before balancing."""


def side_of(item: str) -> str:
    """The side a source item belongs to: a salted hash of its case-folded form, half each."""
    digest = hashlib.sha256(f"{SIDE_SALT}:{item.casefold()}".encode()).digest()
    return SIDES[digest[0] & 1]


def item_words(text: str) -> set[str]:
    """The case-folded letter runs of an input: what the cross-side check compares."""
    return {w.casefold() for w in LETTERS.findall(text)}


def own_side(items: Sequence[str], side: str) -> list[str]:
    """The items that belong to `side`."""
    return [w for w in items if side_of(w) == side]


def disjoint_split(words: Sequence[str], n_classes: int, rng: random.Random) -> list[list[str]]:
    """Deal shuffled words into n groups, so that no word appears in two classes."""
    pool = list(words)
    rng.shuffle(pool)
    return [pool[i::n_classes] for i in range(n_classes)]


def exclusive(pools: dict[str, Iterable[str]], side: str) -> Pools:
    """Each class's distinct items of `side`, without any item (case-folded) that two classes
    share: an item listed under two labels says nothing about either."""
    seen: dict[str, int] = {}
    sets = {label: {i for i in items if side_of(i) == side} for label, items in pools.items()}
    for items in sets.values():
        for key in {i.casefold() for i in items}:
            seen[key] = seen.get(key, 0) + 1
    return {
        label: sorted(i for i in items if seen[i.casefold()] == 1) for label, items in sets.items()
    }
