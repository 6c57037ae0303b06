"""The issue-7 experiment's own report sections (the sweep and the ablations), read from its
run directory, and its report command:

    python experiments/smollm2/report.py EXP [--out DIR] [--markdown FILE] [--notes FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from symtune.analysis.summary import GROUP_TITLES
from symtune.analysis.tables import interval, pct
from symtune.layout import RunDir
from symtune.report.read import read_optional, run_summary, tuning_run_of
from symtune.report.render import Block


def _tuning_run(run: Path) -> Path:
    """The run's (first) tuning run: its symbol arm, or tune/ in runs made before arms."""
    return next(iter(RunDir(run).tuning_runs().values()), run / "tune")


def sweep_blocks(run: Path) -> list[Block]:
    """The hyper-parameter sweep (if the run has sweep/val/<arm>/results.json): tuning-task
    validation accuracy per arm, never the evaluation pool."""
    arms = sorted(p.parent.name for p in (run / "sweep" / "val").glob("*/results.json"))
    arms = [a for a in arms if a != "base"]
    if not arms:
        return []
    main = read_optional(_tuning_run(run) / "config.json") or {}
    rows = []
    for arm in arms:
        results = read_optional(run / "sweep" / "val" / arm / "results.json")
        info = run_summary(run / "sweep" / arm)
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
                interval(comparison),
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


def ablation_blocks(run: Path, figures: dict[str, Path]) -> list[Block]:
    """One line per ablation (ablations/eval/<name>/results.json): what the tuned model was
    and its paired difference from base per setting."""
    found = {
        p.parent.name: read_optional(p) for p in (run / "ablations" / "eval").glob("*/results.json")
    }
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
        info = run_summary(tuning_run_of(record["name"]))
        config = info["config"]
        steps = record.get("step", info["steps"])
        what = (
            f"{steps} steps × {config.get('batch_size')}, lr {config.get('lr')}, "
            f"budget {info['budget']}, "
            f"{'target + seen labels' if config.get('seen_labels') else 'target only'}, "
            f"relevant-label share {info['relevant_ratio']}"
        )
        rows.append([name, what, *[interval(comparison[g]) for g in groups]])
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
        results = read_optional(path)
        record = results["models"]["tuned"]
        if tuning_run_of(record["name"]).resolve() != (_tuning_run(run)).resolve():
            continue
        step = record.get("step") or run_summary(_tuning_run(run))["steps"]
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


def sweep_section(run: Path, out: Path) -> tuple[list[Block], dict[str, Path]]:
    return sweep_blocks(run), {}


def ablation_section(run: Path, out: Path) -> tuple[list[Block], dict[str, Path]]:
    steps = steps_figure(run, out)
    figures = {"steps": steps} if steps is not None else {}
    return ablation_blocks(run, figures), figures


SECTIONS = (sweep_section, ablation_section)


def main() -> None:
    from symtune.errors import SymtuneError
    from symtune.report.report import write_report

    parser = argparse.ArgumentParser(description="The issue-7 experiment's report.")
    parser.add_argument("exp", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--notes", type=Path)
    args = parser.parse_args()
    try:
        path = write_report(args.exp, args.out, args.markdown, args.notes, sections=SECTIONS)
    except SymtuneError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
