"""Markdown tables of an experiments/gpu run, from its folder alone (summary.json and the
evaluations' results.json): `python experiments/gpu/paper_scale.py report EXP`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analyze import eval_section


def _rate(entry: dict[str, Any], key: str = "tokens_per_s") -> str:
    return "error: " + entry["error"] if "error" in entry else f"{entry[key]:,.0f}"


def run_lines(summary: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    env = summary.get("environment", {})
    lines = [
        f"Card: {env.get('device', '?')}; versions: "
        + ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items()),
    ]
    if "peak_flops" in summary:
        lines.append(f"Measured bf16 matmul peak: {summary['peak_flops'] / 1e12:,.1f} TFLOP/s.")
    run = summary.get("paper_run")
    if run:
        stop = run["stopped"]
        lines += [
            "\n## The paper-scale run\n",
            f"{run['steps']} of {run['of_steps']} steps x {plan['batch']} prompts = "
            f"{run['prompts']:,} prompts ({run['tokens']:,} tokens) in {run['seconds']:,.0f} s, "
            f"{run['tokens_per_s']:,.0f} tokens/s; lr {plan['lr']:g}, {plan['dtype']}, prompts "
            f"of at most {plan['max_tokens']} tokens; loss {run['first_loss']:.3f} -> "
            f"{run['last_loss']:.3f}; kept step (best on validation): {run['kept_step']}"
            + (f"; stopped by the deadline at step {stop['step']}." if stop else "."),
        ]
    return lines


def bench_lines(summary: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    tuning = summary.get("bench_tuning")
    if tuning:
        lines += [
            "\n## Tuning throughput per attention (steps 3+, same prompts)\n",
            "| attention | tokens/s | MFU (measured peak) |",
            "|---|---|---|",
        ]
        for name, entry in tuning.items():
            mfu = "" if "error" in entry else f"{entry['mfu']:.1%}"
            lines.append(f"| {name} | {_rate(entry)} | {mfu} |")
    trl = summary.get("bench_trl")
    if trl:
        lines += ["\n## symtune vs TRL SFTTrainer (all steps, warm-up included)\n"]
        if "error" in trl:
            lines.append(trl["error"])
        else:
            lines += ["| trainer | tokens/s | loss per step |", "|---|---|---|"]
            for name, entry in trl.items():
                losses = entry.get("losses", "")
                lines.append(f"| {name} | {_rate(entry)} | {losses} |")
            ours = trl["symtune/auto"]["tokens_per_s"]
            best = max(
                (
                    e["tokens_per_s"]
                    for n, e in trl.items()
                    if n.startswith("trl/") and "error" not in e
                ),
                default=None,
            )
            if best:
                lines.append(f"\nsymtune / best TRL: {ours / best:.2f}x")
    scoring = summary.get("bench_scoring")
    if scoring:
        rates = scoring["prompts_per_s"]
        lines += [
            "\n## Rank scoring, fp32\n",
            f"{scoring['prompts']} reachable prompts: packed {rates['packed']:,.1f} prompts/s, "
            f"one at a time {rates['one_at_a_time']:,.1f} prompts/s, ratio "
            f"{scoring['ratio']:.1f}x; largest log-likelihood difference "
            f"{scoring['max_abs_loglik_difference']:.2e}.",
        ]
    return lines


def report(exp: Path) -> str:
    summary = json.loads((exp / "summary.json").read_text())
    plan = json.loads((exp / "plan.json").read_text())
    out = [f"# symtune on one GPU ({exp.name})\n", *run_lines(summary, plan)]
    for bench in ("reachable", "algorithmic", "offline"):
        if (exp / "eval" / bench / "results.json").exists():
            out += eval_section(exp, bench)[0]
        else:
            out.append(f"\n## {bench}: not run (deadline)")
    out += bench_lines(summary)
    return "\n".join(out)
