"""Summaries of scored items: accuracy per task and group, averages as the paper reports them,
chance baselines, and paired base-vs-tuned differences; a Markdown table like Table 1."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from symtune.evaluate.contrasts import arm_of
from symtune.evaluate.modes import MODES
from symtune.evaluate.protocol import Item
from symtune.evaluate.readings import cluster_key
from symtune.evaluate.stats import mcnemar_p, mde, paired_difference

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


def grouped(items: Sequence[Item]) -> dict[str, dict[str, list[Item]]]:
    """Items by group and task; list functions also form the 20-subtask group."""
    out: dict[str, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))
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
    items: Sequence[Item], results: Mapping[str, Mapping[str, Any]], mode: str
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
    items: Sequence[Item],
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


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def interval(c: Mapping[str, Any]) -> str:
    """A paired difference and its 95% interval, in points: "+3.1 [-0.4, +6.6]"."""
    return f"{100 * c['delta']:+.1f} [{100 * c['ci'][0]:+.1f}, {100 * c['ci'][1]:+.1f}]"


def table1_rows(
    summaries: Mapping[str, Mapping[str, Any]], comparison: Mapping[str, Any] | None
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a table shaped like the paper's Table 1: rows are models, the paired
    delta (interval, McNemar p, MDE) and random guessing; columns are groups; cells are average
    accuracy in % with n. The one Table 1 that results.md, the report and the CLI show."""
    groups = [g for g in GROUP_ORDER if any(g in s for s in summaries.values())]
    rows = [
        [label] + [f"{_pct(s[g]['average'])} (n={s[g]['n']})" if g in s else "–" for g in groups]
        for label, s in summaries.items()
    ]
    if comparison:
        arm = arm_of(next((lb for lb in summaries if lb != "base"), "tuned"))
        rows.append(
            [f"{arm} − base [95% CI], MDE"]
            + [
                f"{interval(comparison[g])} "
                f"p={comparison[g].get('mcnemar_p', comparison[g].get('p', 1.0)):.2g} "
                f"MDE {100 * comparison[g].get('mde', mde(comparison[g]['ci'])):.1f}"
                + (
                    f" deff {comparison[g]['design_effect']:.2f}"
                    if "design_effect" in comparison[g]
                    else ""
                )
                if g in comparison
                else "–"
                for g in groups
            ]
        )
    first = next(iter(summaries.values()))
    rows.append(
        ["random guessing"]
        + [_pct(first[g]["chance"]) if g in first and first[g]["chance"] else "–" for g in groups]
    )
    return ["model", *[GROUP_TITLES[g] for g in groups]], rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows),
        ]
    )


def table1(
    summaries: Mapping[str, Mapping[str, Any]], comparison: Mapping[str, Any] | None, mode: str
) -> str:
    """Table 1 (`table1_rows`) as Markdown, under its scoring mode."""
    return f"Scoring: {mode}\n\n" + markdown_table(*table1_rows(summaries, comparison)) + "\n"


def per_task_table(
    summaries: Mapping[str, Mapping[str, Any]], comparison: Mapping[str, Any] | None, group: str
) -> str:
    """Markdown table of one group's tasks: accuracy per model, n, and the paired delta."""
    labels = [label for label, s in summaries.items() if group in s]
    if not labels:
        return ""
    tasks = sorted(summaries[labels[0]][group]["tasks"])
    header = (
        "| task | n | "
        + " | ".join(labels)
        + (" | tuned − base [95% CI] |" if comparison else " |")
    )
    lines = [header, "|---|---|" + "---|" * (len(labels) + (1 if comparison else 0))]
    for task in tasks:
        n = summaries[labels[0]][group]["tasks"][task]["n"]
        cells = [_pct(summaries[label][group]["tasks"][task]["accuracy"]) for label in labels]
        row = f"| {task} | {n} | " + " | ".join(cells)
        if comparison and group in comparison and task in comparison[group]["tasks"]:
            row += f" | {interval(comparison[group]['tasks'][task])}"
        lines.append(row + " |")
    return f"{GROUP_TITLES.get(group, group)}\n\n" + "\n".join(lines) + "\n"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}"


Table = tuple[str, list[str], list[list[str]]]


def readings_tables(readings: Mapping[str, Any]) -> list[Table]:
    """The readings as (caption, header, rows) tables: exemplar following per scoring mode,
    then the algorithmic controls. results.md and the report render the same tables."""
    tables: list[Table] = []
    for mode, following in readings.get("exemplar_following", {}).items():
        models = [label for label in following if label not in ("delta", "deltas")]
        if not models:
            continue
        rows = []
        for label in models:
            f = following[label]
            rows.append(
                [
                    label,
                    str(f["n"]),
                    _pct(f["flipped"]),
                    _pct(f["prior"]),
                    f"{_signed(f['following'])} [{_signed(f['ci'][0])}, {_signed(f['ci'][1])}]",
                ]
            )
        deltas = following.get("deltas") or (
            {"tuned": following["delta"]} if "delta" in following else {}
        )
        for label, d in deltas.items():
            rows.append(
                [
                    f"{label} − base",
                    "",
                    "",
                    "",
                    f"{_signed(d['delta'])} [{_signed(d['ci'][0])}, {_signed(d['ci'][1])}] "
                    f"MDE {100 * d['mde']:.1f}",
                ]
            )
        caption = (
            f"Exemplar following ({mode} scoring): flipped-label accuracy against a model that "
            "ignores the exemplars' labels (100 − its relevant-labels-only accuracy on the same "
            "queries); following = flipped − prior, with a paired 95% bootstrap interval."
        )
        header = ["model", "n", "flipped", "prior (ignores labels)", "following [95% CI]"]
        tables.append((caption, header, rows))
    controls = readings.get("algorithmic_controls") or {}
    if controls:
        labels = sorted({k for c in controls.values() for k in c if isinstance(c[k], dict)})
        rows = []
        for group, c in controls.items():
            cells = [
                f"{_pct(c[lb]['accuracy'])} / {_pct(c[lb]['shuffled'])}"
                if {"accuracy", "shuffled"} <= set(c.get(lb, {}))
                else "–"
                for lb in labels
            ]
            rows.append(
                [
                    GROUP_TITLES.get(group, group),
                    str(c["programs"]),
                    str(c["n"]),
                    _pct(c["constant_empty"]),
                    _pct(c["constant_most_frequent"]),
                    *cells,
                ]
            )
        caption = (
            "Algorithmic controls (exact match, %, averaged over programs): constant answers "
            "need no model; shuffled exemplars are another program's, with the same query."
        )
        header = ["group", "programs", "n", "constant ''", "constant (most frequent)"]
        header += [f"{lb}: right / shuffled exemplars" for lb in labels]
        tables.append((caption, header, rows))
    return tables


def readings_markdown(readings: Mapping[str, Any]) -> str:
    """The readings' tables as Markdown."""
    parts = []
    for caption, header, rows in readings_tables(readings):
        lines = [caption + "\n", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
