"""Full (unsharded) model and optimizer state under Accelerate's FSDP2, and plain state
otherwise, so that checkpoints, best/ and final/ are the same files however the run was
launched (and resume with any number of processes).

Under FSDP every parameter is a DTensor shard: the full tensors are gathered with
`torch.distributed.checkpoint.state_dict` (a collective: every rank calls these functions;
rank 0 receives the tensors). On CPU, Accelerate 1.15 runs the processes of an FSDP config as
DDP; `accelerator_for_launch` applies the launcher's FSDP plugin there too, so CPU jobs (and
the test suite) shard with the same Accelerate code GPUs use."""

from __future__ import annotations

import os
from typing import Any

import torch


def accelerator_for_launch():
    """The Accelerator of this process; FSDP when the launcher asked for it, CPU included."""
    from accelerate import Accelerator

    cpu = not torch.cuda.is_available()
    accelerator = Accelerator(cpu=cpu)
    wants_fsdp = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
    if cpu and wants_fsdp and accelerator.num_processes > 1 and not accelerator.is_fsdp2:
        from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

        plugin = FullyShardedDataParallelPlugin()  # from the launcher's FSDP_* variables
        if plugin.fsdp_version != 2:
            from symtune.errors import SymtuneError

            raise SymtuneError("FSDP on CPU processes needs fsdp_version: 2 in the config")
        from accelerate.state import PartialState

        accelerator.state.fsdp_plugin = plugin
        accelerator.state.distributed_type = DistributedType.FSDP
        # as Accelerate does on GPUs: the process state says FSDP too (AcceleratorState
        # re-reads it whenever it is constructed again)
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    return accelerator


def inner_model(model, accelerator):
    """The transformers (or peft) model inside the accelerate-wrapped loss module."""
    return accelerator.unwrap_model(model).model


def sharded(accelerator) -> bool:
    return bool(getattr(accelerator, "is_fsdp2", False))


def _options():
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True)


PREFIX = "model."
"""The transformers model's place inside the loss module Accelerate wraps (`SupervisedLM`)."""


def full_model_state(model, accelerator, trainable_only: bool) -> dict[str, torch.Tensor]:
    """The transformers model's parameters by name (trainable ones only, or all) as full
    tensors, from the prepared loss module `model`; under FSDP gathered to rank 0 (other ranks
    get an empty dict)."""
    inner = inner_model(model, accelerator)
    names = {n for n, p in inner.named_parameters() if p.requires_grad or not trainable_only}
    if not sharded(accelerator):  # tied weights appear once
        return {
            n: p.detach().clone().contiguous() for n, p in inner.named_parameters() if n in names
        }
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    full = get_model_state_dict(model, options=_options())  # from the FSDP root
    found = {n.removeprefix(PREFIX): t for n, t in full.items()}
    return {n: t.detach().clone().contiguous() for n, t in found.items() if n in names}


def load_model_state(model, accelerator, weights: dict[str, torch.Tensor]) -> None:
    """Put full tensors (on every rank) into the transformers model's parameters, sharded or
    not."""
    if not sharded(accelerator):
        inner = inner_model(model, accelerator)
        with torch.no_grad():
            for name, param in inner.named_parameters():
                if name in weights:
                    param.copy_(weights[name])
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    full = {PREFIX + n: t for n, t in weights.items()}
    set_model_state_dict(model, full, options=StateDictOptions(full_state_dict=True, strict=False))


def _plain(optimizer):
    return getattr(optimizer, "optimizer", optimizer)  # inside Accelerate's wrapper


def optimizer_state(model, optimizer, accelerator) -> dict[str, Any]:
    """The optimizer's state to save: its own state dict, or under FSDP the full one keyed
    by parameter names (gathered to rank 0)."""
    if not sharded(accelerator):
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(model, _plain(optimizer), options=_options())


def load_optimizer_state(model, optimizer, accelerator, state: dict[str, Any]) -> None:
    if not sharded(accelerator):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_optimizer_state_dict,
    )

    set_optimizer_state_dict(
        model, _plain(optimizer), state, options=StateDictOptions(full_state_dict=True)
    )
