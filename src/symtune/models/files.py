"""A model's local files: where `from_pretrained` reads them, their sha256 fingerprint (what
a cached result depends on), and the checks run on them before anything loads (own code,
readable weights). No torch, no transformers."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from symtune.artifacts import sha256_file
from symtune.errors import SymtuneError
from symtune.io import check_input_file

WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.gguf")
CONFIG_FILES = ("config.json", "generation_config.json", "adapter_config.json")
"""Files besides weights and tokenizer that change a model's outputs (architecture, LoRA)."""
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.*",
    "merges.txt",
    "*.model",
    "chat_template.*",
)


def _file_hashes(directory: Path, patterns: tuple[str, ...]) -> dict[str, str]:
    """sha256 of each file matching `patterns`, by name."""
    files = sorted({p for pattern in patterns for p in directory.glob(pattern) if p.is_file()})
    return {path.name: sha256_file(path) for path in files}


def weight_hashes(directory: Path) -> dict[str, str]:
    """sha256 of each weight file in a model folder, by name."""
    return _file_hashes(directory, WEIGHT_FILES)


def _combined(hashes: dict[str, str]) -> str | None:
    """One sha256 over files' names and sha256s; None when there are none."""
    if not hashes:
        return None
    lines = "".join(f"{name}\0{digest}\n" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def model_directory(source: str) -> Path | None:
    """The local folder `from_pretrained(source)` reads: the folder itself, or a hub id's
    snapshot in the Hugging Face cache (None when it is not cached)."""
    if Path(source).is_dir():
        return Path(source)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=True))
    except Exception:  # not cached, or not a hub id
        return None


def fingerprint(source: str) -> dict[str, Any]:
    """What a model's results depend on, as sha256s: "weights" over its weight files,
    "tokenizer" over its tokenizer files, "config" over the files that set its architecture
    (None for a part that cannot be read locally), and "files", each weight file's sha256."""
    directory = model_directory(source)
    if directory is None:
        return {"weights": None, "tokenizer": None, "config": None, "files": {}}
    weights = weight_hashes(directory)
    return {
        "weights": _combined(weights),
        "tokenizer": _combined(_file_hashes(directory, TOKENIZER_FILES)),
        "config": _combined(_file_hashes(directory, CONFIG_FILES)),
        "files": weights,
    }


def check_remote_code(source: str, allowed: bool) -> None:
    """Refuse a model whose config or tokenizer config names its own Python code (`auto_map`)
    unless the user allowed it: transformers would otherwise ask mid-output, or run it."""
    directory = model_directory(source)
    if directory is None or allowed:
        return
    for name in ("config.json", "tokenizer_config.json"):
        path = directory / name
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            if isinstance(data, dict) and data.get("auto_map"):
                raise SymtuneError(
                    f"model {directory}: {name} names its own code to run (auto_map); symtune "
                    "runs a model's code only with --trust-remote-code"
                )


def check_weights(source: str) -> None:
    """Refuse, before anything is written, a local model folder whose weights cannot load:
    none there, or a safetensors file whose header or length is damaged."""
    directory = model_directory(source)
    if directory is None or not Path(source).is_dir():
        return
    for pattern in (*WEIGHT_FILES, *TOKENIZER_FILES, *CONFIG_FILES):
        for path in directory.glob(pattern):
            check_input_file(path, "model file")  # a FIFO would block the load
    files = _file_hashes_names(directory)
    if not files:
        raise SymtuneError(
            f"model {directory}: no weight files (*.safetensors or *.bin); expected a "
            "transformers model folder"
        )
    from safetensors import safe_open

    for path in files:
        if path.suffix != ".safetensors":
            continue
        try:
            with safe_open(str(path), "pt"):
                pass
        except Exception as err:  # safetensors raises its own error type
            first = str(err).strip().splitlines()[0][:120] if str(err).strip() else ""
            raise SymtuneError(f"model weights {path}: damaged or truncated ({first})") from None


def _file_hashes_names(directory: Path) -> list[Path]:
    return sorted(p for pattern in ("*.safetensors", "*.bin") for p in directory.glob(pattern))
