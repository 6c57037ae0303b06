"""`symtune scan`: which tasks can a model do at all? Per task, accuracy with the instruction
and the relevant labels (headroom: the task is within reach) and in the "neither" setting, with
n, random guessing and 95% Wilson intervals; the tasks that pass a threshold form a suite YAML.

In-context learning can only show on tasks whose input-label relation the model can use, so an
evaluation suite for a small model starts from this scan."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from symtune.analysis.tables import markdown_table, pct
from symtune.errors import SymtuneError
from symtune.evaluate.config import SCORING, EvalConfig
from symtune.evaluate.protocol import Item
from symtune.io import atomic_json, atomic_write
from symtune.outdir import claim
from symtune.schema import Check, refuse_bad_fields
from symtune.tasks import Suite, TaskSpec

RELEVANT = "instr_labels"
NEITHER = "neither"


@dataclass(frozen=True)
class ScanConfig:
    """What `symtune scan` runs and the rule a task must pass."""

    suite: str = "candidates"
    """A built-in suite or suite YAML; its evaluation tasks are scanned."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds."""
    max_queries: int = 34
    """Queries per task and seed (34 x 3 seeds = 102 prompts per task and setting)."""
    k: int = 4
    """Exemplars per class."""
    scoring: str = "exact"
    """exact or rank."""
    margin: float = 0.15
    """Pass: relevant-label accuracy at least chance + margin ..."""
    low_margin: float = 0.05
    """... and the lower end of its 95% interval above chance + low_margin."""
    batch_size: int = 8
    """Sequences per forward."""
    dtype: str = "auto"
    """auto (bf16 on CUDA and on CPUs with AMX or AVX512-BF16, else fp32), bf16 or fp32."""
    trust_remote_code: bool = False
    """Run the model's own Python code (its config's auto_map); off: such a model is refused."""

    def validate(self) -> None:
        """Raise a one-line error naming every bad field."""
        checks: list[Check] = [
            (0.0 <= self.margin < 1.0, "margin", self.margin, "a share in [0, 1)"),
            (0.0 <= self.low_margin < 1.0, "low_margin", self.low_margin, "a share in [0, 1)"),
            (
                self.low_margin <= self.margin,
                "low_margin",
                self.low_margin,
                f"at most margin={self.margin}",
            ),
            (self.scoring in SCORING, "scoring", self.scoring, "exact or rank"),
        ]
        refuse_bad_fields("scan config", self, checks)

    def eval_config(self, tokenizer: str) -> EvalConfig:
        """The evaluation this scan runs: two settings, no flipped labels, no algorithmic."""
        return EvalConfig(
            suite=self.suite,
            settings=(RELEVANT, NEITHER),
            flipped=False,
            seeds=self.seeds,
            k=self.k,
            max_queries=self.max_queries,
            scoring=(self.scoring,),
            list_functions="none",
            turing=False,
            tokenizer=tokenizer,
            batch_size=self.batch_size,
            dtype=self.dtype,
            trust_remote_code=self.trust_remote_code,
        )


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sensible at 0 and n, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def passes(accuracy: float, low: float, chance: float, margin: float, low_margin: float) -> bool:
    """The headroom rule: accuracy >= chance + margin and interval low end > chance + low_margin.
    (A tolerance keeps 0.65 >= 0.5 + 0.15 true in floating point.)"""
    return accuracy >= chance + margin - 1e-9 and low > chance + low_margin


def scan_rows(
    records: list[Mapping[str, Any]], label: str, config: ScanConfig
) -> list[dict[str, Any]]:
    """One row per task: n, random guessing, the majority answer's share of the queries (what
    a constant answer scores), accuracy with its interval in both settings, and whether the
    task passes; the rule is measured from the larger of chance and the majority share. Pure:
    the item records of results.json in, for model `label`."""
    by_task: dict[str, dict[str, list[bool]]] = {}
    answers: dict[str, list[str]] = {}
    chance: dict[str, float] = {}
    for record in records:
        scored = record["results"].get(label, {}).get(config.scoring)
        if scored is None or not record["candidates"]:
            continue
        by_task.setdefault(record["task"], {}).setdefault(record["group"], []).append(
            bool(scored["correct"])
        )
        if record["group"] == RELEVANT:
            answers.setdefault(record["task"], []).append(record["answer"])
        chance[record["task"]] = 1.0 / len(record["candidates"])
    rows = []
    for task in sorted(by_task):
        given = answers.get(task, [])
        majority = max(given.count(a) for a in set(given)) / len(given) if given else 0.0
        row: dict[str, Any] = {"task": task, "chance": chance[task], "majority": majority}
        for setting in (RELEVANT, NEITHER):
            values = by_task[task].get(setting, [])
            low, high = wilson(sum(values), len(values))
            row[setting] = {
                "accuracy": sum(values) / len(values) if values else 0.0,
                "n": len(values),
                "ci": [low, high],
            }
        relevant = row[RELEVANT]
        baseline = max(chance[task], majority)
        row["passed"] = passes(
            relevant["accuracy"], relevant["ci"][0], baseline, config.margin, config.low_margin
        )
        rows.append(row)
    return rows


def suite_yaml(tuning: list[Any], evaluation: list[Any], comment: str) -> str:
    """A suite file (the form `--suite FILE` reads) holding the passing tasks."""
    body = yaml.safe_dump(
        {"tuning": tuning, "evaluation": evaluation}, sort_keys=False, allow_unicode=True
    )
    return f"# {comment}\n{body}"


def run_scan(
    config: ScanConfig,
    model: str,
    out: Path,
    progress: Callable[[str, int], Callable[[Item, str], None]] | None = None,
) -> dict[str, Any]:
    """Evaluate `model` in the two settings (resumable, under out/eval), then write
    out/scan.json, out/scan.md and out/suite.yaml (the passing tasks)."""
    from symtune.models import check_model
    from symtune.tasks.suites import suite_specs

    config.validate()
    config.eval_config(model).validate()
    suite, specs = suite_specs(config.suite)
    if not suite.evaluation:
        raise SymtuneError(f"scan: suite {config.suite!r} has no evaluation tasks")
    check_model(model)
    with claim(out, "scan"):
        return _scan(config, model, out, suite, specs, progress)


def _scan(
    config: ScanConfig,
    model: str,
    out: Path,
    suite: Suite,
    specs: Mapping[str, TaskSpec],
    progress: Callable[[str, int], Callable[[Item, str], None]] | None,
) -> dict[str, Any]:
    from symtune.evaluate.api import evaluate
    from symtune.tasks.config import spec_to_entry

    document = evaluate(config.eval_config(model), {"base": model}, out / "eval", progress)
    rows = scan_rows(document["items"], "base", config)
    passed = [r["task"] for r in rows if r["passed"]]
    scan = {
        "config": asdict(config),
        "model": document["models"]["base"],
        "versions": document["versions"],
        "rule": (
            f"{RELEVANT} accuracy >= baseline + {config.margin:g} and its 95% Wilson "
            f"interval's lower end > baseline + {config.low_margin:g}, baseline = the larger "
            f"of random guessing and the majority answer's share (scoring: {config.scoring})"
        ),
        "rows": rows,
        "passed": passed,
    }
    atomic_json(out / "scan.json", scan)
    atomic_write(out / "scan.md", scan_markdown(scan))
    comment = f"symtune scan of {model} over suite {config.suite}: {scan['rule']}"
    tuning = [spec_to_entry(specs[n]) for n in suite.tuning]
    evaluation = [spec_to_entry(specs[n]) for n in passed]
    atomic_write(out / "suite.yaml", suite_yaml(tuning, evaluation, comment))
    return scan


def _cell(entry: Mapping[str, Any]) -> str:
    low, high = entry["ci"]
    return f"{pct(entry['accuracy'])} [{pct(low)}, {pct(high)}]"


def scan_markdown(scan: Mapping[str, Any]) -> str:
    """The scan as a Markdown table: every task, passed or not."""
    header = ["task", "n", "chance", "majority", "instruction + relevant labels", "neither"]
    rows = [
        [
            row["task"],
            str(row[RELEVANT]["n"]),
            pct(row["chance"]),
            pct(row["majority"]),
            _cell(row[RELEVANT]),
            _cell(row[NEITHER]),
            "yes" if row["passed"] else "no",
        ]
        for row in scan["rows"]
    ]
    return (
        f"Model: `{scan['model']['name']}`. Rule: {scan['rule']}. "
        f"Accuracy in % with 95% Wilson intervals; n prompts per setting (seeds "
        f"{list(scan['config']['seeds'])}).\n\n"
        + markdown_table([*header, "passed"], rows)
        + f"\n\n{len(scan['passed'])} of {len(scan['rows'])} tasks pass.\n"
    )
