"""Reading a run's files for the report: nothing here computes or rebuilds anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from symtune.io import read_json, read_jsonl
from symtune.layout import Checkpoint


def read_optional(path: Path) -> Any:
    return read_json(path) if path.exists() else None


def metrics_of(path: Path, kind: str = "loss") -> list[dict[str, Any]]:
    """A tuning run's metrics.jsonl records of one kind: "loss" (training steps) or
    "val_accuracy" (in-run validation); none when the file is absent. A torn last line (a kill
    mid-append) is left out."""
    records = [r for r in read_jsonl(path) if kind in r]
    needs = ("step", "loss", "tokens", "seconds") if kind == "loss" else ("step", kind)
    for record in records:
        if not all(isinstance(record.get(k), int | float) for k in needs):
            from symtune.errors import SymtuneError

            raise SymtuneError(
                f"metrics {path}: record {record.get('step')!r} lacks numeric "
                f"{', '.join(needs)}; expected a symtune tuning log"
            )
    return records


def tuning_run_of(name: str) -> Path:
    """The tuning run directory behind an evaluated model (a run dir or one of its
    checkpoints)."""
    path = Path(name)
    return Checkpoint(path).run.root if Checkpoint(path).exists() else path


def run_summary(run: Path) -> dict[str, Any]:
    """What a tuning run did, from its own files: config, steps, tokens, seconds, losses."""
    config = read_optional(run / "config.json") or {}
    metrics = metrics_of(run / "metrics.jsonl")
    manifest = read_optional(run / "mixture_manifest.json") or {}
    return {
        "config": config,
        "steps": len(metrics),
        "tokens": sum(m["tokens"] for m in metrics),
        "seconds": sum(m["seconds"] for m in metrics),
        "loss": (metrics[0]["loss"], metrics[-1]["loss"]) if metrics else None,
        "budget": manifest.get("config", {}).get("max_tokens"),
        "relevant_ratio": manifest.get("config", {}).get("relevant_ratio", 0.0),
    }


def read_results(path: Path) -> dict[str, Any]:
    """An evaluation's results.json, with the fields the report reads checked first: a file
    that lacks them (edited, or not an evaluation) is named in one line, before anything is
    written."""
    from symtune.errors import SymtuneError
    from symtune.io import read_json_object

    data = read_json_object(path, "results")
    problem = _results_problem(data)
    if problem:
        raise SymtuneError(f"results {path}: {problem}; expected a symtune evaluation's results")
    return data


def _results_problem(data: dict[str, Any]) -> str | None:
    for key, kind in (("config", dict), ("models", dict), ("summary", dict), ("items", list)):
        if not isinstance(data.get(key), kind):
            return f"field {key!r} is missing or not a {'mapping' if kind is dict else 'list'}"
    if not data["summary"]:
        return "field 'summary' is empty (nothing was evaluated)"
    for mode, labels in data["summary"].items():
        if not isinstance(labels, dict):
            return f"summary.{mode} is not a mapping"
        for label, settings in labels.items():
            if not isinstance(settings, dict):
                return f"summary.{mode}.{label} is not a mapping"
            for setting, cell in settings.items():
                numbers = isinstance(cell, dict) and all(
                    isinstance(cell.get(k), int | float) and not isinstance(cell.get(k), bool)
                    for k in ("average", "n")
                )
                if not numbers:
                    return f"summary.{mode}.{label}.{setting} lacks numeric 'average' and 'n'"
    if not all(isinstance(item, dict) for item in data["items"]):
        return "field 'items' holds entries that are not mappings"
    return None


def check_weights(run: Path, results: dict[str, Any]) -> None:
    """Every tuned model in the run folder still has the weights its evaluation scored (the
    report prints their sha256): a changed file is named in one line."""
    from symtune.artifacts import sha256_file
    from symtune.errors import SymtuneError
    from symtune.layout import RunDir, TuneRun

    for label, model in results["models"].items():
        recorded = model.get("sha256") if isinstance(model, dict) else None
        weights = TuneRun(RunDir(run).tune_of(label)).final / "model.safetensors"
        if label == "base" or not recorded or not weights.is_file():
            continue
        if (now := sha256_file(weights)) != recorded:
            raise SymtuneError(
                f"{weights}: sha256 {now[:12]}… differs from the {recorded[:12]}… that was "
                "evaluated (damaged or replaced); rerun `symtune run` to tune it again"
            )
