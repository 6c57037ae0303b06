"""The scoring modes and what each means for an item and for its result record, in one place
(the runner, the summaries and the report ask the mode instead of branching on its name)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class Scored(Protocol):
    candidates: tuple[str, ...]


class ScoredItem(Protocol):
    """What the statistics read of an evaluation item (`evaluate.protocol.Item` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def candidates(self) -> tuple[str, ...]: ...
    @property
    def meta(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ScoringMode:
    name: str
    description: str
    classification_only: bool
    """Applies only to items with candidate labels (rank scoring ranks them)."""
    answer_field: str
    """The result field that holds the model's answer."""
    tracks_invalid: bool
    """Results say whether the answer is none of the labels (free generation can do that)."""

    def applies_to(self, item: Scored) -> bool:
        return bool(item.candidates) or not self.classification_only

    def answer(self, result: Mapping[str, Any]) -> str:
        return result[self.answer_field]


EXACT = ScoringMode("exact", "greedy generation, exact match", False, "output", True)
RANK = ScoringMode("rank", "the label with the highest log-likelihood", True, "prediction", False)
MODES: dict[str, ScoringMode] = {m.name: m for m in (EXACT, RANK)}
"""By name, in the order a report shows them."""


def first_mode(names) -> str:
    """The mode a report leads with among those present (exact before rank)."""
    present = list(names)
    return next((m for m in MODES if m in present), present[0])
