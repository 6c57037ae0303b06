"""The answer to "did tuning make my model a better in-context learner, and is it the symbols?"
as tables that fit an 80-column log: accuracy per arm, each contrast per setting with its
reading, and the label-set mass. The terminal, results.md and the report show these same rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symtune.evaluate.contrasts import CONTROL, ICL_GROUPS
from symtune.evaluate.tables import Table, interval, pct

SHORT = {
    "instr_labels": "instr+labels",
    "labels_only": "labels only",
    "instr_only": "instr only",
    "neither": "neither",
    "flipped": "flipped",
}
LEGEND = (
    "instr: the task's instruction shown; labels: the task's own labels (else arbitrary "
    "symbols); flipped: relevant labels swapped. Accuracy in %, averaged over tasks; Δ in "
    "points with a paired 95% interval; MDE: the effect a 5% two-sided test finds with 80% "
    "power at this n; p: Holm-adjusted over the settings."
)
MARGIN = 0.05
"""Base must beat chance by this much with relevant labels for a suite to show learning."""


def learnable(summary: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether base can do the tasks: above chance by MARGIN with relevant labels (with or
    without the instruction). Where it cannot, no setting can show in-context learning."""
    base = summary.get("base") or next(iter(summary.values()))
    return any(
        base[g]["average"] - base[g]["chance"] >= MARGIN
        for g in ("instr_labels", "labels_only")
        if g in base
    )


def reading(name: str, c: Mapping[str, Any]) -> str:
    """One line per contrast row; "belongs to the symbols" only where an arm − control
    interval lies above 0."""
    arm, other = name.split(" − ")
    if c["ci"][0] > 0:
        if other == CONTROL:
            return "belongs to the symbols" if arm == "symbol" else f"belongs to {arm}"
        return "gain"
    if c["ci"][1] < 0:
        return f"{other} better" if other == CONTROL else "loss"
    return "within noise"


def noise_note(contrasts: Mapping[str, Mapping[str, Any]]) -> str:
    """Whether the intervals include training noise, in one line."""
    reps = sorted(
        {tuple(c.get("replicates", [1, 1])) for con in contrasts.values() for c in con.values()}
    )
    if any(c.get("training_noise") for con in contrasts.values() for c in con.values()):
        return (
            "Intervals include training noise: replicates "
            + ", ".join(f"{a} vs {b}" for a, b in reps)
            + " per arm, resampled with the items."
        )
    return (
        "Intervals cover evaluation noise only (one training run per arm): a retrained model "
        "can land elsewhere; `replicates: N` in the run YAML adds training noise."
    )


def accuracy_table(document: Mapping[str, Any], mode: str) -> Table:
    """Per setting: n, base and each arm's accuracy (mean over replicates, their range when
    there are several), and chance."""
    arms = (document.get("arms") or {}).get(mode) or {
        label: {g: {**s, "replicates": [s["average"]]} for g, s in summ.items()}
        for label, summ in document["summary"][mode].items()
    }
    groups = [g for g in ICL_GROUPS if any(g in a for a in arms.values())]
    rows = []
    for g in groups:
        first = next(a[g] for a in arms.values() if g in a)
        cells = []
        for a in arms.values():
            if g not in a:
                cells.append("–")
                continue
            reps = a[g]["replicates"]
            spread = f" ({pct(min(reps))}–{pct(max(reps))})" if len(reps) > 1 else ""
            cells.append(pct(a[g]["average"]) + spread)
        rows.append([SHORT[g], str(first["n"]), *cells, pct(first["chance"])])
    return (f"Accuracy (%), {mode} scoring", ["setting", "n", *arms, "chance"], rows)


def contrast_tables(document: Mapping[str, Any], mode: str) -> list[Table]:
    """One table per contrast (arm − control first): Δ [95% CI], MDE, p (Holm), reading."""
    tables = []
    for name, con in ((document.get("contrasts") or {}).get(mode) or {}).items():
        rows = [
            [
                SHORT[g],
                interval(con[g]),
                f"{100 * con[g]['mde']:.1f}",
                f"{con[g].get('p_holm', con[g]['p']):.3f}",
                reading(name, con[g]),
            ]
            for g in ICL_GROUPS
            if g in con
        ]
        tables.append((f"{name} (points)", ["setting", "Δ [95% CI]", "MDE", "p", "reading"], rows))
    return tables


def mass_table(document: Mapping[str, Any]) -> Table | None:
    """The label-set mass per setting and model (%), from the rank scores."""
    mass = (document.get("readings") or {}).get("label_set_mass") or {}
    if not mass:
        return None
    labels = list(mass)
    groups = [g for g in ICL_GROUPS if any(g in m for m in mass.values())]
    rows = [
        [SHORT[g], *(pct(mass[lb][g]) if g in mass[lb] else "–" for lb in labels)] for g in groups
    ]
    caption = (
        "Label-set mass (%): the probability put on the shown labels (summed over them). High "
        "mass with low accuracy: the model answers with a shown label but the wrong one."
    )
    return (caption, ["setting", *labels], rows)


def answer_tables(document: Mapping[str, Any], mode: str) -> list[Table]:
    """Everything the answer shows for one evaluation and scoring mode, in reading order."""
    tables = [accuracy_table(document, mode), *contrast_tables(document, mode)]
    mass = mass_table(document) if mode == "rank" else None
    return tables + ([mass] if mass else [])
