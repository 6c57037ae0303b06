"""The report's PNG figures (matplotlib, Agg): settings, flipped labels, list functions and
Turing concepts, and the loss with the validation curve."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from symtune.analysis.summary import GROUP_TITLES

ICL = ("instr_labels", "labels_only", "instr_only", "neither")


COLORS = {"base": "#8c8c8c", "tuned": "#1f77b4"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bars(
    path: Path,
    groups: list[str],
    values: dict[str, list[float]],
    chance: list[float],
    title: str,
    ylabel: str = "accuracy (%)",
) -> Path:
    """A grouped bar chart (one bar per model per group, dashed chance lines) saved to path."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(groups) + 2), 3.6))
    width = 0.8 / max(1, len(values))
    for j, (label, ys) in enumerate(values.items()):
        xs = [i + (j - (len(values) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, ys, width, label=label, color=COLORS.get(label))
    for i, c in enumerate(chance):
        if c:
            label = "random guessing" if i == 0 else None
            ax.hlines(c, i - 0.45, i + 0.45, colors="black", linestyles="dashed", label=label)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def loss_figure(
    path: Path, metrics: list[dict[str, Any]], validation: list[dict[str, Any]] | None
) -> Path:
    """The tuning loss per step, with the validation accuracy on a second axis if any."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot([m["step"] for m in metrics], [m["loss"] for m in metrics], color="#1f77b4")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (target tokens)")
    ax.set_title("Symbol-tuning loss", fontsize=10)
    if validation:
        right = ax.twinx()
        steps = [v["step"] for v in validation]
        accuracy = [100 * v["val_accuracy"] for v in validation]
        right.plot(steps, accuracy, color="#d62728", marker="o")
        right.set_ylabel("validation accuracy (%)", color="#d62728")
        ax.set_title("Loss, and accuracy on held-out tuning-side prompts", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _settings(count: int) -> str:
    """How many settings a figure shows, in words ("two settings")."""
    words = {1: "one", 2: "two", 3: "three", 4: "four"}
    return f"{words.get(count, count)} setting{'s' * (count != 1)}"


def figures(
    results: dict[str, Any],
    metrics: list[dict[str, Any]],
    mode: str,
    out: Path,
    validation: list[dict[str, Any]] | None = None,
) -> dict[str, Path]:
    """PNG figures; returns {name: path} for those that have data."""
    summary = results["summary"][mode]
    labels = list(summary)
    first = summary[labels[0]]
    made: dict[str, Path] = {}
    groups = [g for g in ICL if g in first]
    if groups:
        made["settings"] = bars(
            out / "settings.png",
            [GROUP_TITLES[g] for g in groups],
            {label: [100 * summary[label][g]["average"] for g in groups] for label in labels},
            [100 * first[g]["chance"] for g in groups],
            f"In-context learning, {_settings(len(groups))} ({mode} scoring)",
        )
    if "flipped" in first:
        tasks = sorted(first["flipped"]["tasks"])
        made["flipped"] = bars(
            out / "flipped.png",
            tasks,
            {
                label: [100 * summary[label]["flipped"]["tasks"][t]["accuracy"] for t in tasks]
                for label in labels
            },
            [50.0] * len(tasks),
            "Flipped labels (exemplars and target flipped)",
        )
    algorithmic = algorithmic_accuracy(results, mode)
    if algorithmic:
        names = list(algorithmic[labels[0]])
        made["algorithmic"] = bars(
            out / "algorithmic.png",
            names,
            {label: [100 * algorithmic[label][n] for n in names] for label in labels},
            [0.0] * len(names),
            "List functions by category and Turing concepts (exact match)",
        )
    if metrics:
        made["loss"] = loss_figure(out / "loss.png", metrics, validation)
    return made


def algorithmic_accuracy(results: dict[str, Any], mode: str) -> dict[str, dict[str, float]]:
    """Per model: exact-match accuracy per list-function category and for Turing concepts."""
    if mode != "exact":
        return {}
    totals: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for item in results["items"]:
        if item["group"] == "list_functions":
            name = f"LF {item['meta'].get('category') or 'other'}"
        elif item["group"] == "turing":
            name = "Turing concepts"
        else:
            continue
        for label, res in item["results"].items():
            if "exact" in res:
                totals[label][name].append(res["exact"]["correct"])
    return {
        label: {n: sum(v) / len(v) for n, v in sorted(groups.items())}
        for label, groups in totals.items()
    }
