"""Loaders: BIG-Bench JSON (the user's verified copy), Hugging Face `datasets` (`tasks.hub`),
local CSV/JSONL files. Each returns a `TaskData` with "train" and "validation" splits."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.io import check_input_file
from symtune.tasks.rows import build_task, examples_from_rows, read_field
from symtune.tasks.spec import (
    BigBenchSource,
    FamilySource,
    HFSource,
    LocalSource,
    TaskData,
    TaskSpec,
)

MAX_DATA_FILE_BYTES = 1 << 30
"""Largest local data file (CSV/JSONL) read: it is held in memory whole."""


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
        inputs = tuple(read_field(example, f, spec.name, str(i)) for f in spec.input_fields)
        rows.append((str(i), inputs, winners[0]))
    return build_task(
        spec, {spec.exemplar_split: rows}, {"tied_target_scores": ties} if ties else {}
    )


def _text(path: Path, task: str) -> str:
    """A local data file's text: a regular file of at most MAX_DATA_FILE_BYTES, UTF-8 (a
    byte that is not is named by line)."""
    if path.suffix not in (".csv", ".jsonl", ".json"):
        raise SymtuneError(
            f"task {task}: file {path} has suffix {path.suffix!r}; expected .csv or .jsonl"
        )
    check_input_file(path, f"task {task}: file", MAX_DATA_FILE_BYTES)
    with path.open("rb") as handle:
        raw = handle.read(MAX_DATA_FILE_BYTES + 1)
    if len(raw) > MAX_DATA_FILE_BYTES:
        raise SymtuneError(f"task {task}: file {path} grew past {MAX_DATA_FILE_BYTES:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SymtuneError(
            f"{path}:{line}: byte 0x{raw[err.start]:02x} is not UTF-8; save the file as UTF-8"
        ) from None


def _read_local(path: Path, task: str) -> list[tuple[str, dict[str, Any]]]:
    text = _text(path, task)
    if path.suffix == ".csv":
        handle = io.StringIO(text, newline="")
        return [(str(i), dict(row)) for i, row in enumerate(csv.DictReader(handle))]
    if path.suffix in (".jsonl", ".json"):
        rows = []
        for line_no, line in enumerate(text.split("\n"), 1):
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
    raise AssertionError(path.suffix)  # `_text` refused any other suffix


def check_local_files(specs: Iterable[TaskSpec]) -> None:
    """Every file the local tasks among `specs` read exists: checked before a run writes."""
    for spec in specs:
        source = spec.source
        if not isinstance(source, LocalSource):
            continue
        splits = [s for s in (spec.exemplar_split, spec.query_split) if s is not None]
        for split in splits if "{split}" in source.path else [None]:
            path = Path(source.path.replace("{split}", split) if split else source.path)
            check_input_file(path, f"task {spec.name}: file", MAX_DATA_FILE_BYTES)


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
