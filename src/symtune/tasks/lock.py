"""A lock of the Hugging Face datasets a project read (pip's hash-checking and TFDS's recorded
checksums, for datasets): per dataset, the commit it was read at, its split names and sizes,
its label names and a sha256 of the rows symtune reads. Later loads read that commit and
refuse rows that differ, naming the dataset and what changed.

The lock is `$SYMTUNE_LOCK`, else `symtune.lock.json` in the working directory when that file
exists (`symtune fetch --suite S` makes it); without one, nothing is recorded. Pure functions
over plain data, with the file's reading and writing at the edges."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError

LOCK_NAME = "symtune.lock.json"
LOCK_VERSION = 1


@dataclass(frozen=True)
class DatasetRecord:
    """What was read of one dataset (one `HFSource`: id, config, data_dir)."""

    revision: str
    """The commit the rows came from (a hub commit sha; for a local folder, its content hash)."""
    splits: dict[str, int]
    """Every split the dataset has, with its number of rows."""
    labels: list[str]
    """The label field's class names (ClassLabel), else the raw values seen, sorted."""
    rows_sha256: dict[str, str]
    """Per split symtune reads, sha256 of its rows (ids, input fields, raw labels, in order)."""


def lock_path() -> Path | None:
    """The lock in use: $SYMTUNE_LOCK, else ./symtune.lock.json if it exists, else none."""
    named = os.environ.get("SYMTUNE_LOCK", "").strip()
    if named:
        return Path(named)
    here = Path(LOCK_NAME)
    return here if here.is_file() else None


def source_key(dataset: str, config: str | None, data_dir: str | None) -> str:
    """How a dataset is named in the lock: id, then config and data_dir where set."""
    return "|".join([dataset, config or "", data_dir or ""])


def read_lock(path: Path) -> dict[str, DatasetRecord]:
    """The records of a lock file (none when it does not exist); a malformed one is one line
    naming the file and the field."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SymtuneError(f"lock {path}: not a readable JSON file ({err})") from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        raise SymtuneError(f"lock {path}: field 'version' must be {LOCK_VERSION}")
    datasets = data.get("datasets")
    if not isinstance(datasets, dict):
        raise SymtuneError(f"lock {path}: field 'datasets' must be a mapping")
    return {key: _record(path, key, value) for key, value in datasets.items()}


def _record(path: Path, key: str, value: Any) -> DatasetRecord:
    where = f"lock {path}: dataset {key!r}"
    if not isinstance(value, dict):
        raise SymtuneError(f"{where}: expected a mapping")
    checks = {
        "revision": lambda v: isinstance(v, str) and bool(v),
        "splits": lambda v: (
            isinstance(v, dict)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in v.values())
        ),
        "labels": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "rows_sha256": lambda v: (
            isinstance(v, dict) and all(isinstance(h, str) and len(h) == 64 for h in v.values())
        ),
    }
    for field_name, ok in checks.items():
        if field_name not in value or not ok(value[field_name]):
            raise SymtuneError(f"{where}: field {field_name!r} is missing or malformed")
    return DatasetRecord(**{k: value[k] for k in checks})


def write_record(path: Path, key: str, record: DatasetRecord) -> None:
    """Add or replace one dataset's record (atomic; the other records kept)."""
    from symtune.io import atomic_json

    records = read_lock(path)
    if key in records:  # another task read other splits of the same dataset: keep both
        record = DatasetRecord(
            record.revision,
            record.splits,
            record.labels,
            {**records[key].rows_sha256, **record.rows_sha256},
        )
    records[key] = record
    data = {
        "version": LOCK_VERSION,
        "datasets": {k: asdict(v) for k, v in sorted(records.items())},
    }
    atomic_json(path, data)


def differences(locked: DatasetRecord, found: DatasetRecord) -> list[str]:
    """What changed between the locked record and what was read (empty: the same)."""
    changes = []
    for split in sorted(set(locked.splits) | set(found.splits)):
        before, now = locked.splits.get(split), found.splits.get(split)
        if before is None:
            changes.append(f"split {split!r} added")
        elif now is None:
            changes.append(f"split {split!r} removed")
        elif before != now:
            change = "added" if now > before else "removed"
            changes.append(f"split {split!r}: {abs(now - before):,} rows {change}")
    if locked.labels != found.labels:
        changes.append(f"labels {locked.labels} are now {found.labels}")
    if not changes:
        both = sorted(set(locked.rows_sha256) & set(found.rows_sha256))
        changed = [s for s in both if locked.rows_sha256[s] != found.rows_sha256[s]]
        changes += [f"split {s!r}: rows changed (same size and labels)" for s in changed]
    return changes
