"""The report's sections, as blocks (see `render`): Table 1 and per-task tables, readings,
the algorithmic and flipped-label figures, the second evaluation, training, the paper's
numbers for context, example prompts and how to reproduce. Sections of an experiment's own
(sweeps, ablations) are passed to `write_report` by that experiment."""

from __future__ import annotations

import shlex
from collections import defaultdict
from pathlib import Path
from typing import Any

from symtune.analysis.answer import learnable
from symtune.analysis.modes import MODES, first_mode
from symtune.analysis.summary import GROUP_TITLES
from symtune.analysis.tables import per_task_rows, readings_tables, table1_rows
from symtune.io import read_json_object
from symtune.layout import RunDir
from symtune.report.figures import ICL
from symtune.report.read import metrics_of
from symtune.report.render import Block

TITLE = "symtune report"
"""How every report's first heading starts (`--markdown` replaces only a file that does)."""

# The paper's Table 1 (Flan-PaLM, average accuracy %, 11 tasks): quoted for context only.
PAPER_TABLE1 = (
    ("Flan-PaLM-8B", (63.9, 61.6, 42.4, 44.2)),
    ("Flan-PaLM-8B + symbol tuning", (57.6, 54.3, 58.2, 52.8)),
    ("Flan-PaLM-62B", (74.3, 70.0, 57.0, 50.5)),
    ("Flan-PaLM-62B + symbol tuning", (75.5, 70.8, 71.4, 60.3)),
    ("Flan-PaLM-540B", (82.2, 77.4, 70.7, 58.1)),
    ("Flan-PaLM-540B + symbol tuning", (84.4, 78.8, 80.0, 63.6)),
)

PAPER_OTHER = (
    "Paper, for context: list functions +18.2 (8B), +11.1 (62B), +3.6 (540B); Turing "
    "concepts +15.3 (8B, 62B), +4.7 (540B); flipped labels +26.5 (8B), +33.7 (62B), "
    "+34.0 (540B) points from symbol tuning. Random guessing on the paper's 11 tasks: "
    "42.4%."
)


def table1(summary: dict[str, Any], comparison: dict[str, Any] | None) -> Block:
    return ("table", *table1_rows(summary, comparison))


def at_chance_note(results: dict[str, Any]) -> list[Block]:
    """A warning where base is not above chance with relevant labels: no setting there can
    show in-context learning."""
    summary = results["summary"].get("rank") or next(iter(results["summary"].values()))
    if not any(g in next(iter(summary.values())) for g in ("instr_labels", "labels_only")):
        return []
    if learnable(summary):
        return []
    return [
        (
            "p",
            "**Base is at chance here**: not above random guessing with relevant labels, so no "
            "setting on these tasks can show in-context learning.",
        )
    ]


def extra_eval_blocks(run: Path) -> list[Block]:
    """The run's second evaluation (RUN/eval-extra, e.g. the `reachable` suite): its Table 1
    per scoring mode and its readings."""
    path = RunDir(run).extra_results
    if not path.exists():
        return []
    results = read_json_object(path, "results")
    config = results["config"]
    blocks: list[Block] = [
        ("h", 2, f"Second evaluation: suite {config['suite']}"),
        (
            "p",
            f"Tasks: {', '.join(sorted({i['task'] for i in results['items']}))}. Seeds: "
            f"{list(config['seeds'])}; at most {config['max_queries']} queries per task.",
        ),
    ]
    blocks += at_chance_note(results)
    for mode, summary in results["summary"].items():
        blocks.append(("p", f"**{mode} scoring**"))
        blocks.append(table1(summary, (results.get("comparison") or {}).get(mode)))
    for caption, header, rows in readings_tables(results.get("readings") or {}):
        blocks += [("p", caption), ("table", header, rows)]
    return blocks


def core_blocks(
    run: Path, results: dict[str, Any], figures: dict[str, Path], extra: list[Block]
) -> list[Block]:
    """The report as blocks: ("h", level, text), ("p", text), ("table", header, rows),
    ("img", name, caption), ("pre", text); one section per function, in reading order."""
    return [
        *_header_blocks(run, results),
        *_summary_blocks(results, figures),
        *_readings_blocks(results),
        *_algorithmic_blocks(figures),
        *_flipped_blocks(figures),
        *extra_eval_blocks(run),
        *training_blocks(run, figures),
        *extra,
        *_paper_blocks(),
        *examples(results),
        *_reproduce_blocks(run, results["models"]),
    ]


def _header_blocks(run: Path, results: dict[str, Any]) -> list[Block]:
    """Title, what was evaluated, and a warning when the sample is small."""
    config, models = results["config"], results["models"]
    blocks: list[Block] = [("h", 1, f"{TITLE}: {run.name}")]
    blocks.append(
        (
            "p",
            "Models: "
            + "; ".join(f"{label} = {m['name']}" for label, m in models.items())
            + f". Suite: {config['suite']}. Seeds: {list(config['seeds'])}; "
            f"k = {config['k']} exemplars per class; at most {config['max_queries']} "
            "queries per task. Accuracy in %, averaged over tasks; n = scored prompts; "
            "intervals are paired 95% bootstrap intervals, p from exact McNemar tests "
            "(Holm-adjusted over the settings where a row says p(Holm): the same p as the "
            "contrast tables).",
        )
    )
    total_n = {
        mode: max((s.get("neither", {}).get("n", 0) for s in summ.values()), default=0)
        for mode, summ in results["summary"].items()
    }
    if any(n < 400 for n in total_n.values()):
        blocks.append(
            (
                "p",
                "Small sample: each setting has only "
                + ", ".join(f"{n} prompts ({mode})" for mode, n in total_n.items())
                + ". Differences of a few points are within noise; read the intervals.",
            )
        )
    return blocks


MDE_NOTE = (
    "MDE: the minimum detectable effect at this n (a paired difference a two-sided 5% test "
    "finds with 80% power), from the interval's width."
)
DEFF_NOTE = (
    " deff: the design effect of shared exemplar sets (queries scored against the same "
    "exemplars are not independent; the intervals come from a cluster bootstrap over the sets, "
    "or the per-query one where that is wider): the variance against independent prompts, so "
    "n / deff is the effective n."
)


def _summary_blocks(results: dict[str, Any], figures: dict[str, Path]) -> list[Block]:
    """Per scoring mode: Table 1, the settings figure, and the per-task tables."""
    blocks: list[Block] = []
    for mode, summary in results["summary"].items():
        comparison = (results.get("comparison") or {}).get(mode)
        groups = [g for g in GROUP_TITLES if any(g in s for s in summary.values())]
        blocks.append(("h", 2, f"Summary, like the paper's Table 1 ({mode} scoring)"))
        blocks += at_chance_note(results)
        blocks.append(table1(summary, comparison))
        if "settings" in figures and not any(b[0] == "img" for b in blocks):
            blocks.append(("img", "settings", "Average accuracy per setting, base vs tuned."))
        if comparison:
            deff = any("design_effect" in c for c in comparison.values())
            blocks.append(("p", MDE_NOTE + (DEFF_NOTE if deff else "")))
        blocks.append(("h", 3, f"Per task ({mode} scoring)"))
        for g in groups:
            if g == "list_functions":
                continue  # 250 rows; see results.json
            header, rows = per_task_rows(summary, comparison, g)
            blocks += [("p", f"**{GROUP_TITLES[g]}**"), ("table", header, rows)]
    return blocks


def _readings_blocks(results: dict[str, Any]) -> list[Block]:
    tables = readings_tables(results.get("readings") or {})
    if not tables:
        return []
    blocks: list[Block] = [("h", 2, "Readings: exemplar following and algorithmic controls")]
    for caption, header, rows in tables:
        blocks += [("p", caption), ("table", header, rows)]
    return blocks


def _algorithmic_blocks(figures: dict[str, Path]) -> list[Block]:
    title = ("h", 2, "List functions and Turing concepts (like the paper's Figure 5)")
    if "algorithmic" in figures:
        caption = "Exact match by list-function category and on Turing concepts."
        return [title, ("img", "algorithmic", caption)]
    return [
        title,
        (
            "p",
            "Not run in this configuration (list_functions/turing disabled or exact scoring off).",
        ),
    ]


def _flipped_blocks(figures: dict[str, Path]) -> list[Block]:
    title = ("h", 2, "Flipped labels (like the paper's Figure 6)")
    if "flipped" not in figures:
        return [title, ("p", "Not run in this configuration.")]
    caption = (
        "Accuracy against the flipped labels; the dashed line is chance (50%). Above it, the "
        "model follows the exemplars over its prior knowledge."
    )
    return [title, ("img", "flipped", caption)]


def _paper_blocks() -> list[Block]:
    """The paper's Table 1, quoted for context."""
    return [
        ("h", 2, "The paper's numbers, for context"),
        (
            "p",
            "Quoted from Wei et al. (2023), Table 1 (Flan-PaLM; average accuracy %, "
            "their 11 tasks, not ours). They are not comparable with ours: other models, "
            "other tasks, ~128k tuning prompts.",
        ),
        (
            "table",
            ["model (paper)", *[GROUP_TITLES[g] for g in ICL]],
            [[name, *[f"{v:.1f}" for v in values]] for name, values in PAPER_TABLE1],
        ),
        ("p", PAPER_OTHER),
    ]


def _reproduce_blocks(run: Path, models: dict[str, Any]) -> list[Block]:
    """The commands that remake the run (paths quoted for a shell) and the weights' sha256."""
    command = (
        f"symtune run {shlex.quote(str(RunDir(run).run_config))} --out "
        f"{shlex.quote(str(run))}\nsymtune report {shlex.quote(str(run))}"
    )
    rows = []
    for label, m in models.items():
        tuning = m.get("tuning_config") or {}
        keys = ("steps", "batch_size", "seq_len", "lr", "optimizer", "seed")
        how = ", ".join(f"{k} {tuning[k]}" for k in keys if k in tuning) or "–"
        rows.append([label, m["name"], f"`{m['sha256']}`" if m["sha256"] else "–", how])
    return [
        ("h", 2, "Reproduce"),
        ("pre", command),
        ("p", "The evaluated models' weights (sha256 of model.safetensors):"),
        ("table", ["label", "model", "sha256", "tuning"], rows),
    ]


def training_blocks(run: Path, figures: dict[str, Path]) -> list[Block]:
    """Every tuning run of the folder (arm by arm): steps, lr, loss, tokens/s, validation."""
    blocks: list[Block] = [("h", 2, "Training")]
    layout = RunDir(run)
    rows = []
    for label, path in layout.tuning_runs().items():
        metrics = metrics_of(path / "metrics.jsonl")
        if not metrics:
            continue
        config = read_json_object(path / "config.json", "run config")
        tokens = sum(m["tokens"] for m in metrics)
        seconds = sum(m["seconds"] for m in metrics)
        validation = metrics_of(path / "metrics.jsonl", "val_accuracy")
        rows.append(
            [
                label,
                f"{len(metrics)} × {config['batch_size']}",
                f"{config['lr']:g}",
                str(config.get("seed", 0)),
                f"{metrics[0]['loss']:.3f} → {metrics[-1]['loss']:.3f}",
                f"{tokens / max(seconds, 1e-9):,.0f}",
                ", ".join(f"{v['step']}: {100 * v['val_accuracy']:.1f}" for v in validation) or "–",
            ]
        )
    if rows:
        blocks.append(
            (
                "p",
                "Steps × prompts per step, learning rate, training seed, loss on the target "
                "tokens (first → last step), tokens/s, and accuracy (%) on held-out tuning-side "
                "prompts (symbols, no instruction) by step where validation ran.",
            )
        )
        header = ["model", "steps × batch", "lr", "seed", "loss", "tokens/s", "validation"]
        blocks.append(("table", header, rows))
        if "loss" in figures:
            blocks.append(("img", "loss", f"Loss on the target tokens per step ({rows[0][0]})."))
    stages_path = layout.stages
    if stages_path.exists():
        stages = read_json_object(stages_path, "stages file")
        rows = [
            [name, f"{info['seconds']:,.0f}"]
            for name, info in stages.items()
            if name != "report"
            and isinstance(info, dict)
            and isinstance(info.get("seconds"), int | float)
        ]
        blocks.append(("p", "Wall time per stage (seconds, last run of each stage):"))
        blocks.append(("table", ["stage", "seconds"], rows))
    return blocks


def examples(results: dict[str, Any], per_group: int = 1) -> list[Block]:
    """A prompt per group with every model's answer (the prompt's tail only)."""
    blocks: list[Block] = [("h", 2, "Example prompts")]
    seen: dict[str, int] = defaultdict(int)
    for item in results["items"]:
        if seen[item["group"]] >= per_group:
            continue
        seen[item["group"]] += 1
        answers = []
        for label, res in item["results"].items():
            if res:
                mode = MODES[first_mode(res)]
                answers.append(f"{label}: {mode.answer(res[mode.name])!r}")
        blocks.append(
            (
                "p",
                f"**{GROUP_TITLES.get(item['group'], item['group'])}** — "
                f"task {item['task']}, expected {item['answer']!r}; " + "; ".join(answers),
            )
        )
        context = item.get("context", "")
        if context:
            blocks.append(("pre", ("…" if len(context) > 700 else "") + context[-700:]))
    return blocks
