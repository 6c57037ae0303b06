"""Readings that keep a result honest, computed from results.json item records alone:

- exemplar following: flipped-label accuracy against what a model that ignores the exemplars'
  labels would score on the same queries (100 minus its relevant-labels-only accuracy);
- algorithmic controls: what a constant answer scores (the empty string, and each program's most
  frequent output), next to accuracy with the right and with shuffled exemplars;
- power: the minimum detectable effect of a paired difference at the run's n.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from symtune.analysis.stats import mde, paired_difference

__all__ = ["algorithmic_controls", "cluster_key", "exemplar_following", "mde", "readings"]

SHUFFLED = {"list_functions_paper20": "list_functions_shuffled", "turing": "turing_shuffled"}

Record = Mapping[str, Any]


def cluster_key(item_id: str, seed: int | None, meta: Mapping[str, Any]) -> str:
    """What an item's result is not independent of: its shared exemplar set (seed and set), or
    nothing but itself (one draw of exemplars per query, the paper's design)."""
    index = meta.get("exemplar_set")
    return item_id if index is None else f"{seed}:{index}"


def _correct(record: Record, label: str, mode: str) -> bool | None:
    scored = record["results"].get(label, {}).get(mode)
    return None if scored is None else bool(scored["correct"])


def _flip_pairs(records: Sequence[Record]) -> dict[str, list[tuple[Record, Record]]]:
    """(flipped, labels_only) records of the same task, seed and query, by task."""
    by_key = {(r["group"], r["id"].split("|", 1)[1]): r for r in records}
    pairs: dict[str, list[tuple[Record, Record]]] = defaultdict(list)
    for (group, key), record in sorted(by_key.items()):
        if group == "flipped" and ("labels_only", key) in by_key:
            pairs[record["task"]].append((record, by_key[("labels_only", key)]))
    return pairs


def _following_values(
    pairs: Sequence[tuple[Record, Record]], label: str, mode: str
) -> list[tuple[float, float, str]]:
    """(prior, flipped, cluster) per query: prior = 1 - labels-only correct, flipped = flipped
    correct; the cluster is the query's shared exemplar set, if any (else the query itself)."""
    out = []
    for flipped, relevant in pairs:
        f, r = _correct(flipped, label, mode), _correct(relevant, label, mode)
        if f is not None and r is not None:
            key = cluster_key(flipped["id"], flipped.get("seed"), flipped["meta"])
            out.append((1.0 - r, float(f), key))
    return out


def exemplar_following(
    records: Sequence[Record], labels: Sequence[str], mode: str
) -> dict[str, Any]:
    """Per model: flipped accuracy, the prior's score on the same queries and their difference
    ("exemplar following") with a 95% interval (queries resampled within tasks), averaged over
    tasks; with a model "base", also every other model - base of exemplar following
    ("deltas"; "delta" is tuned - base, as results of earlier versions had it)."""
    pairs = _flip_pairs(records)
    out: dict[str, Any] = {}
    if not pairs:
        return out
    strata_of: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for label in labels:
        strata = {t: _following_values(p, label, mode) for t, p in pairs.items()}
        strata = {t: v for t, v in strata.items() if v}
        if not strata:
            continue
        strata_of[label] = strata
        columns = [
            ([p for p, *_ in v], [f for _, f, _ in v], [c for *_, c in v]) for v in strata.values()
        ]
        difference = paired_difference(columns)
        out[label] = {
            "flipped": sum(sum(f) / len(f) for _, f, _ in columns) / len(columns),
            "prior": sum(sum(p) / len(p) for p, _, _ in columns) / len(columns),
            "following": difference["delta"],
            "ci": difference["ci"],
            **(
                {"design_effect": difference["design_effect"]}
                if "design_effect" in difference
                else {}
            ),
            "n": sum(len(v) for v in strata.values()),
            "tasks": {
                t: {
                    "flipped": sum(f for _, f, _ in v) / len(v),
                    "prior": sum(p for p, _, _ in v) / len(v),
                    "n": len(v),
                }
                for t, v in strata.items()
            },
        }
    for label in [lb for lb in strata_of if lb != "base" and "base" in strata_of]:
        shared = sorted(set(strata_of["base"]) & set(strata_of[label]))
        columns = [
            (
                [f - p for p, f, _ in strata_of["base"][t]],
                [f - p for p, f, _ in strata_of[label][t]],
                [c for *_, c in strata_of["base"][t]],
            )
            for t in shared
            if len(strata_of["base"][t]) == len(strata_of[label][t])
        ]
        if columns:
            out.setdefault("deltas", {})[label] = paired_difference(columns)
    if "tuned" in out.get("deltas", {}):  # the name results of earlier versions used
        out["delta"] = out["deltas"]["tuned"]
    return out


def _average_over_tasks(scores: Mapping[str, list[float]]) -> float:
    return sum(sum(v) / len(v) for v in scores.values()) / len(scores) if scores else 0.0


def algorithmic_controls(records: Sequence[Record], labels: Sequence[str]) -> dict[str, Any]:
    """Per algorithmic group (list functions of the 20-subtask selection, Turing concepts):
    each model's exact-match accuracy with the right exemplars and with shuffled ones (the same
    query, exemplars of another program), and two constant answers that need no model: the
    empty string, and each program's most frequent output (on the same queries). Averages over
    programs, as for accuracy."""
    members: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        group = record["group"]
        if group == "list_functions" and record["meta"].get("paper20"):
            group = "list_functions_paper20"
        members[group][record["task"]].append(record)
    out: dict[str, Any] = {}
    for group, control in SHUFFLED.items():
        if group not in members:
            continue
        tasks = members[group]
        empty = {t: [float(r["answer"] == "") for r in rs] for t, rs in tasks.items()}
        frequent = {}
        for task, rs in tasks.items():
            top = Counter(r["answer"] for r in rs).most_common(1)[0][1]
            frequent[task] = [top / len(rs)]
        entry: dict[str, Any] = {
            "programs": len(tasks),
            "n": sum(len(rs) for rs in tasks.values()),
            "constant_empty": _average_over_tasks(empty),
            "constant_most_frequent": _average_over_tasks(frequent),
        }
        for label in labels:
            for name, source in (("accuracy", tasks), ("shuffled", members.get(control, {}))):
                scores = {
                    t: [float(c) for r in rs if (c := _correct(r, label, "exact")) is not None]
                    for t, rs in source.items()
                }
                scores = {t: v for t, v in scores.items() if v}
                if scores:
                    entry.setdefault(label, {})[name] = _average_over_tasks(scores)
        out[group] = entry
    return out


def readings(records: Sequence[Record], labels: Sequence[str], modes: Sequence[str]) -> dict:
    """All readings of one results document: exemplar following per scoring mode, and the
    algorithmic controls (exact match only)."""
    return {
        "exemplar_following": {m: exemplar_following(records, labels, m) for m in modes},
        "algorithmic_controls": algorithmic_controls(records, labels) if "exact" in modes else {},
    }
