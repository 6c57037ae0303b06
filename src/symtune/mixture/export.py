"""A built mixture as a Hugging Face `datasets` dataset, for training with TRL, axolotl or
LLaMA-Factory: TRL's prompt-completion columns (`prompt`, `completion`: the prompt's text and
" " + answer, the loss symtune puts on it), or a conversational variant (`messages`, the answer
as the assistant turn). Arrow on disk (`load_from_disk`) or Parquet files; the mixture's
validation prompts, if any, as a `validation` split; the manifest travels with it (the dataset
info's description and symtune_manifest.json)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.io import temp_path
from symtune.mixture.read import read_manifest, read_prompts, read_validation, verify_shards
from symtune.prompts.build import Prompt

EXPORT_FORMATS = ("hf", "parquet", "chat")
MANIFEST_FILE = "symtune_manifest.json"


def row(prompt: Prompt, chat: bool) -> dict[str, Any]:
    """One example: prompt-completion (TRL's standard form), or conversational messages."""
    extra = {"task": prompt.meta.task, "setting": prompt.meta.setting}
    if chat:
        messages = [
            {"role": "user", "content": prompt.text},
            {"role": "assistant", "content": prompt.answer},
        ]
        return {"messages": messages, **extra}
    return {"prompt": prompt.text, "completion": prompt.target, **extra}


def check_export(mixture: Path, fmt: str, out: Path) -> dict[str, Any]:
    """Refuse, before anything is written, an unknown format, a folder that is not a mixture,
    or an export folder that exists; returns the mixture's manifest."""
    if fmt not in EXPORT_FORMATS:
        known = ", ".join(EXPORT_FORMATS)
        raise SymtuneError(f"--format {fmt!r} is unknown; expected one of {known}")
    manifest = read_manifest(mixture)
    verify_shards(mixture, manifest)  # what is exported is what the manifest describes
    if out.exists():
        raise SymtuneError(f"--out {out} exists; choose a new folder for the export")
    return manifest


def export_mixture(mixture: Path, fmt: str, out: Path) -> dict[str, int]:
    """Write the export to `out` (all at once: a temp folder renamed); returns rows per split."""
    from datasets import Dataset, DatasetDict

    manifest = check_export(mixture, fmt, out)
    chat = fmt == "chat"
    splits = {"train": [row(p, chat) for _, p in read_prompts(mixture)]}
    if manifest.get("validation"):
        splits["validation"] = [row(p, chat) for p in read_validation(mixture, manifest)]
    data = DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()})
    described = json.dumps(manifest, sort_keys=True)
    for split in data.values():
        split.info.description = f"symtune mixture manifest: {described}"
    tmp = temp_path(out)
    try:
        if fmt == "parquet":
            tmp.mkdir(parents=True)
            for name, split in data.items():
                split.to_parquet(str(tmp / f"{name}.parquet"))
        else:
            data.save_to_disk(str(tmp))
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        try:
            tmp.rename(out)
        except OSError:  # another export finished first (POSIX rename onto a full folder)
            raise SymtuneError(
                f"--out {out} was written by another export meanwhile; choose a new folder"
            ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {name: len(split) for name, split in data.items()}
