"""Hugging Face datasets (a hub id or a local dataset folder), read through `datasets` with no
loading script and no remote code, at a pinned revision, and checked: against the lock of what
was read before (`symtune.tasks.lock`), else against the split sizes its card publishes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.tasks.lock import (
    DatasetRecord,
    differences,
    lock_path,
    read_lock,
    source_key,
    write_record,
)
from symtune.tasks.spec import HFSource, TaskData, TaskSpec


def hub_unreachable() -> str | None:
    """Why the hub cannot be used now (None: it can): offline mode, or no connection to its
    host within 3 s (`datasets` would retry each dataset for ~25 s)."""
    import os

    from symtune.artifacts import hub_host_down

    if os.environ.get("HF_DATASETS_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return None  # datasets reads its cache, and fails at once for what is not there
    host = hub_host_down()
    return None if host is None else f"{host} cannot be reached (no network?)"


def check_hub(specs) -> None:
    """Before loading: when some tasks need the hub and it cannot be reached, one error
    listing every one of them, at once."""
    remote = [
        s for s in specs if isinstance(s.source, HFSource) and not Path(s.source.dataset).exists()
    ]
    why = hub_unreachable() if remote else None
    if why is not None:
        names = ", ".join(f"{s.name} ({describe(s.source)})" for s in remote)
        raise SymtuneError(
            f"{len(remote)} tasks need the Hugging Face hub, and {why}: {names}. Connect, or "
            "set HF_DATASETS_OFFLINE=1 over a cache that holds them, or point hf: at local copies"
        )


def describe(source: HFSource) -> str:
    """A dataset as a user would name it: id, config, data_dir, revision."""
    parts = [repr(source.dataset)]
    parts += [f"config {source.config!r}"] if source.config else []
    parts += [f"data_dir {source.data_dir!r}"] if source.data_dir else []
    parts += [f"revision {source.revision!r}"] if source.revision else []
    return " ".join(parts)


def why_not(spec: TaskSpec, err: BaseException) -> str:
    """One line on why a dataset could not be had, and what to do."""
    source = spec.source
    assert isinstance(source, HFSource)
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    where = f"task {spec.name}: dataset {describe(source)}"
    if "scripts are no longer supported" in text:
        script = text.rsplit(" ", 1)[-1]
        return (
            f"{where} is a loading script ({script}), which symtune never runs; name a parquet "
            "source instead (its revision refs/convert/parquet with data_dir, or a parquet copy)"
        )
    import os

    offline = os.environ.get("HF_DATASETS_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    if offline and (isinstance(err, ConnectionError) or "Couldn't reach" in text):
        return f"{where} is not in the datasets cache, and HF_DATASETS_OFFLINE is set"
    if isinstance(err, ConnectionError) or "Couldn't reach" in text or "offline" in text.lower():
        return (
            f"{where} cannot be reached (no network?): connect, or set HF_DATASETS_OFFLINE=1 "
            "over a cache that holds it, or point hf: at a local copy"
        )
    return f"{where} cannot be loaded ({text[:200]})"


def load_dataset(spec: TaskSpec, revision: str | None) -> tuple[Any, str]:
    """(DatasetDict, the revision read: the hub commit sha, or a local folder's hash)."""
    import datasets

    source = spec.source
    assert isinstance(source, HFSource)
    datasets.disable_progress_bars()  # symtune reports its own progress
    try:
        builder = datasets.load_dataset_builder(
            source.dataset, source.config, revision=revision, data_dir=source.data_dir
        )
        # a local folder is read afresh (datasets' cache would serve its earlier content);
        # a hub dataset's cache is keyed by the commit it was read at
        local = Path(source.dataset).is_dir()
        mode = "force_redownload" if local else "reuse_dataset_if_exists"
        builder.download_and_prepare(download_mode=mode, verification_mode="no_checks")
        return builder.as_dataset(), str(builder.hash or revision or "")
    except Exception as err:  # datasets raises many types; the user needs one line
        raise SymtuneError(why_not(spec, err)) from None


def label_names(dataset, field: str) -> list[str]:
    """The label field's ClassLabel names, else the raw values it holds (sorted)."""
    import datasets

    seen: set[str] = set()
    for part in dataset.values():
        feature = part.features.get(field)
        if isinstance(feature, datasets.ClassLabel):
            return list(feature.names)
        if field in part.column_names:
            seen.update(str(v) for v in part.unique(field))
    return sorted(seen)


def digested(rows, spec: TaskSpec, digest) -> Iterator[tuple[str, Any]]:
    """The (id, row) pairs unchanged, each fed on the way to `digest` as symtune reads it (id,
    input fields, raw label): the rows' sha256 without a second pass or a copy of the split."""
    source = spec.source
    assert isinstance(source, HFSource)
    for rid, row in rows:
        read = (rid, tuple(str(row.get(f)) for f in spec.input_fields))
        read += (str(row.get(source.label_field)),)
        digest.update(json.dumps(read, ensure_ascii=False).encode("utf-8") + b"\n")
        yield rid, row


def check_card(spec: TaskSpec, found: DatasetRecord) -> None:
    """Before a lock exists: the splits read have the sizes the dataset card publishes."""
    source = spec.source
    assert isinstance(source, HFSource)
    for split, size in source.card_splits:
        have = found.splits.get(split)
        if have is not None and have != size:
            raise SymtuneError(
                f"task {spec.name}: dataset {describe(source)} split {split!r} has {have:,} "
                f"rows; its card says {size:,} (another version? lock the one you want with "
                "`symtune fetch`)"
            )


def read_hf(spec: TaskSpec, revision: str | None):
    """(rows per split read, rows dropped, the record of what was read) of an HF task."""
    from symtune.tasks.rows import examples_from_rows

    source = spec.source
    assert isinstance(source, HFSource)
    dataset, read_at = load_dataset(spec, revision)
    label_map: dict[str, str] | None = dict(source.label_map) or None
    names = label_names(dataset, source.label_field)
    split_rows: dict[str, list[tuple[str, tuple[str, ...], str]]] = {}
    digests: dict[str, str] = {}
    dropped = 0
    for split in [s for s in (spec.exemplar_split, spec.query_split) if s is not None]:
        if split not in dataset:
            raise SymtuneError(
                f"task {spec.name}: dataset {describe(source)} has no split {split!r}; "
                f"it has {sorted(dataset)}"
            )
        part = dataset[split]
        mapping = label_map
        if mapping is None and names and _is_class_label(part, source.label_field):
            mapping = {str(i): name for i, name in enumerate(names)}
        digest = hashlib.sha256()
        pairs = digested(((str(i), row) for i, row in enumerate(part)), spec, digest)
        rows, n_dropped = examples_from_rows(pairs, spec, source.label_field, mapping)
        digests[split] = digest.hexdigest()
        split_rows[split] = rows
        dropped += n_dropped
    found = DatasetRecord(read_at, {s: len(dataset[s]) for s in dataset}, names, digests)
    return split_rows, dropped, found


def locked_record(spec: TaskSpec) -> tuple[Path | None, str, DatasetRecord | None]:
    """(the lock in use, the dataset's key in it, its record there)."""
    source = spec.source
    assert isinstance(source, HFSource)
    path = lock_path()
    key = source_key(source.dataset, source.config, source.data_dir)
    return path, key, read_lock(path).get(key) if path is not None else None


def load_hf(spec: TaskSpec) -> TaskData:
    """A Hugging Face dataset as a task: read at the locked revision when the lock has it
    (and refused when its rows changed), else at the spec's revision (then recorded in the
    lock, when one is in use)."""
    from symtune.tasks.rows import build_task

    source = spec.source
    assert isinstance(source, HFSource)
    path, key, locked = locked_record(spec)
    split_rows, dropped, found = read_hf(spec, locked.revision if locked else source.revision)
    if locked is not None:
        changes = differences(locked, found)
        if changes:
            raise SymtuneError(
                f"task {spec.name}: dataset {describe(source)} differs from its lock {path} "
                f"({'; '.join(changes)}); delete its record to accept the new version"
            )
    else:
        check_card(spec, found)
        if path is not None:
            write_record(path, key, found)
    return build_task(spec, split_rows, {"label_not_in_map": dropped} if dropped else {})


def dataset_status(spec: TaskSpec) -> tuple[str, str]:
    """Without writing anything: ("matching" | "changed" | "not locked" | "unreachable",
    what it is) for an HF task against the lock in use."""
    source = spec.source
    assert isinstance(source, HFSource)
    _, _, locked = locked_record(spec)
    try:
        _, _, found = read_hf(spec, locked.revision if locked else source.revision)
    except SymtuneError as err:
        return "unreachable", str(err)
    if locked is None:
        return "not locked", f"read at {found.revision[:12]}"
    changes = differences(locked, found)
    if changes:
        return "changed", "; ".join(changes)
    return "matching", f"at {locked.revision[:12]}"


def _is_class_label(part, field: str) -> bool:
    import datasets

    return isinstance(part.features.get(field), datasets.ClassLabel)
