"""symtune's evaluation items as an lm-evaluation-harness task group, so that any lm-eval
backend (HF, vLLM, API models) can run symtune's protocol:

    symtune eval export --suite reachable --out tasks/
    lm_eval --model hf --model_args pretrained=MODEL --include_path tasks/ \\
        --tasks symtune_reachable_rank

One lm-eval task per (group, seed, scoring mode): `multiple_choice` for rank scoring (the
context, then " " + each label; accuracy = the right label's log-likelihood ranked first),
`generate_until` for exact match (greedy, cut at a newline, leading whitespace removed). The
items live in JSONL files beside the YAML (referenced by absolute path: export again after
moving the folder). Groups `symtune_<suite>_rank` and `symtune_<suite>_exact` hold the tasks."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from symtune.analysis.modes import MODES
from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.protocol import Item
from symtune.io import temp_path


def task_name(suite: str, group: str, seed: int, mode: str) -> str:
    """symtune_<suite>_<group>_s<seed>_<mode> (a suite file's stem for a suite YAML)."""
    stem = Path(suite).stem if suite.endswith((".yaml", ".yml")) else suite
    clean = "".join(c if c.isalnum() else "_" for c in stem)
    return f"symtune_{clean}_{group}_s{seed}_{mode}"


def record(item: Item) -> dict[str, Any]:
    """One JSONL document: what both task types read."""
    choices = list(item.candidates)
    return {
        "id": item.id,
        "task": item.task,
        "context": item.context,
        "choices": choices,
        "gold": choices.index(item.answer) if item.answer in choices else -1,
        "answer": item.answer,
        "max_gen_toks": item.max_new_tokens,
    }


def task_yaml(name: str, data: Path, mode: str, max_gen_toks: int) -> dict[str, Any]:
    common = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
        "test_split": "test",
        "doc_to_text": "context",
        "num_fewshot": 0,
    }
    if mode == "rank":
        return {
            **common,
            "output_type": "multiple_choice",
            "doc_to_choice": "choices",
            "doc_to_target": "gold",
            "target_delimiter": " ",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        }
    return {
        **common,
        "output_type": "generate_until",
        "doc_to_target": "answer",
        "target_delimiter": " ",
        "generation_kwargs": {"until": ["\n"], "do_sample": False, "max_gen_toks": max_gen_toks},
        "filter_list": [
            {
                "name": "strip",
                "filter": [{"function": "remove_whitespace"}, {"function": "take_first"}],
            }
        ],
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
    }


def export_tasks(config: EvalConfig, items: list[Item], out: Path) -> dict[str, list[str]]:
    """Write the task group to `out` (a temp folder renamed); returns {group name: tasks}."""
    if out.exists():
        raise SymtuneError(f"--out {out} exists; choose a new folder for the export")
    by_key: dict[tuple[str, int], list[Item]] = defaultdict(list)
    for item in items:
        by_key[(item.group, item.seed)].append(item)
    tmp = temp_path(out)
    tmp.mkdir(parents=True)
    groups: dict[str, list[str]] = defaultdict(list)
    try:
        for (group, seed), members in sorted(by_key.items()):
            data = tmp / f"{group}_s{seed}.jsonl"
            data.write_text("".join(json.dumps(record(i)) + "\n" for i in members))
            for mode in config.scoring:
                if not all(MODES[mode].applies_to(i) for i in members):
                    continue
                name = task_name(config.suite, group, seed, mode)
                longest = max(i.max_new_tokens for i in members)
                spec = task_yaml(name, out / data.name, mode, longest)
                (tmp / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
                groups[task_name(config.suite, "all", 0, mode).replace("_all_s0", "")].append(name)
        for group, names in groups.items():
            metric = "acc" if group.endswith("_rank") else "exact_match"
            spec = {
                "group": group,
                "task": names,
                "aggregate_metric_list": [
                    {"metric": metric, "aggregation": "mean", "weight_by_size": True}
                ],
            }
            (tmp / f"{group}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        (tmp / "symtune_eval_config.json").write_text(
            json.dumps(config.to_dict(), indent=1, sort_keys=True) + "\n"
        )
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dict(groups)
