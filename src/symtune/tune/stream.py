"""Reading a built mixture for tuning: prompts in index order, cycling over epochs, with cheap
skipping so a resumed run starts exactly where the checkpoint left off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.mixture import read_manifest
from symtune.prompts import Prompt


class PromptStream:
    """The prompts of a mixture directory as an endless, position-addressable stream."""

    def __init__(self, directory: Path):
        if not directory.is_dir():
            raise SymtuneError(
                f"mixture directory {directory} not found; build it with `symtune data build`"
            )
        self.directory = directory
        self.manifest = read_manifest(directory)
        self.shards = [(s["file"], s["prompts"]) for s in self.manifest["shards"]]
        self.size = sum(n for _, n in self.shards)
        if self.size == 0:
            raise SymtuneError(f"mixture {directory} holds no prompts")

    def from_position(self, position: int) -> Iterator[Prompt]:
        """Prompts from stream position `position` on (position counts prompts consumed)."""
        skip = position % self.size
        while True:
            for name, count in self.shards:
                if skip >= count:
                    skip -= count
                    continue
                with (self.directory / name).open(encoding="utf-8") as handle:
                    for line in handle:
                        if skip:
                            skip -= 1
                            continue
                        yield Prompt.from_dict(json.loads(line))


def wrap_chat(prompt: Prompt, tokenizer) -> Prompt:
    """The prompt as one user turn of the model's chat template; the answer is the assistant's
    reply (no leading space), and exemplar answer spans move with the text."""
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt.text}], add_generation_prompt=True, tokenize=False
    )
    offset = text.index(prompt.text)
    spans = tuple((s + offset, e + offset) for s, e in prompt.label_spans)
    return replace(prompt, text=text, target=prompt.answer, label_spans=spans)
