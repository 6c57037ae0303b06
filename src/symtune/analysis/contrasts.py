"""Arm against arm on the same items: every tuned arm − base and, with a control arm, every
other arm − control, per setting and task, with paired intervals, MDE and Holm-adjusted p over
the settings. An arm tuned several times (replicates, labels `ARM.r1`, `ARM.r2`, …) is pooled:
its score on an item is the mean over its replicates, and the bootstrap resamples replicates as
well as items, so that the interval includes training noise. Pure functions of the results."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from symtune.analysis.modes import ScoredItem
from symtune.analysis.readings import cluster_key
from symtune.analysis.stats import mcnemar_p, mde, paired_difference

CONTROL = "control"
"""The name of the standard control arm (the same prompts, relevant labels + instructions)."""
ICL_GROUPS = ("instr_labels", "labels_only", "instr_only", "neither", "flipped")
"""The settings a contrast's Holm adjustment runs over (those present)."""
_REPLICATE = re.compile(r"^(?P<arm>.+)\.r(?P<k>[0-9]+)$")


def arm_of(label: str) -> str:
    """The arm a model label belongs to: `symbol.r2` -> `symbol`; any other label is its own."""
    match = _REPLICATE.match(label)
    return match["arm"] if match else label


def arms_of(labels: Sequence[str]) -> dict[str, list[str]]:
    """Labels grouped by arm, in order of first appearance."""
    out: dict[str, list[str]] = {}
    for label in labels:
        out.setdefault(arm_of(label), []).append(label)
    return out


def pairs(arms: Sequence[str]) -> list[tuple[str, str]]:
    """The contrasts worth reading: with a control arm, every other tuned arm − control first
    (is it the symbols?), then every arm − base (did tuning change the model?)."""
    tuned = [a for a in arms if a != "base"]
    out = [(a, CONTROL) for a in tuned if a != CONTROL] if CONTROL in tuned else []
    if "base" in arms:
        out += [(a, "base") for a in tuned]
    return out


def holm(ps: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p-values (family-wise error), in the input's order."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    adjusted = [0.0] * len(ps)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def replicate_bootstrap(
    strata: Sequence[tuple[np.ndarray, np.ndarray, Sequence[str]]],
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float, float]:
    """(mean difference, 2.5th, 97.5th percentile, two-sided p) of A − B averaged over strata,
    where A and B are (replicates x items) 0/1 matrices of the same items. Each resample draws
    each side's replicates with replacement (training noise) and, within every stratum, the
    items' clusters with replacement (evaluation noise); an arm's score on an item is the mean
    over its drawn replicates. p: twice the share of resampled statistics on the far side of 0."""
    rng = np.random.default_rng(seed)
    point = float(np.mean([(a.mean(0) - b.mean(0)).mean() for a, b, _ in strata]))
    totals = np.zeros(resamples)
    for a, b, clusters in strata:
        wa = rng.multinomial(a.shape[0], [1 / a.shape[0]] * a.shape[0], resamples) / a.shape[0]
        wb = rng.multinomial(b.shape[0], [1 / b.shape[0]] * b.shape[0], resamples) / b.shape[0]
        diffs = wa @ a - wb @ b  # resamples x items
        names = sorted(set(clusters))
        member = np.array([[c == n for n in names] for c in clusters], dtype=float)
        sums = diffs @ member  # resamples x clusters
        sizes = member.sum(axis=0)
        drawn = rng.integers(0, len(names), size=(resamples, len(names)))
        totals += np.take_along_axis(sums, drawn, axis=1).sum(axis=1) / sizes[drawn].sum(axis=1)
    totals /= len(strata)
    low, high = np.percentile(totals, [2.5, 97.5])
    far = min(float(np.mean(totals <= 0)), float(np.mean(totals >= 0)))
    return point, float(low), float(high), min(1.0, 2 * far)


def _matrix(
    items: Sequence[ScoredItem], per_model: Mapping[str, Mapping], labels, mode
) -> np.ndarray:
    return np.array([[float(per_model[lb][i.id][mode]["correct"]) for i in items] for lb in labels])


def _difference(
    items: Mapping[str, list[ScoredItem]],
    per_model: Mapping[str, Mapping],
    a: list[str],
    b: list[str],
    mode: str,
) -> dict[str, Any] | None:
    """One contrast over one set of strata (tasks): items every model scored."""
    strata = []
    for members in items.values():
        scored = [i for i in members if all(mode in per_model[lb].get(i.id, {}) for lb in a + b)]
        if scored:
            clusters = [cluster_key(i.id, i.seed, i.meta) for i in scored]
            strata.append(
                (_matrix(scored, per_model, a, mode), _matrix(scored, per_model, b, mode), clusters)
            )
    if not strata:
        return None
    n = sum(len(c) for *_, c in strata)
    if len(a) == 1 and len(b) == 1:  # one training run each: the base-vs-tuned statistics
        diff = paired_difference([(bm[0], am[0], c) for am, bm, c in strata])
        base = [x for _, bm, _ in strata for x in bm[0]]
        arm = [x for am, _, _ in strata for x in am[0]]
        return {**diff, "p": mcnemar_p(base, arm), "n": n, "training_noise": False}
    delta, low, high, p = replicate_bootstrap(strata)
    spread = [
        float(np.mean([(am[i] - bm.mean(0)).mean() for am, bm, _ in strata])) for i in range(len(a))
    ]
    return {
        "delta": delta,
        "ci": [low, high],
        "mde": mde([low, high]),
        "p": p,
        "n": n,
        "training_noise": True,
        "replicates": [len(a), len(b)],
        "per_replicate": spread,
    }


def contrast(
    items: Sequence[ScoredItem],
    per_model: Mapping[str, Mapping],
    a: list[str],
    b: list[str],
    mode: str,
) -> dict[str, Any]:
    """A − B per group (pooled over tasks, with per-task rows), Holm-adjusted p over the ICL
    settings present."""
    from symtune.analysis.summary import grouped

    out: dict[str, Any] = {}
    for group, tasks in grouped(items).items():
        whole = _difference(tasks, per_model, a, b, mode)
        if whole is None:
            continue
        whole["tasks"] = {
            t: d
            for t, members in sorted(tasks.items())
            if (d := _difference({t: members}, per_model, a, b, mode)) is not None
        }
        out[group] = whole
    settings = [g for g in ICL_GROUPS if g in out]
    for g, p in zip(settings, holm([out[g]["p"] for g in settings]), strict=True):
        out[g]["p_holm"] = p
    return out


def contrasts(
    items: Sequence[ScoredItem], per_model: Mapping[str, Mapping], modes: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """{mode: {"A − B": contrast}} for every pair `pairs` names, over the labels' arms."""
    arms = arms_of(list(per_model))
    if len(arms) < 2:
        return {}
    return {
        mode: {
            f"{a} − {b}": contrast(items, per_model, arms[a], arms[b], mode)
            for a, b in pairs(list(arms))
        }
        for mode in modes
    }


def arm_summaries(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per arm and group: average accuracy over its replicates, and each replicate's."""
    out: dict[str, dict[str, Any]] = {}
    for arm, labels in arms_of(list(summaries)).items():
        groups = [g for g in summaries[labels[0]] if all(g in summaries[lb] for lb in labels)]
        out[arm] = {
            g: {
                "average": sum(summaries[lb][g]["average"] for lb in labels) / len(labels),
                "chance": summaries[labels[0]][g]["chance"],
                "n": summaries[labels[0]][g]["n"],
                "replicates": [summaries[lb][g]["average"] for lb in labels],
            }
            for g in groups
        }
    return out


def label_set_mass(records: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> dict:
    """Per model and group: the mean probability the model puts on the shown labels — the sum
    over candidates of exp(rank score), capped at 1 (a candidate that is another's prefix is
    counted in both) — averaged over tasks. Low mass: the model answers outside the label set;
    high mass with low accuracy: it uses the shown symbols but picks the wrong one."""
    out: dict[str, dict[str, float]] = {}
    for label in labels:
        by_group: dict[str, dict[str, list[float]]] = {}
        for r in records:
            scores = r["results"].get(label, {}).get("rank", {}).get("scores")
            if scores:
                mass = min(1.0, sum(math.exp(s) for s in scores))
                by_group.setdefault(r["group"], {}).setdefault(r["task"], []).append(mass)
        out[label] = {
            g: sum(sum(v) / len(v) for v in tasks.values()) / len(tasks)
            for g, tasks in by_group.items()
        }
    return out
