"""Which process this is under `accelerate launch`/`torchrun` (rank, world size), and the two
things ranks do together: wait for each other, and share rank 0's verdict on a step only it
runs (so a refusal there is the same one-line error on every rank, not a hang)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from symtune.errors import SymtuneError

T = TypeVar("T")


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0 of a launched job (or no launcher at all)."""
    return rank() == 0


def _state():
    from accelerate import PartialState

    return PartialState(cpu=_no_gpu())


def _no_gpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def wait_for_everyone() -> None:
    """A barrier across the launched processes; nothing without a launcher."""
    if world_size() > 1:
        _state().wait_for_everyone()


def on_main(work: Callable[[], T]) -> T | None:
    """Run `work` on rank 0 only; every rank then raises rank 0's SymtuneError if it failed
    (the same one line), else continues. Returns rank 0's result there, None elsewhere."""
    if world_size() == 1:
        return work()
    from accelerate.utils import broadcast_object_list

    _state()
    result, message = None, None
    if is_main_process():
        try:
            result = work()
        except SymtuneError as err:
            message = str(err)
    shared = [message]
    broadcast_object_list(shared, from_process=0)
    if shared[0] is not None:
        raise SymtuneError(shared[0])
    return result
