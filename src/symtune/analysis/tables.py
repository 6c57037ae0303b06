"""Every table symtune writes, as rows and as Markdown: the cells (`pct`, `signed`,
`interval`), Table 1 (`table1_rows`, the one that results.md, the report, the card and the
terminal show), per-task tables, the readings, results.md (`results_markdown`), and the one
Markdown renderer (`markdown_table`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from symtune.analysis.contrasts import arm_of
from symtune.analysis.stats import mde
from symtune.analysis.summary import GROUP_ORDER, GROUP_TITLES


def pct(x: float) -> str:
    """A share as a percentage with one decimal: 0.4567 -> "45.7"."""
    return f"{100 * x:.1f}"


def p_text(p: float) -> str:
    """A p-value as the tables print it: three decimals, "< 0.001" below that (never 0.000)."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def shown_p(c: Mapping[str, Any]) -> float:
    """The one p a contrast shows everywhere: Holm-adjusted over the settings where it has one
    (arm contrasts), else its McNemar p."""
    return float(c.get("p_holm", c.get("mcnemar_p", c.get("p", 1.0))))


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
        [label] + [f"{pct(s[g]['average'])} (n={s[g]['n']})" if g in s else "–" for g in groups]
        for label, s in summaries.items()
    ]
    if comparison:
        arm = arm_of(next((lb for lb in summaries if lb != "base"), "tuned"))
        rows.append(
            [f"{arm} − base [95% CI], MDE"]
            + [
                f"{interval(comparison[g])} "
                f"p{'(Holm)' if 'p_holm' in comparison[g] else ''} "
                f"{p_text(shown_p(comparison[g]))} "
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
        + [pct(first[g]["chance"]) if g in first and first[g]["chance"] else "–" for g in groups]
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


def per_task_rows(
    summaries: Mapping[str, Mapping[str, Any]], comparison: Mapping[str, Any] | None, group: str
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of one group's tasks: n, accuracy per model, and the paired delta."""
    labels = [label for label, s in summaries.items() if group in s]
    if not labels:
        return [], []
    first = summaries[labels[0]][group]["tasks"]
    header = ["task", "n", *labels] + (["tuned − base [95% CI]"] if comparison else [])
    rows = []
    for task in sorted(first):
        row = [task, str(first[task]["n"])]
        row += [pct(summaries[label][group]["tasks"][task]["accuracy"]) for label in labels]
        if comparison:
            found = group in comparison and task in comparison[group]["tasks"]
            row.append(interval(comparison[group]["tasks"][task]) if found else "")
        rows.append(row)
    return header, rows


def per_task_table(
    summaries: Mapping[str, Mapping[str, Any]], comparison: Mapping[str, Any] | None, group: str
) -> str:
    """Markdown table of one group's tasks (`per_task_rows`), under its title."""
    header, rows = per_task_rows(summaries, comparison, group)
    if not header:
        return ""
    return f"{GROUP_TITLES.get(group, group)}\n\n" + markdown_table(header, rows) + "\n"


def signed(x: float) -> str:
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
                    pct(f["flipped"]),
                    pct(f["prior"]),
                    f"{signed(f['following'])} [{signed(f['ci'][0])}, {signed(f['ci'][1])}]",
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
                    f"{signed(d['delta'])} [{signed(d['ci'][0])}, {signed(d['ci'][1])}] "
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
                f"{pct(c[lb]['accuracy'])} / {pct(c[lb]['shuffled'])}"
                if {"accuracy", "shuffled"} <= set(c.get(lb, {}))
                else "–"
                for lb in labels
            ]
            rows.append(
                [
                    GROUP_TITLES.get(group, group),
                    str(c["programs"]),
                    str(c["n"]),
                    pct(c["constant_empty"]),
                    pct(c["constant_most_frequent"]),
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
    parts = [
        f"{caption}\n\n" + markdown_table(header, rows) + "\n"
        for caption, header, rows in readings_tables(readings)
    ]
    return "\n".join(parts)


def results_markdown(document: Mapping[str, Any]) -> str:
    """The results as Markdown: one Table-1-like table per scoring mode, then per-task tables."""
    parts = ["# symtune evaluation\n"]
    models = ", ".join(f"{label}: `{m['name']}`" for label, m in document["models"].items())
    parts.append(
        f"Models: {models}. Seeds: {document['config']['seeds']}. "
        f"Accuracy in %, averaged over tasks; n = scored prompts.\n"
    )
    for mode, summaries in document["summary"].items():
        comparison = (document["comparison"] or {}).get(mode)
        parts.append(table1(summaries, comparison, mode))
    if document.get("readings"):
        parts.append(readings_markdown(document["readings"]))
    for mode, summaries in document["summary"].items():
        comparison = (document["comparison"] or {}).get(mode)
        groups = [g for g in GROUP_ORDER if any(g in s for s in summaries.values())]
        for group in groups:
            if group == "list_functions":
                continue  # 250 rows; see results.json
            parts.append(f"### {mode}: " + per_task_table(summaries, comparison, group))
    return "\n".join(parts)
