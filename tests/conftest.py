"""Shared fixtures: tiny hand-made tasks so data-side tests need no artifacts."""

from __future__ import annotations

import pytest

from symtune.tasks import Example, LocalSource, TaskData, TaskSpec


def make_task(
    name: str = "toy",
    labels: tuple[str, ...] = ("good", "bad"),
    per_class: int = 12,
    validation_per_class: int = 3,
    instruction: str = "Judge the review.",
) -> TaskData:
    """A task with `per_class` train and `validation_per_class` validation examples per label;
    example ids are "t<label>-<i>" and "v<label>-<i>", texts say which they are."""
    spec = TaskSpec(name=name, source=LocalSource("unused.jsonl"), instruction=instruction)
    train = tuple(
        Example(f"t{c}-{i}", (f"{labels[c]} text {i}",), c)
        for i in range(per_class)
        for c in range(len(labels))
    )
    validation = tuple(
        Example(f"v{c}-{i}", (f"held {labels[c]} {i}",), c)
        for i in range(validation_per_class)
        for c in range(len(labels))
    )
    return TaskData(spec, labels, {"train": train, "validation": validation})


@pytest.fixture
def toy() -> TaskData:
    return make_task()
