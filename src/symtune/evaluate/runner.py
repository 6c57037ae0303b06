"""Scoring items with a model, with a per-example cache on disk so an interrupted evaluation
continues where it stopped."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from symtune.analysis.modes import RANK
from symtune.errors import SymtuneError
from symtune.evaluate import tree
from symtune.evaluate.protocol import Item
from symtune.evaluate.scoring import Scorer
from symtune.evaluate.shared import Query, score_set
from symtune.io import repair_jsonl


class ResultCache:
    """Append-only JSONL of {"key", "result"}; a torn last line (a kill mid-write) is cut off
    before appending; any other damage is a one-line error naming the file and line."""

    def __init__(self, path: Path, known: dict[str, dict[str, Any]] | None = None):
        """`known`: results found elsewhere (other ranks' caches), reused, never rewritten."""
        self.path = path
        self.done: dict[str, dict[str, Any]] = dict(known or {})
        for number, record in enumerate(repair_jsonl(path), 1):
            if not isinstance(record.get("key"), str) or not isinstance(record.get("result"), dict):
                raise SymtuneError(f"{path}: record {number} is not a cached result (damaged?)")
            self.done[record["key"]] = record["result"]
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("a", encoding="utf-8")

    def add(self, key: str, result: dict[str, Any]) -> None:
        self.done[key] = result
        self._handle.write(json.dumps({"key": key, "result": result}) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def exact_result(item: Item, output: str) -> dict[str, Any]:
    """Exact match of the stripped greedy output; invalid: a classification output that is
    none of the labels."""
    correct = output == item.answer.strip()
    invalid = bool(item.candidates) and output not in {c.strip() for c in item.candidates}
    return {"output": output, "correct": correct, "invalid": invalid}


def rank_result(item: Item, scores: Sequence[float]) -> dict[str, Any]:
    """The highest-scoring candidate is the prediction."""
    best = max(range(len(scores)), key=lambda i: scores[i])
    return {
        "scores": [round(s, 6) for s in scores],
        "prediction": item.candidates[best],
        "correct": item.candidates[best] == item.answer,
    }


def score_items(
    items: Sequence[Item],
    scorer: Scorer,
    scoring: Sequence[str],
    cache: ResultCache,
    progress: Callable[[Item, str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Results per item id and scoring mode ("exact", "rank"); rank applies to classification
    items only. On a CPU, classification items are scored in batches through `score_set` (a
    shared exemplar set, or prompts of one group, task and seed side by side: rank scores,
    greedy by verification, the rest decoded together); on a GPU, rank scoring packs many
    prompts per forward. Other generation is batched over items of one group and task."""
    batch: list[Item] = []

    def flush() -> None:
        outputs = scorer.generate(
            [scorer.generate_request(i.context, i.max_new_tokens) for i in batch]
        )
        for item, output in zip(batch, outputs, strict=True):
            cache.add(f"exact|{item.id}", exact_result(item, output))
            if progress is not None:
                progress(item, "exact")
        batch.clear()

    if scorer.pack_tokens and "rank" in scoring:  # many prompts per forward (GPU)
        _rank_packed(items, scorer, cache, progress)
    per_item = items
    if not scorer.pack_tokens:  # tree rows, or batches through a shared prefix (sets)
        in_sets = _score_sets(items, scorer, scoring, cache, progress)
        per_item = [i for i in items if i.id not in in_sets]
    for item in per_item:
        if "rank" in scoring and RANK.applies_to(item):
            key = f"rank|{item.id}"
            if key not in cache.done:
                scores = scorer.loglikelihood(scorer.rank_request(item.context, item.candidates))
                cache.add(key, rank_result(item, scores))
            if progress is not None and not scorer.pack_tokens:  # packed: counted there
                progress(item, "rank")
        if "exact" in scoring:
            if f"exact|{item.id}" in cache.done:
                if progress is not None:
                    progress(item, "exact")
                continue
            if batch and (batch[0].group, batch[0].task) != (item.group, item.task):
                flush()
            batch.append(item)
            if len(batch) >= scorer.batch_size:
                flush()
    if batch:
        flush()
    return results_from(items, scoring, cache.done)


def results_from(
    items: Sequence[Item], scoring: Sequence[str], done: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Results per item id and scoring mode, from cached results keyed "mode|id"."""
    results: dict[str, dict[str, Any]] = {}
    for item in items:
        for mode in scoring:
            found = done.get(f"{mode}|{item.id}")
            if found is not None:
                results.setdefault(item.id, {})[mode] = found
    return results


PACKED_CHUNK = 512
"""Items per call of `Scorer.loglikelihood_many` (results are cached after each call)."""


def _rank_packed(
    items: Sequence[Item],
    scorer: Scorer,
    cache: ResultCache,
    progress: Callable[[Item, str], None] | None,
) -> None:
    """Rank scores of every classification item not yet cached, many per forward."""
    ranked = [i for i in items if RANK.applies_to(i)]
    todo = [i for i in ranked if f"rank|{i.id}" not in cache.done]
    for item in ranked if progress is not None else ():
        if f"rank|{item.id}" in cache.done:
            progress(item, "rank")
    for first in range(0, len(todo), PACKED_CHUNK):
        chunk = todo[first : first + PACKED_CHUNK]
        requests = [scorer.rank_request(i.context, i.candidates) for i in chunk]
        for item, scores in zip(chunk, scorer.loglikelihood_many(requests), strict=True):
            cache.add(f"rank|{item.id}", rank_result(item, scores))
            if progress is not None:
                progress(item, "rank")


def _ranked(scorer: Scorer, context: str, candidates: Sequence[str]) -> tuple[str, tuple]:
    request = scorer.rank_request(context, candidates)
    return request.context, request.continuations


def batch_keys(items: Sequence[Item], size: int) -> dict[str, tuple]:
    """Which batch each classification item is scored in: its shared exemplar set, or (one
    draw of exemplars per query) `size` prompts of one group, task and seed, by length."""
    keys: dict[str, tuple] = {}
    own: dict[tuple, list[Item]] = {}
    for item in items:
        if not item.candidates:
            continue
        index = item.meta.get("exemplar_set")
        if index is not None:
            keys[item.id] = (item.group, item.task, item.seed, "set", index)
        else:
            own.setdefault((item.group, item.task, item.seed), []).append(item)
    for key, members in own.items():
        members = sorted(members, key=lambda i: (len(i.context), i.id))  # less padding
        for n, item in enumerate(members):
            keys[item.id] = (*key, "batch", n // size)
    return keys


TREE_QUERIES = 64
"""Classification items per call of the tree engine (results are cached after each call)."""


def tree_keys(items: Sequence[Item]) -> dict[str, tuple]:
    """Which call of the tree engine each classification item is scored in: per group and
    task (the unit data-parallel evaluation deals out, so every call is formed as in one
    process and the scores round alike), `TREE_QUERIES` at a time, an exemplar set's queries
    side by side (their rows share its tokens) and the others by length (rows fill evenly)."""
    units: dict[tuple, list[Item]] = {}
    for item in items:
        if item.candidates:
            units.setdefault((item.group, item.task), []).append(item)

    def order(item: Item) -> tuple:
        index = item.meta.get("exemplar_set")
        return (item.seed, -1 if index is None else index, len(item.context), item.id)

    keys: dict[str, tuple] = {}
    for unit, members in units.items():
        for n, item in enumerate(sorted(members, key=order)):
            keys[item.id] = (*unit, n // TREE_QUERIES)
    return keys


def _score_sets(
    items: Sequence[Item],
    scorer: Scorer,
    scoring: Sequence[str],
    cache: ResultCache,
    progress: Callable[[Item, str], None] | None,
) -> set[str]:
    """Score every classification item not yet cached, a batch at a time, through the tree
    engine (`tree_keys`) or `score_set` (`batch_keys`); returns the ids of the items it
    covered (now all in the cache)."""
    sets: dict[tuple, list[Item]] = {}
    tree_rows = scorer.engine == "tree"
    keys = tree_keys(items) if tree_rows else batch_keys(items, scorer.batch_size)
    for item in items:
        if item.id in keys:
            sets.setdefault(keys[item.id], []).append(item)
    exact = "exact" in scoring
    for members in sets.values():
        todo = [i for i in members if any(f"{m}|{i.id}" not in cache.done for m in scoring)]
        done = [i for i in members if all(f"{m}|{i.id}" in cache.done for m in scoring)]
        for item in done if progress is not None else ():
            for mode in scoring:
                progress(item, mode)
        if not todo:
            continue
        queries = [Query(*_ranked(scorer, i.context, i.candidates), i.max_new_tokens) for i in todo]
        score = tree.score_queries if tree_rows else score_set
        for item, (scores, output) in zip(todo, score(scorer, queries, exact), strict=True):
            if "rank" in scoring:
                cache.add(f"rank|{item.id}", rank_result(item, scores))
            if output is not None:
                cache.add(f"exact|{item.id}", exact_result(item, output))
            for mode in scoring if progress is not None else ():
                progress(item, mode)
    return {i.id for members in sets.values() for i in members}
