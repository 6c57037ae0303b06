"""The report's first section: the answer to "did tuning make my model a better in-context
learner, and is it the symbols?", from the run's evaluations (results.json) alone — first the
suite where base can do the tasks, a figure with interval error bars, every contrast with its
reading, exemplar following per arm and the label-set mass."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from symtune.analysis.answer import (
    LEGEND,
    SHORT,
    answer_tables,
    learnable,
    noise_note,
    verdict,
)
from symtune.analysis.contrasts import ICL_GROUPS, arms_of
from symtune.analysis.modes import first_mode
from symtune.analysis.tables import readings_tables
from symtune.report.render import Block

Evaluation = tuple[str, dict[str, Any]]
"""(figure name, results document)."""
COLORS = ("#8c8c8c", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


def mode_of(document: dict[str, Any]) -> str:
    return "rank" if "rank" in document["summary"] else first_mode(document["summary"])


def _accuracy_se(entry: dict[str, Any]) -> float:
    """Standard error of an average over tasks of binomial accuracies."""
    tasks = entry.get("tasks") or {}
    if not tasks:
        return 0.0
    var = sum(t["accuracy"] * (1 - t["accuracy"]) / max(t["n"], 1) for t in tasks.values())
    return math.sqrt(var) / len(tasks)


def answer_figure(document: dict[str, Any], path: Path) -> Path | None:
    """Left: accuracy per setting and arm (±1.96 binomial SE; arms with replicates: their mean,
    bars over the replicates' range); right: every contrast per setting with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mode = mode_of(document)
    contrasts = (document.get("contrasts") or {}).get(mode) or {}
    summary = document["summary"][mode]
    groups = [g for g in ICL_GROUPS if g in next(iter(summary.values()))]
    if not contrasts or not groups:
        return None
    arms = document.get("arms", {}).get(mode) or {}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    width = 0.8 / max(1, len(arms))
    for j, (arm, values) in enumerate(arms.items()):
        xs = [i + (j - (len(arms) - 1) / 2) * width for i in range(len(groups))]
        ys = [100 * values[g]["average"] for g in groups]
        first = arms_of(list(summary))[arm][0]
        errors = [196 * _accuracy_se(summary[first][g]) for g in groups]
        left.bar(xs, ys, width, yerr=errors, capsize=2, label=arm, color=COLORS[j % len(COLORS)])
    for i, g in enumerate(groups):
        chance = 100 * next(iter(arms.values()))[g]["chance"]
        left.hlines(chance, i - 0.45, i + 0.45, colors="black", linestyles="dashed")
    left.set_xticks(range(len(groups)), [SHORT[g] for g in groups], rotation=15, fontsize=8)
    left.set_ylabel("accuracy (%)")
    left.set_ylim(0, 100)
    left.set_title("Accuracy (dashed: chance)", fontsize=10)
    left.legend(fontsize=8)
    width = 0.8 / len(contrasts)
    for j, (name, con) in enumerate(contrasts.items()):
        xs, ys, lows, highs = [], [], [], []
        for i, g in enumerate(groups):
            if g in con:
                xs.append(i + (j - (len(contrasts) - 1) / 2) * width)
                ys.append(100 * con[g]["delta"])
                lows.append(100 * (con[g]["delta"] - con[g]["ci"][0]))
                highs.append(100 * (con[g]["ci"][1] - con[g]["delta"]))
        right.errorbar(
            xs,
            ys,
            yerr=[lows, highs],
            fmt="o",
            capsize=3,
            label=name,
            color=COLORS[(j + 1) % len(COLORS)],
        )
    right.axhline(0, color="black", linewidth=0.8)
    right.set_xticks(range(len(groups)), [SHORT[g] for g in groups], rotation=15, fontsize=8)
    right.set_ylabel("difference (points)")
    right.set_title("Paired differences, 95% intervals", fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _evaluation_blocks(name: str, document: dict[str, Any], figures: dict[str, Path]) -> list:
    mode = mode_of(document)
    config = document["config"]
    can = learnable(document["summary"][mode])
    first = next(iter(document["summary"][mode].values()))
    n = {SHORT[g]: first[g]["n"] for g in ICL_GROUPS if g in first}
    blocks: list[Block] = [
        ("h", 3, f"Suite {config['suite']}" + ("" if can else " — base at chance here")),
        (
            "p",
            f"n per setting: {', '.join(f'{k} {v}' for k, v in n.items())}; seeds "
            f"{list(config['seeds'])}; "
            + (
                f"{config['exemplar_sets']} shared exemplar sets per task and seed. "
                if config.get("exemplar_sets")
                else "one draw of exemplars per query. "
            )
            + noise_note(document["contrasts"][mode]),
        ),
    ]
    if not can:
        blocks.append(
            (
                "p",
                "Base is not above chance with relevant labels on these tasks, so no setting "
                "can show in-context learning here; read the suite above instead.",
            )
        )
    if name in figures:
        blocks.append(("img", name, "Accuracy per arm (left) and paired differences (right)."))
    blocks.append(("p", "**" + verdict(document, mode) + "**"))
    for caption, header, rows in answer_tables(document, mode):
        blocks += [("p", caption), ("table", header, rows)]
    following = readings_tables(
        {
            "exemplar_following": {
                mode: (document.get("readings") or {}).get("exemplar_following", {}).get(mode, {})
            }
        }
    )
    for caption, header, rows in following:
        blocks += [("p", caption), ("table", header, rows)]
    blocks.append(("p", LEGEND))
    return blocks


def answer_blocks(evaluations: list[Evaluation], figures: dict[str, Path]) -> list[Block]:
    """The answer section over the run's evaluations that compare arms, the suite where base
    can do the tasks first; nothing for a run without arms."""
    shown = [(n, d) for n, d in evaluations if (d.get("contrasts") or {}).get(mode_of(d))]
    if not shown:
        return []
    shown.sort(key=lambda e: not learnable(e[1]["summary"][mode_of(e[1])]))
    blocks: list[Block] = [
        ("h", 2, "The answer: a better in-context learner, and is it the symbols?"),
    ]
    if not any(learnable(d["summary"][mode_of(d)]) for _, d in shown):
        blocks.append(
            (
                "p",
                "Base is not above chance with relevant labels on any suite evaluated: no "
                "setting can show in-context learning. `symtune scan` finds tasks this model "
                "can do; evaluate on that suite.",
            )
        )
    for name, document in shown:
        blocks += _evaluation_blocks(name, document, figures)
    return blocks
