"""Model weights: the pinned GGUF is de-quantized once into an ordinary safetensors checkpoint
(transformers marks GGUF-loaded models as quantized and refuses to save them), so every later
load, and every tuned checkpoint, is plain `from_pretrained` material."""

from __future__ import annotations

import shutil
from pathlib import Path

from symtune.artifacts import cache_dir, smollm2_gguf
from symtune.errors import SymtuneError
from symtune.io import temp_path
from symtune.models.architecture import head_weight_names
from symtune.models.files import check_remote_code, check_weights
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
    tied = head_weight_names(plain) if config.tie_word_embeddings else set()
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


def preflight(name: str, trust_remote_code: bool = False) -> None:
    """Before anything is written: a local model's own code is absent or allowed, and its
    weights readable (built-in and hub models are checked by `check_model`)."""
    ref = resolve_model(name)
    if ref.kind != "local":
        return
    check_remote_code(ref.location, trust_remote_code)
    check_weights(ref.location)


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
