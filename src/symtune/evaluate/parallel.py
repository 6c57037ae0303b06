"""Data-parallel evaluation under `accelerate launch`/`torchrun`: the items are split across the
processes by (group, task) — whole units, so every batch is formed as in one process — each
rank scores its share into its own per-item cache, and rank 0 merges the caches into the one
results.json a single process would write. A rerun with any number of processes reuses every
cached result (each rank reads the others' files, read-only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symtune.evaluate.protocol import Item
from symtune.evaluate.runner import results_from
from symtune.io import read_jsonl


def share(items: Sequence[Item], rank: int, world: int) -> list[Item]:
    """Rank `rank`'s items of `world`: the (group, task) units in order of first appearance,
    dealt round-robin, largest first (so the shares are about equal)."""
    if world == 1:
        return list(items)
    sizes: dict[tuple[str, str], int] = {}
    for item in items:
        sizes[(item.group, item.task)] = sizes.get((item.group, item.task), 0) + 1
    order = sorted(sizes, key=lambda unit: -sizes[unit])  # stable: ties keep first appearance
    mine = {unit for k, unit in enumerate(order) if k % world == rank}
    return [i for i in items if (i.group, i.task) in mine]


def cache_path(out: Path, label: str, rank: int) -> Path:
    """Rank 0's (and a single process's) cache is cache/LABEL.jsonl; rank r's LABEL@r.jsonl."""
    name = f"{label}.jsonl" if rank == 0 else f"{label}@{rank}.jsonl"
    return out / "cache" / name


def cache_files(out: Path, label: str) -> list[Path]:
    """Every cache file of `label`, whichever ranks wrote them."""
    found = [out / "cache" / f"{label}.jsonl", *sorted((out / "cache").glob(f"{label}@*.jsonl"))]
    return [p for p in found if p.exists()]


def cached(out: Path, label: str, skip: Path | None = None) -> dict[str, dict[str, Any]]:
    """The results in `label`'s cache files but `skip` (read-only: a torn last line of a
    file another rank is appending to is left out, never cut)."""
    done: dict[str, dict[str, Any]] = {}
    for path in cache_files(out, label):
        if path == skip:
            continue
        for record in read_jsonl(path):
            if isinstance(record.get("key"), str) and isinstance(record.get("result"), dict):
                done.setdefault(record["key"], record["result"])
    return done


def merged(
    out: Path, label: str, items: Sequence[Item], scoring: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Every item's results for `label`, from all ranks' caches (what one process returns)."""
    return results_from(items, scoring, cached(out, label))
