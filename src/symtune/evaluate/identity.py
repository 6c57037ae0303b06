"""Which model made an evaluation folder's cached predictions: each label's identity (the
sha256 of its weights, tokenizer and config files) recorded beside its cache and checked
before the cache is reused, and the config the cache belongs to."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.parallel import cache_files
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


def model_identity(name: str) -> dict[str, Any]:
    """What a model's predictions depend on: its name, and the sha256 of its weight files and
    of its tokenizer files. A label's cached predictions are reused only under the same
    identity."""
    from symtune.models import fingerprint, model_source

    return {"name": name, **fingerprint(model_source(model_location(name)))}


def model_record(name: str, identity: Mapping[str, Any]) -> dict[str, Any]:
    from symtune.models import model_source

    record: dict[str, Any] = {
        "name": name,
        "source": model_source(model_location(name)),
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


def check_cache_owner(out: Path, label: str, identity: Mapping[str, Any]) -> None:
    """Refuse to reuse a label's cached predictions made by another model or other weights."""
    owner = out / "cache" / f"{label}.model"
    if not owner.exists():
        if any(p.stat().st_size for p in cache_files(out, label)):  # any rank's
            raise SymtuneError(
                f"{out}: label {label!r} has cached predictions but no record of the model that "
                f"made them ({owner} is missing), so they cannot be checked; choose another --out"
            )
        return
    try:
        stored = json.loads(owner.read_text())
    except ValueError:
        stored = None
    if not isinstance(stored, dict) or "config" not in stored:
        raise SymtuneError(
            f"{out}: label {label!r} was evaluated by an older symtune that did not record "
            "its model's sha256s (weights, tokenizer, config), so its cached predictions cannot "
            "be checked; choose another --out"
        )
    for key, what in (  # not the name: the same files under another path (a moved run)
        ("weights", "weights"),
        ("tokenizer", "tokenizer"),
        ("config", "model config"),
    ):
        if stored.get(key) != identity[key]:
            raise SymtuneError(
                f"{out}: label {label!r} was evaluated with {what} {str(stored.get(key))[:16]!r}, "
                f"not {str(identity[key])[:16]!r} (its cached predictions would be stale); "
                "choose another --out"
            )


def stored_identity(marker: Path) -> str:
    """A stored eval config read back with today's defaults for fields added since."""
    stored = read_json_object(marker, "eval config")
    known = set(EvalConfig.__dataclass_fields__)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in known}
    if set(stored) - known:
        return marker.read_text()
    return EvalConfig(**values).identity()


def forget_bookkeeping(out: Path, before: set[Path]) -> None:
    """After a failure before any prediction was cached: remove the config and identity
    records this call wrote, so the corrected command starts afresh."""
    if any(p.stat().st_size for p in (out / "cache").glob("*.jsonl")):
        return  # predictions to resume from
    for path in [out / "eval_config.json", *(out / "cache").glob("*")]:
        if path not in before and path.is_file():
            path.unlink()
    if (out / "cache").is_dir() and out / "cache" not in before:
        with contextlib.suppress(OSError):
            (out / "cache").rmdir()
