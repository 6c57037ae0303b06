"""A model's identity for evaluation: where its files are, the sha256s of its weights,
tokenizer and config (what its results depend on; `store` records them beside the label's
cache and checks them before reuse), and its record in results.json."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.io import read_json_object
from symtune.layout import Checkpoint, TuneRun, model_dir


def model_location(name: str) -> str:
    """Where a model's files are (`layout.model_dir`): a tuned run's `final/`, a tuning
    checkpoint's exported `model/` (the CLI exports it before evaluating: evaluation never
    builds a model for training); anything else is a name."""
    checkpoint = Checkpoint(Path(name))
    if checkpoint.exists() and not (checkpoint.model / "config.json").exists():
        raise SymtuneError(
            f"{name} is a tuning checkpoint without its exported model/; `symtune eval "
            "--tuned` exports it (symtune.tune.model.export_checkpoint)"
        )
    return model_dir(name)


def model_identity(name: str, location: str) -> dict[str, Any]:
    """What a model's predictions depend on: its name, and the sha256 of its weight files and
    of its tokenizer files (`location`: `model_location(name)`). A label's cached predictions
    are reused only under the same identity."""
    from symtune.models import fingerprint, model_source

    return {"name": name, **fingerprint(model_source(location))}


def model_record(location: str, identity: Mapping[str, Any]) -> dict[str, Any]:
    """The model's entry in results.json: its name and sha256s, and for a tuned model the
    tuning config (and step, for a checkpoint)."""
    from symtune.models import model_source

    name = identity["name"]
    record: dict[str, Any] = {
        "name": name,
        "source": model_source(location),
        "sha256": identity["files"].get("model.safetensors"),
        "weights_sha256": identity["weights"],
        "tokenizer_sha256": identity["tokenizer"],
    }
    run, checkpoint = TuneRun(Path(name)), Checkpoint(Path(name))
    if run.final.is_dir() and run.config.exists():
        record["tuning_config"] = read_json_object(run.config, "run config")
    if checkpoint.exists():
        record["tuning_config"] = read_json_object(checkpoint.run.config, "run config")
        record["step"] = read_json_object(checkpoint.state, "checkpoint state")["step"]
    return record
