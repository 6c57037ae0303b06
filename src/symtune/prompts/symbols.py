"""Symbol pools (tuning and evaluation, disjoint) and drawing distinct symbols for a prompt.

Three kinds, as in the paper's public generator: integers, bijective base-26 letter strings and
English words. Tuning: "0".."9999", "A".."NTP" (1..10000), the 10k most frequent words.
Evaluation: "10000".."99999", "NTQ".."EQXD" (10001..100000), frequency ranks 10k..100k.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version

from symtune.errors import SymtuneError

KINDS: tuple[str, ...] = ("integer", "letters", "word")
TUNING_SIZE_PER_KIND = 10_000
EVAL_END_PER_KIND = 100_000
WORDFREQ_LANG = "en"
_LOWER_ALPHA = re.compile(r"[a-z]+")


def to_letters(n: int) -> str:
    """Bijective base-26: 1 -> "A", 26 -> "Z", 27 -> "AA", 702 -> "ZZ", 703 -> "AAA"."""
    if n < 1:
        raise ValueError(f"letter strings start at 1, got {n}")
    out = []
    while n:
        n, rem = divmod(n - 1, 26)
        out.append(chr(ord("A") + rem))
    return "".join(reversed(out))


@cache
def ranked_words() -> tuple[str, ...]:
    """English words by frequency (wordfreq), lower-case alphabetic only, first 100k."""
    import wordfreq

    words = [w for w in wordfreq.top_n_list(WORDFREQ_LANG, 400_000) if _LOWER_ALPHA.fullmatch(w)]
    if len(words) < EVAL_END_PER_KIND:
        raise SymtuneError(
            f"wordfreq {version('wordfreq')}: only {len(words)} lower-case words, "
            f"expected at least {EVAL_END_PER_KIND}"
        )
    return tuple(words[:EVAL_END_PER_KIND])


def _kind_symbols(kind: str, start: int, stop: int) -> tuple[str, ...]:
    """Symbols of one kind with ranks in [start, stop) (0-based)."""
    if kind == "integer":
        return tuple(str(i) for i in range(start, stop))
    if kind == "letters":
        return tuple(to_letters(i + 1) for i in range(start, stop))
    if kind == "word":
        return ranked_words()[start:stop]
    raise SymtuneError(f"symbol kind {kind!r} is unknown; expected one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class SymbolPool:
    """Symbols grouped by kind; a prompt draws a kind per label, then a symbol of that kind."""

    name: str
    by_kind: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind, _ in self.by_kind)

    def symbols(self) -> tuple[str, ...]:
        """Every symbol in the pool, kind by kind."""
        return tuple(s for _, group in self.by_kind for s in group)

    def __len__(self) -> int:
        return sum(len(group) for _, group in self.by_kind)


def check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    if not kinds:
        raise SymtuneError("symbol kinds: empty; expected one or more of integer, letters, word")
    for kind in kinds:
        if kind not in KINDS:
            raise SymtuneError(
                f"symbol kind {kind!r} is unknown; expected one of {', '.join(KINDS)}"
            )
    return tuple(dict.fromkeys(kinds))


def _subset(pool: SymbolPool, max_symbols: int | None, seed: int) -> SymbolPool:
    """Keep a seeded random `max_symbols` of the pool, spread evenly over its kinds (ablation)."""
    if max_symbols is None or max_symbols >= len(pool):
        return pool
    if max_symbols < 2 * len(pool.kinds):
        raise SymtuneError(f"max_symbols={max_symbols}: expected at least {2 * len(pool.kinds)}")
    rng = random.Random(f"symbol-subset:{pool.name}:{seed}")
    per_kind, extra = divmod(max_symbols, len(pool.kinds))
    groups = []
    for i, (kind, group) in enumerate(pool.by_kind):
        keep = sorted(rng.sample(range(len(group)), per_kind + (1 if i < extra else 0)))
        groups.append((kind, tuple(group[j] for j in keep)))
    return SymbolPool(f"{pool.name}[{max_symbols}]", tuple(groups))


def tuning_pool(
    kinds: Sequence[str] = KINDS, max_symbols: int | None = None, seed: int = 0
) -> SymbolPool:
    """The ~30k tuning pool; `kinds` and `max_symbols` are the paper's ablation knobs."""
    return _tuning_pool(check_kinds(kinds), max_symbols, seed)


@cache
def _tuning_pool(kinds: tuple[str, ...], max_symbols: int | None, seed: int) -> SymbolPool:
    groups = tuple((k, _kind_symbols(k, 0, TUNING_SIZE_PER_KIND)) for k in kinds)
    return _subset(SymbolPool("tuning", groups), max_symbols, seed)


def eval_pool(kinds: Sequence[str] = KINDS) -> SymbolPool:
    """The ~270k evaluation pool, disjoint from the tuning pool."""
    return _eval_pool(check_kinds(kinds))


@cache
def _eval_pool(kinds: tuple[str, ...]) -> SymbolPool:
    groups = tuple((k, _kind_symbols(k, TUNING_SIZE_PER_KIND, EVAL_END_PER_KIND)) for k in kinds)
    return SymbolPool("eval", groups)


def draw_symbols(pool: SymbolPool, k: int, rng: random.Random) -> tuple[str, ...]:
    """k distinct symbols: for each label a kind uniformly at random, then a symbol of that kind."""
    if k > len(pool):
        raise SymtuneError(f"cannot draw {k} distinct symbols from a pool of {len(pool)}")
    chosen: list[str] = []
    while len(chosen) < k:
        _, group = pool.by_kind[rng.randrange(len(pool.by_kind))]
        symbol = group[rng.randrange(len(group))]
        if symbol not in chosen:
            chosen.append(symbol)
    return tuple(chosen)


def wordlist_record() -> dict[str, str]:
    """Provenance of the word lists, for manifests."""
    return {"package": "wordfreq", "version": version("wordfreq"), "lang": WORDFREQ_LANG}
