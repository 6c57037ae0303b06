"""Tables and verdicts of the issue-13 experiment, from its output folder alone:

    .venv/bin/python experiments/recipe/analyze.py EXP > docs/results/recipe.md

The sweep and the choice, the validation curves, then per evaluation: accuracy of base, tuned
and control per setting, tuned - base and tuned - control (paired bootstrap 95% intervals over
the same items, with the minimum detectable effect), exemplar following on flipped labels, the
algorithmic controls, and each goal of the issue marked met or missed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from symtune.evaluate.protocol import Item
from symtune.evaluate.results import GROUP_TITLES, compare
from symtune.io import read_jsonl

SETTINGS = ("instr_labels", "labels_only", "instr_only", "neither", "flipped")


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def delta(c: dict[str, Any] | None) -> str:
    if not c:
        return "–"
    low, high = c["ci"]
    return (
        f"{100 * c['delta']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] (MDE {100 * c['mde']:.1f})"
    )


def items_of(document: dict[str, Any]) -> list[Item]:
    return [
        Item(
            id=i["id"],
            group=i["group"],
            task=i["task"],
            seed=i["seed"],
            context="",
            answer=i["answer"],
            candidates=tuple(i["candidates"]),
            meta=i["meta"],
        )
        for i in document["items"]
    ]


def per_label(document: dict[str, Any], label: str) -> dict[str, dict[str, Any]]:
    return {i["id"]: i["results"].get(label, {}) for i in document["items"]}


def sweep_section(exp: Path) -> list[str]:
    choice = json.loads((exp / "choice.json").read_text())
    plan = json.loads((exp / "plan.json").read_text())
    if not choice["arms"]:
        fixed = choice["chosen"]
        return [
            "## No sweep at this scale\n",
            f"Fixed: lr {fixed['lr']:g}, weight decay {fixed['wd']:g}, families "
            f"{'yes' if fixed['families'] else 'no'}; {plan['main_steps']} steps x "
            f"{plan['batch']} prompts, prompt budget {plan['max_tokens']} tokens, {plan['dtype']}.",
            *mixture_lines(exp, plan, fixed["families"]),
        ]
    lines = [
        "## Sweep (tuning-side validation only)\n",
        f"Each arm: {plan['sweep_steps']} steps x {plan['batch']} prompts "
        f"({plan['sweep_steps'] * plan['batch']} prompts, prompt budget {plan['max_tokens']} "
        f"tokens), Adafactor, 2 warmup steps, {plan['dtype']}. Validation: "
        f"{plan['val_prompts']} held-out prompts of the tuning tasks (symbols, no instruction), "
        "rank accuracy after the last step. Rule (written before the run): highest accuracy; "
        "ties to the smaller lr, then no weight decay, then no families.\n",
        "| arm | lr | weight decay | families | validation accuracy (%) |",
        "|---|---|---|---|---|",
    ]
    for arm in choice["arms"]:
        mark = " **(chosen)**" if arm["arm"] == choice["chosen"]["arm"] else ""
        lines.append(
            f"| {arm['arm'].removeprefix('sweep/')}{mark} | {arm['lr']:g} | {arm['wd']:g} | "
            f"{'yes' if arm['families'] else 'no'} | {pct(arm['val_accuracy'])} |"
        )
    base = [
        r for r in read_jsonl(exp / choice["arms"][0]["arm"] / "metrics.jsonl") if r["step"] == 0
    ]
    if base:
        lines.append(
            f"\nBase model on the same validation prompts: {pct(base[0]['val_accuracy'])}."
        )
    return lines


def mixture_lines(exp: Path, plan: dict[str, Any], families: bool) -> list[str]:
    """What the main run's mixture holds: prompts, task shares, classes per prompt."""
    path = exp / "data" / f"main-{'fam' if families else 'bb'}" / "manifest.json"
    if not path.exists():
        return []
    manifest = json.loads(path.read_text())
    stats, config = manifest["stats"], manifest["config"]
    by_task = {task: n for task, n in stats["by_task"].items() if n}  # tasks with prompts
    classes = stats.get("by_classes", {})
    many = sum(v for k, v in classes.items() if int(k) > 2)
    absent = sorted(set(config["tasks"]) - set(by_task))
    return [
        f"\nMixture (main arm): {stats['prompts']} prompts built from {len(by_task)} of the "
        f"{len(config['tasks'])} tuning tasks, {plan['main_steps'] * plan['batch']} used; task "
        f"weights {'equal' if config['weights'] else 'proportional to size'} (prompts per task "
        f"{min(by_task.values())} to {max(by_task.values())}; tasks whose prompts rarely fit "
        f"{plan['max_tokens']} tokens get fewer: "
        f"{sum(stats['skipped_too_long'].values())} skipped"
        + (f"; none fit for {', '.join(absent)}" if absent else "")
        + "); classes per prompt "
        + (
            f"2 to {config['max_classes']} where a task has more than two "
            f"({many} prompts show more than two)."
            if config.get("max_classes")
            else "all of the task's."
        ),
    ]


def curve_section(exp: Path) -> list[str]:
    lines = ["\n## Validation curves (held-out tuning-side prompts, rank accuracy %)\n"]
    for name in ("main", "control"):
        records = [r for r in read_jsonl(exp / name / "metrics.jsonl") if "val_accuracy" in r]
        if not records:
            continue
        curve = ", ".join(f"{r['step']}: {pct(r['val_accuracy'])}" for r in records)
        lines.append(f"- {name} (step: accuracy, n = {records[-1]['val_n']}): {curve}")
    best = exp / "main" / "best.json"
    if best.exists():
        record = json.loads(best.read_text())
        lines.append(f"- kept (main, --keep best): step {record['step']}")
    return lines


def partial_document(exp: Path, bench: str) -> dict[str, Any] | None:
    """An evaluation stopped before its results.json, read from its per-item caches: every
    label's results on the items it reached (needs the prepared items in EXP/items)."""
    from symtune.evaluate.results import summarize

    cache = exp / "eval" / bench / "cache"
    items_file = exp / "items" / f"{bench}.json"
    if not cache.is_dir() or not items_file.exists():
        return None
    raw = json.loads(items_file.read_text())["items"]
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(cache.glob("*.jsonl")):
        for record in read_jsonl(path):
            mode, item_id = record["key"].split("|", 1)
            results.setdefault(path.stem, {}).setdefault(item_id, {})[mode] = record["result"]
    mode = "rank" if any("rank" in r for f in results.values() for r in f.values()) else "exact"
    # only the groups every label finished, so that each column is over the same items
    complete = {i["group"] for i in raw}
    for found in results.values():
        complete -= {i["group"] for i in raw if i["id"] not in found}
    raw = [i for i in raw if i["group"] in complete]
    for item in raw:
        item["results"] = {label: found.get(item["id"], {}) for label, found in results.items()}
    items = items_of({"items": raw})
    summary = {label: summarize(items, found, mode) for label, found in results.items()}
    return {"summary": {mode: summary}, "items": raw, "partial": True}


def eval_section(exp: Path, bench: str) -> tuple[list[str], dict[str, Any]]:
    path = exp / "eval" / bench / "results.json"
    document = json.loads(path.read_text()) if path.exists() else partial_document(exp, bench)
    if document is None:
        return [f"\n## {bench}: not run (deadline)\n"], {}
    mode = next(iter(document["summary"]))
    summary = document["summary"][mode]
    labels = list(summary)
    items = items_of(document)
    vs_base = {
        label: compare(items, per_label(document, "base"), per_label(document, label), mode)
        for label in labels
        if label != "base"
    }
    vs_control = (
        compare(items, per_label(document, "control"), per_label(document, "tuned"), mode)
        if {"tuned", "control"} <= set(labels)
        else {}
    )
    groups = [g for g in (*SETTINGS, "list_functions_paper20", "turing") if g in summary["base"]]
    controls = [g for g in summary["base"] if g not in groups]
    header = ["group", "n", *labels, *(f"{lab} - base" for lab in vs_base)]
    if vs_control:
        header.append("tuned - control")
    partial = (
        " — PARTIAL: stopped by the deadline; only the groups every model finished"
        if document.get("partial")
        else ""
    )
    lines = [
        f"\n## {bench} (scoring: {mode}; accuracy %, 95% paired-bootstrap intervals){partial}\n",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for group in [*groups, *controls]:
        row = [
            GROUP_TITLES.get(group, group),
            str(vs_base.get("tuned", {}).get(group, {}).get("n", "")),
        ]
        row += [
            pct(summary[lab][group]["average"]) if group in summary[lab] else "–" for lab in labels
        ]
        row += [delta(vs_base[lab].get(group)) for lab in vs_base]
        if vs_control:
            row.append(delta(vs_control.get(group)))
        lines.append("| " + " | ".join(row) + " |")
    following = document.get("readings", {}).get("exemplar_following", {}).get(mode)
    if following and following.get("delta"):
        d = following["delta"]
        lines.append(
            f"\nExemplar following (flipped - (100 - labels only), same queries): base "
            f"{100 * following['base']['following']:+.1f}, tuned "
            f"{100 * following['tuned']['following']:+.1f}; tuned - base {delta(d)}."
        )
    return lines, {
        "summary": summary,
        "vs_base": vs_base,
        "vs_control": vs_control,
        "following": (following or {}).get("delta"),
    }


def verdicts(reachable: dict[str, Any], algorithmic: dict[str, Any]) -> list[str]:
    lines = ["\n## Goals\n"]
    if not reachable:
        return [*lines, "- reachable was not evaluated: no verdict."]
    tuned = reachable["vs_base"].get("tuned", {})

    def says(name: str, c: dict[str, Any] | None, ok: bool) -> None:
        verdict = "not measured" if not c else "met" if ok else "missed"
        lines.append(f"- {name}: {delta(c)} -> {verdict}")

    for group in ("neither", "instr_only"):
        c = tuned.get(group)
        says(
            f"reachable {group} >= +10 over base, interval above 0",
            c,
            bool(c) and c["delta"] >= 0.10 and c["ci"][0] > 0,
        )
    c = reachable.get("following")
    says(
        "reachable exemplar following on flipped labels up, interval above 0",
        c,
        bool(c) and c["ci"][0] > 0,
    )
    for group in ("instr_labels", "labels_only"):
        c = tuned.get(group)
        says(f"reachable {group}: a drop of at most 2 points", c, bool(c) and c["delta"] >= -0.02)
        if c and c["delta"] >= -0.02 and c["ci"][0] < -0.02:
            lines[-1] += " on the point estimate (its interval allows a larger drop)"
    c = reachable["vs_control"].get("neither")
    says("tuned - control in neither above 0 with its interval", c, bool(c) and c["ci"][0] > 0)
    if algorithmic:
        for group in ("list_functions_paper20", "turing"):
            c = algorithmic["vs_base"].get("tuned", {}).get(group)
            says(f"{group}: tuned - base above 0", c, bool(c) and c["ci"][0] > 0)
    return lines


def main() -> None:
    exp = Path(sys.argv[1])
    out = [f"# The recipe experiment ({exp.name})\n", *sweep_section(exp), *curve_section(exp)]
    found: dict[str, dict[str, Any]] = {}
    for bench in ("reachable", "algorithmic", "offline"):
        lines, data = eval_section(exp, bench)
        out += lines
        found[bench] = data
    out += verdicts(found["reachable"], found["algorithmic"])
    print("\n".join(out))


if __name__ == "__main__":
    main()
