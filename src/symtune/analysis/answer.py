"""The answer to "did tuning make my model a better in-context learner, and is it the symbols?"
as tables that fit an 80-column log: accuracy per arm, each contrast per setting with its
reading, and the label-set mass. The terminal, results.md and the report show these same rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symtune.analysis.contrasts import CONTROL, ICL_GROUPS
from symtune.analysis.tables import Table, interval, p_text, pct, shown_p

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


ALPHA = 0.05


def shown(c: Mapping[str, Any]) -> int:
    """+1 / -1 where a contrast is shown as an effect (its interval excludes 0 and the p it
    shows, Holm-adjusted, is below ALPHA), else 0: the reading always agrees with the p."""
    if shown_p(c) >= ALPHA:
        return 0
    return 1 if c["ci"][0] > 0 else -1 if c["ci"][1] < 0 else 0


def reading(
    name: str, c: Mapping[str, Any], setting: Mapping[str, Mapping[str, Any]] | None = None
) -> str:
    """One line per contrast row. An arm − control effect says which arm moved, from the
    arm − base and control − base rows of the same setting (`setting`: contrast name -> row)."""
    arm, other = name.split(" − ")
    sign = shown(c)
    if sign == 0:
        return "within noise" if c["ci"][0] <= 0 <= c["ci"][1] else "not after Holm"
    if other != CONTROL:
        return "gain" if sign > 0 else "loss"
    if sign < 0:
        return f"{other} better"
    return MOVED[movement(arm, setting or {})].format(arm=arm)


MOVED = {
    "control": "control fell, {arm} held",
    "arm": "{arm} rose",
    "both": "{arm} rose, control fell",
    "neither": "{arm} − control only",
}
MOVED_LONG = {
    "control": (
        ": it comes from the control falling below base (tuned with relevant labels, it lost "
        "what base did), not from the {arm} arm rising"
    ),
    "arm": ": the {arm} arm rose above base",
    "both": ": the {arm} arm rose and the control fell",
    "neither": ": neither arm moved from base on its own",
}


def movement(arm: str, rows: Mapping[str, Mapping[str, Any]]) -> str:
    """Where arm − control is above 0, which arm moved against base in that setting (`rows`:
    contrast name -> row): "control" (it fell, the arm did not rise), "arm" (it rose, the
    control did not fall), "both" or "neither"."""
    arm_moved = shown(rows[f"{arm} − base"]) if f"{arm} − base" in rows else 0
    control_moved = shown(rows[f"{CONTROL} − base"]) if f"{CONTROL} − base" in rows else 0
    if control_moved < 0 and arm_moved <= 0:
        return "control"
    if arm_moved > 0:
        return "arm" if control_moved >= 0 else "both"
    return "neither"


def by_setting(contrasts: Mapping[str, Mapping[str, Any]], g: str) -> dict[str, Any]:
    """Every contrast's row for setting g."""
    return {name: con[g] for name, con in contrasts.items() if g in con}


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
    every = (document.get("contrasts") or {}).get(mode) or {}
    for name, con in every.items():
        rows = [
            [
                SHORT[g],
                interval(con[g]),
                f"{100 * con[g]['mde']:.1f}",
                p_text(shown_p(con[g])),
                reading(name, con[g], by_setting(every, g)),
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


def _which_moved(arm: str, g: str, contrasts: Mapping[str, Mapping[str, Any]]) -> str:
    """For an arm − control effect in setting g: which arm moved against base, in words."""
    rows = by_setting(contrasts, g)
    a, b = rows.get(f"{arm} − base"), rows.get(f"{CONTROL} − base")
    if a is None or b is None:
        return SHORT[g]
    text = f"{SHORT[g]} ({arm} − base {interval(a)}, {CONTROL} − base {interval(b)})"
    return text + MOVED_LONG[movement(arm, rows)].format(arm=arm)


def verdict(document: Mapping[str, Any], mode: str) -> str:
    """One paragraph: for each arm − control, the settings where an effect is shown (interval
    above 0, Holm p < .05) and which arm moved, or that none was shown."""
    contrasts = document["contrasts"][mode]
    arms = [n for n in contrasts if n.endswith(f" − {CONTROL}")]
    if not arms:
        return (
            "No control arm in this run: a difference to base cannot be told from more tuning "
            "on this format (`control: true` adds the control arm)."
        )
    parts = []
    for name in arms:
        con = contrasts[name]
        arm = name.split(" − ")[0]
        found = [g for g in ICL_GROUPS if g in con and shown(con[g]) > 0]
        worse = [SHORT[g] for g in ICL_GROUPS if g in con and shown(con[g]) < 0]
        mdes = [100 * con[g]["mde"] for g in ICL_GROUPS if g in con]
        if found:
            where = "; ".join(_which_moved(arm, g, contrasts) for g in found)
            parts.append(f"{name} is above 0 on {where}.")
        else:
            parts.append(
                f"{name}: no setting shows an effect (interval above 0 and Holm p < .05), so "
                f"nothing here belongs to {'the symbols' if arm == 'symbol' else arm} at this n "
                f"(MDE {min(mdes):.1f}–{max(mdes):.1f} points)."
            )
        if worse:
            parts.append(f"The control is ahead on {', '.join(worse)}.")
    return " ".join(parts)
