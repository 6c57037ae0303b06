"""Reading a run's files for the report: nothing here computes or rebuilds anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from symtune.io import read_json, read_jsonl


def read_optional(path: Path) -> Any:
    return read_json(path) if path.exists() else None


def metrics_of(path: Path, kind: str = "loss") -> list[dict[str, Any]]:
    """A tuning run's metrics.jsonl records of one kind: "loss" (training steps) or
    "val_accuracy" (in-run validation); none when the file is absent. A torn last line (a kill
    mid-append) is left out."""
    return [r for r in read_jsonl(path) if kind in r]


def tuning_run_of(name: str) -> Path:
    """The tuning run directory behind an evaluated model (a run dir or one of its
    checkpoints)."""
    path = Path(name)
    return path.parent.parent if (path / "trainable.safetensors").exists() else path


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
