"""Loaders: BIG-Bench JSON (the user's verified copy), Hugging Face `datasets`, local CSV/JSONL
files. Each returns a `TaskData` with "train" and "validation" splits."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.tasks.spec import (
    BigBenchSource,
    Example,
    FamilySource,
    HFSource,
    LocalSource,
    TaskData,
    TaskSpec,
)

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


def _read_field(row: Mapping[str, Any], name: str, task: str, row_id: str) -> str:
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
        raw = _read_field(row, label_field, spec.name, row_id).strip()
        if not raw:
            raise SymtuneError(f"task {spec.name}: example {row_id} field {label_field!r} is empty")
        if label_map is not None:
            if raw not in label_map:
                dropped += 1
                continue
            raw = label_map[raw]
        inputs = tuple(_read_field(row, f, spec.name, row_id) for f in spec.input_fields)
        if not any(s.strip() for s in inputs):
            raise SymtuneError(
                f"task {spec.name}: example {row_id} has empty input fields "
                f"{list(spec.input_fields)}"
            )
        out.append((row_id, inputs, raw))
    return out, dropped


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
            train, len(labels), spec.name, validation_share=spec.validation_share
        )
    else:
        if spec.query_split not in split_rows:
            raise SymtuneError(f"task {spec.name}: split {spec.query_split!r} not found")
        validation = convert(split_rows[spec.query_split])
    if len(labels) < 2:
        raise SymtuneError(f"task {spec.name}: found labels {labels}; expected at least 2")
    return TaskData(spec, tuple(labels), {"train": train, "validation": validation}, notes)


def load_bigbench(spec: TaskSpec, tasks_dir: Path) -> TaskData:
    """A BIG-Bench classification task: each example's label is its single highest-scoring
    option; examples with a tie for the highest score are dropped (counted in notes)."""
    assert isinstance(spec.source, BigBenchSource)
    path = tasks_dir / spec.source.path / "task.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SymtuneError(f"task {spec.name}: {path} not found") from None
    except json.JSONDecodeError as err:
        raise SymtuneError(f"task {spec.name}: {path} is not valid JSON ({err})") from None
    rows: list[tuple[str, tuple[str, ...], str]] = []
    ties = 0
    for i, example in enumerate(data.get("examples", [])):
        scores = example.get("target_scores")
        if not isinstance(scores, dict) or not scores:
            raise SymtuneError(
                f"task {spec.name}: example {i} has no 'target_scores'; "
                "expected a classification task"
            )
        best = max(scores.values())
        winners = [name for name, score in scores.items() if score == best]
        if len(winners) != 1:
            ties += 1
            continue
        inputs = tuple(_read_field(example, f, spec.name, str(i)) for f in spec.input_fields)
        rows.append((str(i), inputs, winners[0]))
    return build_task(
        spec, {spec.exemplar_split: rows}, {"tied_target_scores": ties} if ties else {}
    )


def _read_local(path: Path, task: str) -> list[tuple[str, dict[str, Any]]]:
    if not path.exists():
        raise SymtuneError(f"task {task}: file {path} not found")
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [(str(i), dict(row)) for i, row in enumerate(csv.DictReader(handle))]
    if path.suffix in (".jsonl", ".json"):
        rows = []
        with path.open(encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise SymtuneError(f"{path}:{line_no}: not valid JSON") from None
                if not isinstance(row, dict):
                    raise SymtuneError(
                        f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}"
                    )
                rows.append((str(line_no), row))
        return rows
    raise SymtuneError(
        f"task {task}: file {path} has suffix {path.suffix!r}; expected .csv or .jsonl"
    )


def check_local_files(specs: Iterable[TaskSpec]) -> None:
    """Every file the local tasks among `specs` read exists: checked before a run writes."""
    for spec in specs:
        source = spec.source
        if not isinstance(source, LocalSource):
            continue
        splits = [s for s in (spec.exemplar_split, spec.query_split) if s is not None]
        for split in splits if "{split}" in source.path else [None]:
            path = Path(source.path.replace("{split}", split) if split else source.path)
            if not path.is_file():
                raise SymtuneError(f"task {spec.name}: file {path} not found")


def load_local(spec: TaskSpec) -> TaskData:
    """A local CSV/JSONL file; with `{split}` in the path, one file per split."""
    source = spec.source
    assert isinstance(source, LocalSource)
    splits = [s for s in (spec.exemplar_split, spec.query_split) if s is not None]
    if "{split}" not in source.path:
        splits = [spec.exemplar_split]
        spec = dataclasses.replace(spec, query_split=None)
    split_rows = {}
    for split in splits:
        path = Path(source.path.replace("{split}", split))
        rows, _ = examples_from_rows(_read_local(path, spec.name), spec, source.label_field)
        split_rows[split] = rows
    return build_task(spec, split_rows, {})


def load_task(spec: TaskSpec, bigbench_dir: Path | None = None) -> TaskData:
    """Load any task spec; BIG-Bench tasks need the extracted tasks directory."""
    if isinstance(spec.source, BigBenchSource):
        if bigbench_dir is None:
            from symtune.tasks import bigbench

            bigbench_dir = bigbench.tasks_dir([spec.source.path], f"task {spec.name!r}")
        return load_bigbench(spec, bigbench_dir)
    if isinstance(spec.source, HFSource):
        from symtune.tasks.hub import load_hf

        return load_hf(spec)
    if isinstance(spec.source, FamilySource):
        from symtune.tasks.families import load_family

        return load_family(spec)
    return load_local(spec)
