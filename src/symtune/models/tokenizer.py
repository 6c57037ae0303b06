"""Tokenizers without torch: the pinned GGUF's tokenizer is converted once and cached."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path

from symtune.artifacts import cache_dir, smollm2_gguf
from symtune.errors import SymtuneError
from symtune.io import temp_path
from symtune.models.files import check_remote_code
from symtune.models.registry import DEFAULT_MODEL, resolve_model


def _gguf_tokenizer_dir() -> Path:
    """Directory with the SmolLM2 tokenizer converted from the GGUF (cached)."""
    target = cache_dir() / "tokenizers" / DEFAULT_MODEL
    if (target / "tokenizer.json").exists():
        return target
    from transformers import AutoTokenizer

    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False
    )
    tmp = temp_path(target)  # unique: two first runs may convert at once
    tokenizer.save_pretrained(str(tmp))
    if not target.exists():
        tmp.rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


@cache
def load_tokenizer(name: str, trust_remote_code: bool = False):  # -> PreTrainedTokenizerBase
    """A transformers tokenizer for a built-in model name, local path or hub id; its own code
    runs only when `trust_remote_code`."""
    from transformers import AutoTokenizer

    ref = resolve_model(name)
    source = str(_gguf_tokenizer_dir()) if ref.kind == "gguf-artifact" else ref.location
    check_remote_code(source, trust_remote_code)
    try:
        return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except OSError as err:
        first = str(err).strip().splitlines()[0]
        raise SymtuneError(f"model {name!r}: cannot load its tokenizer ({first})") from None


def token_counter(name: str) -> Callable[[str], int]:
    """A fast function text -> number of tokens (no special tokens) for model `name`; uses the
    `tokenizers` backend directly (no torch import) when the model has a tokenizer.json."""
    ref = resolve_model(name)
    directory = _gguf_tokenizer_dir() if ref.kind == "gguf-artifact" else Path(ref.location)
    if (directory / "tokenizer.json").exists():
        from tokenizers import Tokenizer

        backend = Tokenizer.from_file(str(directory / "tokenizer.json"))
    else:
        backend = load_tokenizer(name).backend_tokenizer

    def count(text: str) -> int:
        return len(backend.encode(text, add_special_tokens=False).ids)

    def count_many(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False)]

    count.many = count_many  # type: ignore[attr-defined]
    return count
