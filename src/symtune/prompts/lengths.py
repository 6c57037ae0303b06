"""The length policy: bounds on a prompt's token count from pieces tokenized once and cached,
and which exemplars to drop so that a prompt fits its budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from symtune.prompts.formats import PAIR_SEPARATOR, Format

if TYPE_CHECKING:
    from symtune.tasks.spec import Example


class TokenCounter:
    """Upper bounds on token counts from pieces tokenized once and cached.

    A prompt's count is bounded by the sum of its pieces counted separately (instruction,
    input prefix, input text, separator + output prefix, " " + answer, pair separator) plus
    one token per block: joint tokenization mostly merges across piece boundaries, but a
    byte-level pre-tokenizer splits "\n\n" before a word into two tokens where it alone is one.
    The real tokenizer never exceeds this bound (tested), so a prompt whose bound fits the
    budget fits it. Input texts are tokenized once per example."""

    def __init__(self, count: Callable[[str], int]):
        self.count = count
        self._cache: dict[str, int] = {}

    def prime(self, texts: Sequence[str]) -> None:
        """Count many texts at once (batched when the count function offers `.many`)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        many = getattr(self.count, "many", None)
        counts = many(todo) if many is not None else [self.count(t) for t in todo]
        self._cache.update(zip(todo, counts, strict=True))

    def __call__(self, text: str) -> int:
        found = self._cache.get(text)
        if found is None:
            if len(self._cache) > 2_000_000:
                self._cache.clear()
            found = self._cache[text] = self.count(text)
        return found

    def pair(self, fmt: Format, text: str, answer: str) -> int:
        """Bound for one exemplar block, pair separator included."""
        return (
            self(fmt.input_prefix)
            + self(text)
            + self(fmt.separator + fmt.output_prefix)
            + self(" " + answer)
            + self(PAIR_SEPARATOR)
            + 1
        )

    def fixed(self, fmt: Format, instruction: str, query_text: str, answer: str) -> int:
        """Bound for everything but the exemplars: instruction, query, target and EOS."""
        head = self(instruction + PAIR_SEPARATOR) + 1 if instruction else 0
        return (
            head
            + self(fmt.input_prefix)
            + self(query_text)
            + self(fmt.separator + fmt.output_prefix)
            + self(" " + answer)
            + 1
        )


def fit_exemplars(
    exemplars: Sequence[Example], costs: Sequence[int], fixed: int, budget: int
) -> tuple[list[Example], int] | None:
    """Drop exemplars until `fixed + sum(costs)` fits `budget`; (kept, dropped) or None.

    Drops from the class that has the most exemplars (its latest exemplar first), keeping at
    least one per class; the query and target are never truncated."""
    kept = list(zip(exemplars, costs, strict=True))
    total = fixed + sum(costs)
    dropped = 0
    while total > budget:
        counts: dict[int, int] = {}
        for e, _ in kept:
            counts[e.label] = counts.get(e.label, 0) + 1
        label, most = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if most <= 1:
            return None
        victim = max(i for i, (e, _) in enumerate(kept) if e.label == label)
        total -= kept[victim][1]
        del kept[victim]
        dropped += 1
    return [e for e, _ in kept], dropped
