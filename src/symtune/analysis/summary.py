"""Summaries of scored items: accuracy per task and group, averages as the paper reports them,
chance baselines, and paired base-vs-tuned differences (their tables: `analysis.tables`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from symtune.analysis.modes import MODES, ScoredItem
from symtune.analysis.readings import cluster_key
from symtune.analysis.stats import mcnemar_p, paired_difference

GROUP_TITLES = {
    "instr_labels": "instruction + relevant labels",
    "labels_only": "relevant labels only",
    "instr_only": "instruction only",
    "neither": "neither",
    "flipped": "flipped labels",
    "list_functions": "list functions (all)",
    "list_functions_paper20": "list functions (20)",
    "turing": "Turing concepts",
}
GROUP_ORDER = tuple(GROUP_TITLES)


def grouped(items: Sequence[ScoredItem]) -> dict[str, dict[str, list[ScoredItem]]]:
    """Items by group and task; list functions also form the 20-subtask group."""
    out: dict[str, dict[str, list[ScoredItem]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        out[item.group][item.task].append(item)
        if item.group == "list_functions" and item.meta.get("paper20"):
            out["list_functions_paper20"][item.task].append(item)
    if (
        out.get("list_functions") is not None
        and out["list_functions"].keys() == out.get("list_functions_paper20", {}).keys()
    ):
        del out["list_functions"]  # only the selection was run: report it once
    return {g: dict(t) for g, t in out.items()}


def summarize(
    items: Sequence[ScoredItem], results: Mapping[str, Mapping[str, Any]], mode: str
) -> dict[str, Any]:
    """Accuracy per group and task (pooled over seeds), the average over tasks, the average per
    seed, chance, and for exact match the share of invalid outputs."""
    summary: dict[str, Any] = {}
    for group, tasks in grouped(items).items():
        per_task: dict[str, Any] = {}
        by_seed: dict[int, list[float]] = defaultdict(list)
        for task, members in sorted(tasks.items()):
            scored = [(i, results[i.id][mode]) for i in members if mode in results.get(i.id, {})]
            if not scored:
                continue
            correct = [r["correct"] for _, r in scored]
            entry = {
                "accuracy": sum(correct) / len(correct),
                "n": len(correct),
                "chance": scored[0][0].chance,
            }
            if MODES[mode].tracks_invalid and scored[0][0].candidates:
                entry["invalid"] = sum(r["invalid"] for _, r in scored) / len(scored)
            per_task[task] = entry
            seeds: dict[int, list[bool]] = defaultdict(list)
            for item, r in scored:
                seeds[item.seed].append(r["correct"])
            for seed, values in seeds.items():
                by_seed[seed].append(sum(values) / len(values))
        if not per_task:
            continue
        summary[group] = {
            "average": sum(t["accuracy"] for t in per_task.values()) / len(per_task),
            "chance": sum(t["chance"] for t in per_task.values()) / len(per_task),
            "n": sum(t["n"] for t in per_task.values()),
            "tasks": per_task,
            "by_seed": {str(s): sum(v) / len(v) for s, v in sorted(by_seed.items())},
        }
        if MODES[mode].tracks_invalid and all("invalid" in t for t in per_task.values()):
            summary[group]["invalid"] = sum(t["invalid"] for t in per_task.values()) / len(per_task)
    return summary


def compare(
    items: Sequence[ScoredItem],
    base: Mapping[str, Mapping[str, Any]],
    tuned: Mapping[str, Mapping[str, Any]],
    mode: str,
    seed: int = 0,
) -> dict[str, Any]:
    """Paired tuned - base differences per group and task: mean, 95% bootstrap interval (items
    resampled within tasks), the minimum detectable effect at this n, and an exact McNemar
    p-value (pooled over the group's items)."""
    out: dict[str, Any] = {}
    for group, tasks in grouped(items).items():
        strata = []
        pooled_base: list[bool] = []
        pooled_tuned: list[bool] = []
        per_task = {}
        for task, members in sorted(tasks.items()):
            scored = [
                i for i in members if mode in base.get(i.id, {}) and mode in tuned.get(i.id, {})
            ]
            if not scored:
                continue
            b = [base[i.id][mode]["correct"] for i in scored]
            t = [tuned[i.id][mode]["correct"] for i in scored]
            clusters = [cluster_key(i.id, i.seed, i.meta) for i in scored]
            per_task[task] = {
                **paired_difference([(b, t, clusters)], seed),
                "mcnemar_p": mcnemar_p(b, t),
                "n": len(scored),
            }
            strata.append((b, t, clusters))
            pooled_base.extend(b)
            pooled_tuned.extend(t)
        if not strata:
            continue
        out[group] = {
            **paired_difference(strata, seed),
            "mcnemar_p": mcnemar_p(pooled_base, pooled_tuned),
            "n": len(pooled_base),
            "tasks": per_task,
        }
    return out
