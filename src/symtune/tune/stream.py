"""Reading a built mixture for tuning: prompts in index order, cycling over epochs, with cheap
skipping so a resumed run starts exactly where the checkpoint left off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.mixture.read import prompt_from_line, read_manifest, verify_shards
from symtune.prompts.build import Prompt


class PromptStream:
    """The prompts of a mixture directory as an endless, position-addressable stream."""

    def __init__(self, directory: Path, order: int = 0):
        if not directory.is_dir():
            raise SymtuneError(
                f"mixture directory {directory} not found; build it with `symtune data build`"
            )
        self.directory = directory
        self.manifest = read_manifest(directory)
        verify_shards(directory, self.manifest)
        self.shards = [(s["file"], s["prompts"]) for s in self.manifest["shards"]]
        self.size = sum(n for _, n in self.shards)
        if self.size == 0:
            raise SymtuneError(f"mixture {directory} holds no prompts")
        self.order = order
        """0: the mixture's order; N > 0: every epoch a permutation of it seeded by (N, epoch)."""

    def from_position(self, position: int) -> Iterator[Prompt]:
        """Prompts from stream position `position` on (position counts prompts consumed)."""
        if self.order:
            yield from self._shuffled(position)
            return
        skip = position % self.size
        while True:
            for name, count in self.shards:
                if skip >= count:
                    skip -= count
                    continue
                path = self.directory / name
                with path.open(encoding="utf-8") as handle:
                    for number, line in enumerate(handle, 1):
                        if skip:
                            skip -= 1
                            continue
                        yield prompt_from_line(line, f"{path}:{number}")[1]

    def _shuffled(self, position: int) -> Iterator[Prompt]:
        """The stream in the seeded order: epoch by epoch, a permutation of the mixture."""
        import numpy as np

        lines = []
        for name, _ in self.shards:
            path = self.directory / name
            with path.open(encoding="utf-8") as handle:
                lines += [(f"{path}:{n}", line) for n, line in enumerate(handle, 1)]
        epoch, skip = divmod(position, self.size)
        while True:
            for i in np.random.default_rng([self.order, epoch]).permutation(self.size)[skip:]:
                where, line = lines[i]
                yield prompt_from_line(line, where)[1]
            epoch, skip = epoch + 1, 0
