"""How a tuning mixture is built: one dataclass, validated once, errors naming the field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from symtune.errors import SymtuneError
from symtune.models.registry import DEFAULT_MODEL
from symtune.prompts.symbols import check_kinds
from symtune.schema import non_finite

MAX_PROMPTS = 1_000_000
"""Most prompts in one mixture (the paper's is 128k: 4,000 steps of 32); it is built in memory."""
MAX_VAL_PROMPTS = 10_000
"""Most validation prompts: all are scored at every validation, held in memory."""


@dataclass(frozen=True)
class MixtureConfig:
    """How a tuning mixture is built."""

    tasks: tuple[str, ...]
    """Task names (the suite's tuning pool)."""
    n: int = 50_000
    """Number of prompts."""
    seed: int = 0
    """Seed for every random choice (tasks, queries, exemplars, formats, symbols)."""
    cap: int = 25_000
    """At most this many training examples per task (a seeded random subset)."""
    weights: tuple[tuple[str, float], ...] = ()
    """Sampling weight per task; empty: proportional to each task's capped size."""
    min_per_class: int = 2
    """Fewest exemplars per class in a prompt."""
    max_per_class: int = 10
    """Most exemplars per class in a prompt."""
    relevant_ratio: float = 0.0
    """Share of prompts that keep relevant labels and the instruction (the paper's remedy)."""
    max_tokens: int | None = 2048
    """Token budget per prompt (prompt + target + EOS); None: no length policy."""
    tokenizer: str = DEFAULT_MODEL
    """The tokenizer that counts the token budget."""
    symbol_kinds: tuple[str, ...] = ("integer", "letters", "word")
    """Kinds of tuning symbols: integer, letters, word."""
    max_symbols: int | None = None
    """Ablation: use only this many distinct tuning symbols."""
    shard_size: int = 10_000
    """Prompts per JSONL shard."""
    suite: str = ""
    """The suite the tasks came from (recorded)."""
    val_prompts: int = 0
    """Held-out validation prompts (tuning tasks' validation splits, symbols, no instruction)
    written to validation.jsonl for `tune --val-every`; 0: none."""
    max_classes: int = 0
    """0: every prompt shows all of its task's classes. N >= 2: a prompt of a task with more
    than two classes shows a random 2..N of them (the query's among them), so that tasks with
    many classes yield many label sets."""

    def validate(self) -> None:
        """Raise a one-line error naming every bad field (then the first of the checks that
        depend on others)."""
        if problems := non_finite(self):
            raise SymtuneError("mixture config: " + "; ".join(problems))
        checks = [
            (1 <= self.n <= MAX_PROMPTS, "n", self.n, f"1 to {MAX_PROMPTS:,} prompts"),
            (self.cap >= 1, "cap", self.cap, "a positive per-task cap"),
            (
                2 <= self.min_per_class <= self.max_per_class,
                "min_per_class/max_per_class",
                f"{self.min_per_class}/{self.max_per_class}",
                "2 <= min <= max",
            ),
            (
                0.0 <= self.relevant_ratio <= 1.0,
                "relevant_ratio",
                self.relevant_ratio,
                "a share between 0 and 1",
            ),
            (
                self.max_tokens is None or self.max_tokens >= 16,
                "max_tokens",
                self.max_tokens,
                "at least 16 tokens",
            ),
            (self.shard_size >= 1, "shard_size", self.shard_size, "a positive shard size"),
            (
                0 <= self.val_prompts <= MAX_VAL_PROMPTS,
                "val_prompts",
                self.val_prompts,
                f"0 to {MAX_VAL_PROMPTS:,} prompts",
            ),
            (
                self.max_classes == 0 or self.max_classes >= 2,
                "max_classes",
                self.max_classes,
                "0 (all classes) or at least 2",
            ),
            (bool(self.tasks), "tasks", list(self.tasks), "at least one task"),
            (
                self.max_symbols is None or self.max_symbols >= 2,
                "max_symbols",
                self.max_symbols,
                "at least 2 symbols",
            ),
        ]
        bad = [
            f"{name}={value}; expected {expected}" for ok, name, value, expected in checks if not ok
        ]
        if bad:  # every bad field at once, in one line
            raise SymtuneError("mixture config: " + "; ".join(bad))
        try:
            check_kinds(self.symbol_kinds)
        except SymtuneError as err:
            raise SymtuneError(f"mixture config: {err}") from None
        unknown = [t for t, _ in self.weights if t not in self.tasks]
        if unknown:
            raise SymtuneError(
                f"mixture config: weights name task {unknown[0]!r} not in the mixture"
            )
        bad = [(t, w) for t, w in self.weights if not w >= 0]
        if bad:
            raise SymtuneError(
                f"mixture config: weight of {bad[0][0]!r} is {bad[0][1]}; expected >= 0"
            )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["weights"] = dict(self.weights)
        for name in ("val_prompts", "max_classes"):  # absent when off, as in mixtures
            if not data[name]:  # built before they existed
                del data[name]
        return data
