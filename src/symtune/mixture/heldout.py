"""Held-out validation prompts of the tuning side: symbol prompts (no instruction, labels as
tuning symbols, the "neither" setting) whose queries come from each tuning task's validation
split and whose exemplars come from its training split. They are built with the mixture,
written beside its shards, and scored during tuning (`tune --val-every`) to pick a checkpoint
without looking at any evaluation task."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symtune.io import atomic_write
from symtune.prompts.build import Prompt, tuning_prompt
from symtune.prompts.lengths import TokenCounter
from symtune.prompts.symbols import SymbolPool
from symtune.tasks.spec import TaskData

VALIDATION_FILE = "validation.jsonl"


def validation_prompts(
    tasks: Sequence[TaskData],
    count: int,
    seed: int,
    pool: SymbolPool,
    min_per_class: int,
    max_per_class: int,
    budget: int | None = None,
    counter: TokenCounter | None = None,
    max_classes: int = 0,
) -> list[Prompt]:
    """`count` prompts, tasks taking turns, each task's validation queries in a seeded order
    (cycling when a task has fewer); prompts that cannot fit `budget` are skipped."""
    from symtune.prompts.build import rng_for

    usable = [t for t in tasks if t.splits.get("validation")]
    orders = {
        t.name: rng_for(seed, "validation-order", t.name).sample(
            range(len(t.splits["validation"])), len(t.splits["validation"])
        )
        for t in usable
    }
    prompts: list[Prompt] = []
    for i in range(count * 2 if usable else 0):  # room for skipped (too long) prompts
        if len(prompts) == count:
            break
        task = usable[i % len(usable)]
        order = orders[task.name]
        query = task.splits["validation"][order[(i // len(usable)) % len(order)]]
        prompt = tuning_prompt(
            task,
            query,
            pool,
            f"{seed}:validation:{i}",
            min_per_class,
            max_per_class,
            budget=budget,
            counter=counter,
            max_classes=max_classes,
        )
        if prompt is not None:
            prompts.append(prompt)
    return prompts


def write_validation(out: Path, prompts: Sequence[Prompt]) -> dict[str, Any]:
    """validation.jsonl in the mixture folder, and its manifest record."""
    text = "".join(
        json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for p in prompts
    )
    atomic_write(out / VALIDATION_FILE, text)
    by_task: dict[str, int] = {}
    for prompt in prompts:
        by_task[prompt.meta.task] = by_task.get(prompt.meta.task, 0) + 1
    return {
        "file": VALIDATION_FILE,
        "prompts": len(prompts),
        "by_task": dict(sorted(by_task.items())),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
