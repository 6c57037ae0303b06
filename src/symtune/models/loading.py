"""Model weights: the pinned GGUF is de-quantized once into an ordinary safetensors checkpoint
(transformers marks GGUF-loaded models as quantized and refuses to save them), so every later
load, and every tuned checkpoint, is plain `from_pretrained` material."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from symtune.artifacts import cache_dir, sha256_file, smollm2_gguf
from symtune.errors import SymtuneError
from symtune.io import temp_path
from symtune.models.registry import DEFAULT_MODEL, resolve_model

DTYPES = ("bf16", "fp32")


def _torch_dtype(dtype: str):
    import torch

    if dtype not in DTYPES:
        raise SymtuneError(f"dtype {dtype!r} is unknown; expected one of {', '.join(DTYPES)}")
    return torch.bfloat16 if dtype == "bf16" else torch.float32


def plain_copy(model):
    """The same weights in a fresh model of the same class, free of any quantizer marks."""
    config = model.config.__class__.from_dict(
        {k: v for k, v in model.config.to_dict().items() if k != "quantization_config"}
    )
    plain = type(model)(config)
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise RuntimeError(f"plain copy lost weights: missing {missing}, unexpected {unexpected}")
    if tied:
        plain.tie_weights()
    return plain


def gguf_checkpoint_dir() -> Path:
    """A plain fp32 safetensors checkpoint (with tokenizer) converted from the pinned GGUF."""
    target = cache_dir() / "models" / DEFAULT_MODEL
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM

    from symtune.models.tokenizer import load_tokenizer

    gguf = smollm2_gguf()
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, trust_remote_code=False
    )
    tmp = temp_path(target)  # unique: two first runs may convert at once
    plain_copy(model).save_pretrained(str(tmp))
    load_tokenizer(DEFAULT_MODEL).save_pretrained(str(tmp))
    if not target.exists():
        tmp.rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def model_source(name: str) -> str:
    """What `from_pretrained` should read for a model name: a directory or a hub id."""
    ref = resolve_model(name)
    return str(gguf_checkpoint_dir()) if ref.kind == "gguf-artifact" else ref.location


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
    weights = _file_hashes(directory, WEIGHT_FILES)
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


def preflight(name: str, trust_remote_code: bool = False) -> None:
    """Before anything is written: a local model's own code is absent or allowed, and its
    weights readable (built-in and hub models are checked by `check_model`)."""
    ref = resolve_model(name)
    if ref.kind != "local":
        return
    check_remote_code(ref.location, trust_remote_code)
    check_weights(ref.location)


def _file_hashes_names(directory: Path) -> list[Path]:
    return sorted(p for pattern in ("*.safetensors", "*.bin") for p in directory.glob(pattern))


def load_model(name: str, dtype: str = "bf16", trust_remote_code: bool = False):
    """A causal LM for a built-in name, local directory or hub id, on CPU, in `dtype`; a
    model's own code runs only when `trust_remote_code` (checked first, see
    `check_remote_code`)."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # symtune shows its own progress; keep logs readable
    torch_dtype = _torch_dtype(dtype)
    source = model_source(name)
    check_remote_code(source, trust_remote_code)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=torch_dtype, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, RuntimeError) as err:
        raise SymtuneError(
            f"model {name!r} not found or not loadable "
            f"({type(err).__name__}: {first_sentence(err)})"
        ) from None
    except Exception as err:  # safetensors' and pickle's own errors: a damaged weights file
        if type(err).__name__ not in ("SafetensorError", "UnpicklingError"):
            raise
        if "Weights only load failed" in str(err):
            raise SymtuneError(
                f"model {name!r}: its weights file is a pickle that holds more than tensors; "
                "symtune loads pickled weights only with weights_only=True (no code runs). "
                "Convert it to safetensors with a tool you trust"
            ) from None
        raise SymtuneError(
            f"model {name!r}: its weights cannot be read ({first_sentence(err)})"
        ) from None
    return model


def first_sentence(err: BaseException, limit: int = 160) -> str:
    """An error's first line, cut at a sentence's end (never mid-word) when over `limit`."""
    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    if len(first) <= limit:
        return first
    end = first.rfind(". ", 0, limit)
    return first[: end + 1] if end > 0 else first[:limit].rsplit(" ", 1)[0] + " …"
