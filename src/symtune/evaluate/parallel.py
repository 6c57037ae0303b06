"""Data-parallel evaluation under `accelerate launch`/`torchrun`: the items are split across the
processes by (group, task) — whole units, so every batch is formed as in one process — each
rank scores its share into its own per-item cache, and rank 0 merges the caches into the one
results.json a single process would write (the cache files: `store`). A rerun with any number
of processes reuses every cached result (each rank reads the others' files, read-only)."""

from __future__ import annotations

from collections.abc import Sequence

from symtune.evaluate.protocol import Item


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
