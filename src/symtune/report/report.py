"""`symtune report RUN_DIR`: report.md, PNG figures and a self-contained report.html, built only
from the run's results.json, metrics.jsonl, stages.json and data manifest."""

from __future__ import annotations

import base64
import html
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.evaluate.readings import mde
from symtune.evaluate.results import GROUP_TITLES, readings_tables
from symtune.io import atomic_write, read_json, read_json_object, read_jsonl

ICL = ("instr_labels", "labels_only", "instr_only", "neither")
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

Block = tuple[Any, ...]


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def delta_cell(c: dict[str, Any]) -> str:
    return f"{100 * c['delta']:+.1f} [{100 * c['ci'][0]:+.1f}, {100 * c['ci'][1]:+.1f}]"


def _figures(
    results: dict[str, Any],
    metrics: list[dict[str, Any]],
    mode: str,
    out: Path,
    validation: list[dict[str, Any]] | None = None,
) -> dict[str, Path]:
    """PNG figures; returns {name: path} for those that have data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results["summary"][mode]
    labels = list(summary)
    colors = {"base": "#8c8c8c", "tuned": "#1f77b4"}
    made: dict[str, Path] = {}

    def bars(
        name: str,
        groups: list[str],
        values: dict[str, list[float]],
        chance: list[float],
        title: str,
        ylabel: str = "accuracy (%)",
    ) -> None:
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(groups) + 2), 3.6))
        width = 0.8 / max(1, len(values))
        for j, (label, ys) in enumerate(values.items()):
            xs = [i + (j - (len(values) - 1) / 2) * width for i in range(len(groups))]
            ax.bar(xs, ys, width, label=label, color=colors.get(label))
        for i, c in enumerate(chance):
            if c:
                ax.hlines(
                    c,
                    i - 0.45,
                    i + 0.45,
                    colors="black",
                    linestyles="dashed",
                    label="random guessing" if i == 0 else None,
                )
        ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 100)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made[name] = path

    groups = [g for g in ICL if g in summary[labels[0]]]
    if groups:
        bars(
            "settings",
            [GROUP_TITLES[g] for g in groups],
            {label: [100 * summary[label][g]["average"] for g in groups] for label in labels},
            [100 * summary[labels[0]][g]["chance"] for g in groups],
            f"In-context learning, four settings ({mode} scoring)",
        )
    if "flipped" in summary[labels[0]]:
        tasks = sorted(summary[labels[0]]["flipped"]["tasks"])
        bars(
            "flipped",
            tasks,
            {
                label: [100 * summary[label]["flipped"]["tasks"][t]["accuracy"] for t in tasks]
                for label in labels
            },
            [50.0] * len(tasks),
            "Flipped labels (exemplars and target flipped)",
        )
    algorithmic = _algorithmic(results, mode)
    if algorithmic:
        names = list(algorithmic[labels[0]])
        bars(
            "algorithmic",
            names,
            {label: [100 * algorithmic[label][n] for n in names] for label in labels},
            [0.0] * len(names),
            "List functions by category and Turing concepts (exact match)",
        )
    if metrics:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot([m["step"] for m in metrics], [m["loss"] for m in metrics], color="#1f77b4")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (target tokens)")
        ax.set_title("Symbol-tuning loss", fontsize=10)
        if validation:
            right = ax.twinx()
            right.plot(
                [v["step"] for v in validation],
                [100 * v["val_accuracy"] for v in validation],
                color="#d62728",
                marker="o",
            )
            right.set_ylabel("validation accuracy (%)", color="#d62728")
            ax.set_title("Loss, and accuracy on held-out tuning-side prompts", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "loss.png", dpi=110)
        plt.close(fig)
        made["loss"] = out / "loss.png"
    return made


def _algorithmic(results: dict[str, Any], mode: str) -> dict[str, dict[str, float]]:
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


def _table1(summary: dict[str, Any], comparison: dict[str, Any] | None) -> Block:
    """A table like the paper's Table 1: average accuracy per group and model, the paired
    delta with its interval, McNemar p and MDE, and random guessing."""
    labels = list(summary)
    groups = [g for g in GROUP_TITLES if any(g in s for s in summary.values())]
    rows = [
        [label]
        + [
            f"{pct(summary[label][g]['average'])} (n={summary[label][g]['n']})"
            if g in summary[label]
            else "–"
            for g in groups
        ]
        for label in labels
    ]
    if comparison:
        rows.append(
            ["tuned − base [95% CI], MDE"]
            + [
                delta_cell(comparison[g])
                + f" p={comparison[g]['mcnemar_p']:.2g} MDE {pct(mde(comparison[g]['ci']))}"
                if g in comparison
                else "–"
                for g in groups
            ]
        )
    first = summary[labels[0]]
    rows.append(
        ["random guessing"]
        + [pct(first[g]["chance"]) if g in first and first[g]["chance"] else "–" for g in groups]
    )
    return ("table", ["model", *[GROUP_TITLES[g] for g in groups]], rows)


def _extra_eval_blocks(run: Path) -> list[Block]:
    """The run's second evaluation (RUN/eval-extra, e.g. the `reachable` suite): its Table 1
    per scoring mode and its readings."""
    path = run / "eval-extra" / "results.json"
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
    for mode, summary in results["summary"].items():
        blocks.append(("p", f"**{mode} scoring**"))
        blocks.append(_table1(summary, (results.get("comparison") or {}).get(mode)))
    for caption, header, rows in readings_tables(results.get("readings") or {}):
        blocks += [("p", caption), ("table", header, rows)]
    return blocks


def _blocks(run: Path, results: dict[str, Any], figures: dict[str, Path]) -> list[Block]:
    """The report as blocks: ("h", level, text), ("p", text), ("table", header, rows),
    ("img", name, caption), ("pre", text)."""
    config = results["config"]
    blocks: list[Block] = [("h", 1, f"symtune report: {run.name}")]
    models = results["models"]
    blocks.append(
        (
            "p",
            "Models: "
            + "; ".join(f"{label} = {m['name']}" for label, m in models.items())
            + f". Suite: {config['suite']}. Seeds: {list(config['seeds'])}; "
            f"k = {config['k']} exemplars per class; at most {config['max_queries']} "
            "queries per task. Accuracy in %, averaged over tasks; n = scored prompts; "
            "intervals are paired 95% bootstrap intervals, p from exact McNemar tests.",
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
    for mode, summary in results["summary"].items():
        comparison = (results.get("comparison") or {}).get(mode)
        labels = list(summary)
        groups = [g for g in GROUP_TITLES if any(g in s for s in summary.values())]
        blocks.append(("h", 2, f"Summary, like the paper's Table 1 ({mode} scoring)"))
        blocks.append(_table1(summary, comparison))
        first = summary[labels[0]]
        if "settings" in figures and not any(b[0] == "img" for b in blocks):
            blocks.append(("img", "settings", "Average accuracy per setting, base vs tuned."))
        if comparison:
            blocks.append(
                (
                    "p",
                    "MDE: the minimum detectable effect at this n (a paired difference a "
                    "two-sided 5% test finds with 80% power), from the interval's width.",
                )
            )
        blocks.append(("h", 3, f"Per task ({mode} scoring)"))
        for g in groups:
            if g == "list_functions":
                continue
            tasks = sorted(first[g]["tasks"]) if g in first else []
            task_rows = []
            for t in tasks:
                row = [t, str(first[g]["tasks"][t]["n"])]
                row += [pct(summary[label][g]["tasks"][t]["accuracy"]) for label in labels]
                if comparison and g in comparison and t in comparison[g]["tasks"]:
                    row.append(delta_cell(comparison[g]["tasks"][t]))
                task_rows.append(row)
            header = ["task", "n", *labels] + (["tuned − base [95% CI]"] if comparison else [])
            blocks.append(("p", f"**{GROUP_TITLES[g]}**"))
            blocks.append(("table", header, task_rows))
    tables = readings_tables(results.get("readings") or {})
    if tables:
        blocks.append(("h", 2, "Readings: exemplar following and algorithmic controls"))
        for caption, header, rows in tables:
            blocks += [("p", caption), ("table", header, rows)]
    blocks.append(("h", 2, "List functions and Turing concepts (like the paper's Figure 5)"))
    if "algorithmic" in figures:
        blocks.append(
            ("img", "algorithmic", "Exact match by list-function category and on Turing concepts.")
        )
    else:
        blocks.append(
            (
                "p",
                "Not run in this configuration (list_functions/turing disabled or "
                "exact scoring off).",
            )
        )
    blocks.append(("h", 2, "Flipped labels (like the paper's Figure 6)"))
    if "flipped" in figures:
        blocks.append(
            (
                "img",
                "flipped",
                "Accuracy against the flipped labels; the dashed line "
                "is chance (50%). Above it, the model follows the exemplars over its "
                "prior knowledge.",
            )
        )
    else:
        blocks.append(("p", "Not run in this configuration."))
    blocks += _extra_eval_blocks(run)
    blocks += _training_blocks(run, figures)
    blocks += _sweep_blocks(run)
    blocks += _ablation_blocks(run, figures)
    blocks.append(("h", 2, "The paper's numbers, for context"))
    blocks.append(
        (
            "p",
            "Quoted from Wei et al. (2023), Table 1 (Flan-PaLM; average accuracy %, "
            "their 11 tasks, not ours). They are not comparable with ours: other models, "
            "other tasks, ~128k tuning prompts.",
        )
    )
    blocks.append(
        (
            "table",
            ["model (paper)", *[GROUP_TITLES[g] for g in ICL]],
            [[name, *[f"{v:.1f}" for v in values]] for name, values in PAPER_TABLE1],
        )
    )
    blocks.append(("p", PAPER_OTHER))
    blocks += _examples(results)
    blocks.append(("h", 2, "Reproduce"))
    blocks.append(
        ("pre", f"symtune run {run / 'run_config.yaml'} --out {run}\nsymtune report {run}")
    )
    blocks.append(("p", "The evaluated models' weights (sha256 of model.safetensors):"))
    model_rows = []
    for label, m in models.items():
        tuning = m.get("tuning_config") or {}
        how = (
            ", ".join(
                f"{k} {tuning[k]}"
                for k in ("steps", "batch_size", "seq_len", "lr", "optimizer", "seed")
                if k in tuning
            )
            or "–"
        )
        model_rows.append([label, m["name"], f"`{m['sha256']}`" if m["sha256"] else "–", how])
    blocks.append(("table", ["label", "model", "sha256", "tuning"], model_rows))
    return blocks


def _training_blocks(run: Path, figures: dict[str, Path]) -> list[Block]:
    blocks: list[Block] = [("h", 2, "Training")]
    metrics = _metrics(run / "tune" / "metrics.jsonl")
    if metrics:
        config = read_json_object(run / "tune" / "config.json", "run config")
        tokens = sum(m["tokens"] for m in metrics)
        seconds = sum(m["seconds"] for m in metrics)
        blocks.append(
            (
                "p",
                f"{len(metrics)} steps × {config['batch_size']} prompts "
                f"(lr {config['lr']}, {config['optimizer']}, seq-len {config['seq_len']}, "
                f"{config['dtype']}); loss {metrics[0]['loss']:.3f} → "
                f"{metrics[-1]['loss']:.3f}; {tokens:,} tokens in {seconds:,.0f} s "
                f"({tokens / max(seconds, 1e-9):,.0f} tokens/s).",
            )
        )
        if "loss" in figures:
            blocks.append(("img", "loss", "Loss on the target tokens per step."))
        validation = _metrics(run / "tune" / "metrics.jsonl", "val_accuracy")
        if validation:
            best = max(validation[1:] or validation, key=lambda v: v["val_accuracy"])
            curve = ", ".join(
                f"step {v['step']}: {100 * v['val_accuracy']:.1f}" for v in validation
            )
            blocks.append(
                (
                    "p",
                    f"Held-out tuning-side validation (symbols, no instruction; "
                    f"n = {validation[-1]['val_n']} prompts, rank accuracy %): {curve}. "
                    f"Best: step {best['step']}.",
                )
            )
    stages_path = run / "stages.json"
    if stages_path.exists():
        stages = read_json_object(stages_path, "stages file")
        rows = [
            [name, f"{info['seconds']:,.0f}"] for name, info in stages.items() if name != "report"
        ]
        blocks.append(("p", "Wall time per stage (seconds, last run of each stage):"))
        blocks.append(("table", ["stage", "seconds"], rows))
    return blocks


def _read(path: Path) -> Any:
    return read_json(path) if path.exists() else None


def _metrics(path: Path, kind: str = "loss") -> list[dict[str, Any]]:
    """A tuning run's metrics.jsonl records of one kind: "loss" (training steps) or
    "val_accuracy" (in-run validation); none when the file is absent. A torn last line (a kill
    mid-append) is left out."""
    return [r for r in read_jsonl(path) if kind in r]


def _tuning_run_of(name: str) -> Path:
    """The tuning run directory behind an evaluated model (a run dir or one of its
    checkpoints)."""
    path = Path(name)
    return path.parent.parent if (path / "trainable.safetensors").exists() else path


def _run_summary(run: Path) -> dict[str, Any]:
    """What a tuning run did, from its own files: config, steps, tokens, seconds, losses."""
    config = _read(run / "config.json") or {}
    metrics = _metrics(run / "metrics.jsonl")
    manifest = _read(run / "mixture_manifest.json") or {}
    return {
        "config": config,
        "steps": len(metrics),
        "tokens": sum(m["tokens"] for m in metrics),
        "seconds": sum(m["seconds"] for m in metrics),
        "loss": (metrics[0]["loss"], metrics[-1]["loss"]) if metrics else None,
        "budget": manifest.get("config", {}).get("max_tokens"),
        "relevant_ratio": manifest.get("config", {}).get("relevant_ratio", 0.0),
    }


def _sweep_blocks(run: Path) -> list[Block]:
    """The hyper-parameter sweep (if the run has sweep/val/<arm>/results.json): tuning-task
    validation accuracy per arm, never the evaluation pool."""
    arms = sorted(p.parent.name for p in (run / "sweep" / "val").glob("*/results.json"))
    arms = [a for a in arms if a != "base"]
    if not arms:
        return []
    main = _read(run / "tune" / "config.json") or {}
    rows = []
    for arm in arms:
        results = _read(run / "sweep" / "val" / arm / "results.json")
        info = _run_summary(run / "sweep" / arm)
        config = info["config"]
        mode = next(iter(results["summary"]))
        group = next(iter(results["summary"][mode]["tuned"]))
        tuned = results["summary"][mode]["tuned"][group]
        base = results["summary"][mode]["base"][group]
        comparison = results["comparison"][mode][group]
        chosen = config.get("lr") == main.get("lr") and config.get("seq_len") == main.get("seq_len")
        rows.append(
            [
                arm + (" (chosen)" if chosen else ""),
                str(config.get("lr")),
                str(info["budget"]),
                f"{info['steps']} × {config.get('batch_size')}",
                f"{info['tokens']:,}",
                f"{info['seconds']:,.0f}",
                f"{info['loss'][1]:.3f}" if info["loss"] else "–",
                f"{pct(base['average'])}",
                f"{pct(tuned['average'])} (n={tuned['n']})",
                delta_cell(comparison),
            ]
        )
    return [
        ("h", 2, "Hyper-parameter sweep (tuning tasks' validation splits)"),
        (
            "p",
            "Short runs on the same mixture, scored on held-out validation rows of the "
            f"tuning tasks ({GROUP_TITLES.get(group, group)}, {mode} scoring) — the "
            "evaluation tasks are not looked at. The chosen arm's lr and prompt budget are "
            "the main run's.",
        ),
        (
            "table",
            [
                "arm",
                "lr",
                "prompt budget",
                "steps × prompts",
                "tokens",
                "seconds",
                "final loss",
                "base",
                "tuned",
                "tuned − base [95% CI]",
            ],
            rows,
        ),
    ]


ABLATION_GROUPS = ("instr_labels", "labels_only", "instr_only", "neither", "flipped")


def _ablation_blocks(run: Path, figures: dict[str, Path]) -> list[Block]:
    """One line per ablation (ablations/eval/<name>/results.json): what the tuned model was
    and its paired difference from base per setting."""
    found = {p.parent.name: _read(p) for p in (run / "ablations" / "eval").glob("*/results.json")}
    if not found:
        return []
    order = sorted(found, key=lambda n: (n.startswith("step-"), n == "final", n))
    rows = []
    groups: list[str] = []
    for name in order:
        results = found[name]
        mode = "rank" if "rank" in results["comparison"] else next(iter(results["comparison"]))
        comparison = results["comparison"][mode]
        groups = groups or [g for g in ABLATION_GROUPS if g in comparison]
        record = results["models"]["tuned"]
        info = _run_summary(_tuning_run_of(record["name"]))
        config = info["config"]
        steps = record.get("step", info["steps"])
        what = (
            f"{steps} steps × {config.get('batch_size')}, lr {config.get('lr')}, "
            f"budget {info['budget']}, "
            f"{'target + seen labels' if config.get('seen_labels') else 'target only'}, "
            f"relevant-label share {info['relevant_ratio']}"
        )
        rows.append([name, what, *[delta_cell(comparison[g]) for g in groups]])
    blocks: list[Block] = [
        ("h", 2, "Ablations"),
        (
            "p",
            "Each line: a tuned model against base on the same prompts (rank scoring, paired "
            "95% intervals, points). `reference`, `seen` and `relevant` are short runs that "
            "differ in one thing; `step-N` are checkpoints of the main run and `final` its "
            "last step (the curve over tuning steps).",
        ),
        ("table", ["model", "what", *[GROUP_TITLES[g] for g in groups]], rows),
    ]
    if "steps" in figures:
        blocks.append(("img", "steps", "Tuned − base per setting over the main run's steps."))
    return blocks


def steps_figure(run: Path, out: Path) -> Path | None:
    """Tuned − base (points, with 95% intervals) against the main run's step, per setting."""
    points = []
    for path in (run / "ablations" / "eval").glob("*/results.json"):
        results = _read(path)
        record = results["models"]["tuned"]
        if _tuning_run_of(record["name"]).resolve() != (run / "tune").resolve():
            continue
        step = record.get("step") or _run_summary(run / "tune")["steps"]
        mode = "rank" if "rank" in results["comparison"] else next(iter(results["comparison"]))
        points.append((step, results["comparison"][mode]))
    if len(points) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points.sort(key=lambda p: p[0])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for g in ABLATION_GROUPS:
        if g not in points[0][1]:
            continue
        xs = [0] + [p[0] for p in points]
        ys = [0.0] + [100 * p[1][g]["delta"] for p in points]
        lo = [0.0] + [100 * p[1][g]["ci"][0] for p in points]
        hi = [0.0] + [100 * p[1][g]["ci"][1] for p in points]
        line = ax.plot(xs, ys, marker="o", label=GROUP_TITLES[g])[0]
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.12)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("tuning steps")
    ax.set_ylabel("tuned − base (points)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "steps.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _examples(results: dict[str, Any], per_group: int = 1) -> list[Block]:
    """A prompt per group with every model's answer (the prompt's tail only)."""
    blocks: list[Block] = [("h", 2, "Example prompts")]
    seen: dict[str, int] = defaultdict(int)
    for item in results["items"]:
        if seen[item["group"]] >= per_group:
            continue
        seen[item["group"]] += 1
        answers = []
        for label, res in item["results"].items():
            if "exact" in res:
                answers.append(f"{label}: {res['exact']['output']!r}")
            elif "rank" in res:
                answers.append(f"{label}: {res['rank']['prediction']!r}")
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


def _markdown(blocks: list[Block], figures_dir: Path = Path()) -> str:
    out = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            out.append("#" * block[1] + " " + block[2])
        elif kind == "p":
            out.append(block[1])
        elif kind == "table":
            header, rows = block[1], block[2]
            out.append(
                "| "
                + " | ".join(header)
                + " |\n|"
                + "---|" * len(header)
                + "\n"
                + "\n".join("| " + " | ".join(r) + " |" for r in rows)
            )
        elif kind == "img":
            out.append(f"![{block[2]}]({(figures_dir / block[1]).as_posix()}.png)")
        elif kind == "pre":
            out.append("```\n" + block[1] + "\n```")
        elif kind == "raw":
            out.append(block[1])
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    escaped = html.escape(text)
    parts = escaped.split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def _html(blocks: list[Block], figures: dict[str, Path]) -> str:
    body = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            body.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
        elif kind == "p":
            body.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                for r in block[2]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(figures[block[1]].read_bytes()).decode()
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{block[1]}">'
                f"<figcaption>{html.escape(block[2])}</figcaption></figure>"
            )
        elif kind == "pre":
            body.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "raw":  # Markdown notes: paragraphs kept, markup shown as text
            body += [f"<p>{_inline(par)}</p>" for par in block[1].split("\n\n")]
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;"
        "padding:8px;white-space:pre-wrap;font-size:12px}img{max-width:100%}"
        "figcaption{font-size:12px;color:#555}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>symtune report</title>"
        f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )


def write_report(
    run: Path, out: Path | None = None, markdown: Path | None = None, notes: Path | None = None
) -> Path:
    """Write {report.md, report.html, *.png} to `out` (default run/report); returns report.md's
    path. `markdown`: also write the Markdown there, its figure links relative to it. `notes`:
    a Markdown file placed under the title (a write-up of what the numbers below show)."""
    if notes is not None and not notes.exists():
        raise SymtuneError(f"notes file {notes} not found")
    results_path = run / "eval" / "results.json"
    if not results_path.exists():
        raise SymtuneError(
            f"{run}: no eval/results.json; run `symtune run` or `symtune eval` first"
        )
    results = read_json_object(results_path, "results")
    _attach_contexts(results)
    metrics = _metrics(run / "tune" / "metrics.jsonl")
    out = out or run / "report"
    out.mkdir(parents=True, exist_ok=True)
    mode = "exact" if "exact" in results["summary"] else next(iter(results["summary"]))
    validation = _metrics(run / "tune" / "metrics.jsonl", "val_accuracy")
    figures = _figures(results, metrics, mode, out, validation)
    steps = steps_figure(run, out)
    if steps is not None:
        figures["steps"] = steps
    blocks = _blocks(run, results, figures)
    if notes is not None:
        blocks[1:1] = [("raw", notes.read_text(encoding="utf-8").strip())]
    atomic_write(out / "report.md", _markdown(blocks))
    atomic_write(out / "report.html", _html(blocks, figures))
    if markdown is not None:
        prefix = Path(os.path.relpath(out.resolve(), markdown.resolve().parent))
        atomic_write(markdown, _markdown(blocks, prefix))
    return out / "report.md"


def _attach_contexts(results: dict[str, Any]) -> None:
    """results.json stores prompt metadata, not text; rebuild the example prompts' text."""
    from symtune.evaluate.api import build_items
    from symtune.evaluate.protocol import EvalConfig

    wanted: dict[str, int] = {}
    for i, item in enumerate(results["items"]):
        wanted.setdefault(item["group"], i)
    config = results["config"]
    values = {**config, **{k: tuple(v) for k, v in config.items() if isinstance(v, list)}}
    try:
        items, _ = build_items(EvalConfig(**values))
    except SymtuneError:
        return
    by_id = {i.id: i.context for i in items}
    for index in wanted.values():
        item = results["items"][index]
        item["context"] = by_id.get(item["id"], "")
