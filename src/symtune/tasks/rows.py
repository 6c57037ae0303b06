"""Rows to a task, the pure core every loader shares: raw rows with their label values become
named-label examples (`examples_from_rows`), then a `TaskData` with a train and a validation
split (`build_task`, with `seeded_split` where the source has no validation split)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from symtune.errors import SymtuneError
from symtune.tasks.spec import Example, TaskData, TaskSpec

SPLIT_SEED = "symtune-split-v1"
MIN_TRAIN_PER_CLASS = 10
MAX_VALIDATION = 200


def seeded_split(
    examples: Sequence[Example],
    n_labels: int,
    task: str,
    min_train_per_class: int = MIN_TRAIN_PER_CLASS,
    max_validation: int = MAX_VALIDATION,
    validation_share: float = 1.0,
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """Split a task with no validation split, stratified by class and seeded by the task name.

    Each class c with n_c examples sends min(n_c - 10, ceil(200 * n_c / n),
    floor(share * n_c)) of them (never fewer than 0) to validation: validation holds about 200
    queries at most, train keeps at least 10 exemplars per class, and tuning tasks (share 0.2)
    keep most of their data. Order within each split follows the original order.
    """
    rng = random.Random(f"{SPLIT_SEED}:{task}")
    groups: list[list[int]] = [[] for _ in range(n_labels)]
    for i, example in enumerate(examples):
        groups[example.label].append(i)
    total = len(examples)
    validation: set[int] = set()
    for members in groups:
        size = len(members)
        take = max(
            0,
            min(
                size - min_train_per_class,
                math.ceil(max_validation * size / total),
                math.floor(validation_share * size),
            ),
        )
        validation.update(rng.sample(members, take))
    train = tuple(e for i, e in enumerate(examples) if i not in validation)
    val = tuple(e for i, e in enumerate(examples) if i in validation)
    return train, val


def _label_order(seen: Iterable[str], declared: tuple[str, ...] | None, task: str) -> list[str]:
    if declared is None:
        return list(dict.fromkeys(seen))
    unknown = [s for s in dict.fromkeys(seen) if s not in declared]
    if unknown:
        raise SymtuneError(
            f"task {task}: label {unknown[0]!r} is not among the declared labels {list(declared)}"
        )
    return list(declared)


def read_field(row: Mapping[str, Any], name: str, task: str, row_id: str) -> str:
    if name not in row:
        raise SymtuneError(
            f"task {task}: example {row_id} has no field {name!r}; it has {sorted(row)}"
        )
    value = row[name]
    return "" if value is None else str(value).strip()


def examples_from_rows(
    rows: Iterable[tuple[str, Mapping[str, Any]]],
    spec: TaskSpec,
    label_field: str,
    label_map: Mapping[str, str] | None = None,
) -> tuple[list[tuple[str, tuple[str, ...], str]], int]:
    """(id, inputs, label name) per row; rows whose label is outside `label_map` are dropped.
    Returns the rows and how many were dropped."""
    out = []
    dropped = 0
    for row_id, row in rows:
        raw = read_field(row, label_field, spec.name, row_id).strip()
        if not raw:
            raise SymtuneError(f"task {spec.name}: example {row_id} field {label_field!r} is empty")
        if label_map is not None:
            if raw not in label_map:
                dropped += 1
                continue
            raw = label_map[raw]
        inputs = tuple(read_field(row, f, spec.name, row_id) for f in spec.input_fields)
        if not any(s.strip() for s in inputs):
            raise SymtuneError(
                f"task {spec.name}: example {row_id} has empty input fields "
                f"{list(spec.input_fields)}"
            )
        out.append((row_id, inputs, raw))
    return out, dropped


MAX_LABEL = 200
"""Longest label name, in characters (a label is scored as the answer of a prompt)."""


def build_task(
    spec: TaskSpec,
    split_rows: Mapping[str, list[tuple[str, tuple[str, ...], str]]],
    notes: dict[str, int],
) -> TaskData:
    """Assemble TaskData from named-label rows of the spec's exemplar (and query) split."""
    seen = (label for rows in split_rows.values() for _, _, label in rows)
    labels = _label_order(seen, spec.labels, spec.name)
    index = {name: i for i, name in enumerate(labels)}

    def convert(rows: list[tuple[str, tuple[str, ...], str]]) -> tuple[Example, ...]:
        return tuple(Example(rid, inputs, index[label]) for rid, inputs, label in rows)

    if not split_rows.get(spec.exemplar_split):
        raise SymtuneError(f"task {spec.name}: split {spec.exemplar_split!r} has no examples")
    train = convert(split_rows[spec.exemplar_split])
    if spec.query_split is None:
        train, validation = seeded_split(
            train,
            len(labels),
            spec.name,
            min_train_per_class=spec.min_exemplars_per_class,
            validation_share=spec.validation_share,
        )
    else:
        if spec.query_split not in split_rows:
            raise SymtuneError(f"task {spec.name}: split {spec.query_split!r} not found")
        validation = convert(split_rows[spec.query_split])
    if len(labels) < 2:
        raise SymtuneError(f"task {spec.name}: found labels {labels}; expected at least 2")
    for label in labels:  # a label is the answer line of a prompt
        if not label.strip() or any(c in label for c in "\n\r") or len(label) > MAX_LABEL:
            raise SymtuneError(
                f"task {spec.name}: label {label[:60]!r}{'…' if len(label) > 60 else ''}; "
                f"expected one line of 1 to {MAX_LABEL} characters"
            )
    return TaskData(spec, tuple(labels), {"train": train, "validation": validation}, notes)
