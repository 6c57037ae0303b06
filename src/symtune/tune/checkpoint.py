"""Tuning checkpoints: written atomically with the sha256 of every file and of the inputs they
came from (mixture, base weights), and read back only when all of them match; optimizer,
schedule and RNG state load with `weights_only=True` (no arbitrary unpickling)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from symtune.artifacts import sha256_file
from symtune.errors import SymtuneError
from symtune.io import atomic_json, atomic_write, read_json_object, temp_path, writing
from symtune.tune.config import TuneConfig
from symtune.tune.sharding import (
    full_model_state,
    inner_model,
    load_model_state,
    load_optimizer_state,
    optimizer_state,
    sharded,
)

CHECKPOINTS = "checkpoints"
LATEST = "latest"


def checkpoint_dirs(run: Path) -> list[Path]:
    root = run / CHECKPOINTS
    return sorted(p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))


def save_checkpoint(
    run: Path,
    step: int,
    model,
    optimizer,
    schedule,
    config: TuneConfig,
    accelerator,
    inputs: dict[str, Any],
) -> None:
    """Write checkpoints/step-N atomically (temp dir, then rename), then point `latest` at it.
    state.json records each file's sha256 and `inputs` (what the run was made from)."""
    from safetensors.torch import save_file

    target = run / CHECKPOINTS / f"step-{step:06d}"
    tmp = target.with_name(target.name + ".tmp")
    rank = accelerator.process_index
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    weights = full_model_state(model, accelerator, trainable_only=True)
    optim = optimizer_state(model, optimizer, accelerator)  # both gathered under FSDP
    try:
        with writing(target):  # a full disk names the checkpoint, exit 2; resume is exact
            torch.save(torch.get_rng_state(), tmp / f"rng-{rank}.pt")
            if accelerator.is_main_process:
                save_file(weights, str(tmp / "trainable.safetensors"))
                torch.save(optim, tmp / "optimizer.pt")
                torch.save(schedule.state_dict(), tmp / "schedule.pt")
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # the checkpoint before it stays the latest
        raise
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        state = {
            "step": step,
            "position": step * config.batch_size,
            "world_size": accelerator.num_processes,
            "fsdp": sharded(accelerator),
            "resume_key": config.resume_key(),
            "inputs": inputs,
            "files": files,
        }
        atomic_json(tmp / "state.json", state)
        if target.exists():
            stale = temp_path(target)
            os.replace(target, stale)
            shutil.rmtree(stale)
        os.replace(tmp, target)
        atomic_write(run / CHECKPOINTS / LATEST, target.name)
        for old in checkpoint_dirs(run)[: -config.keep_checkpoints]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


def latest_checkpoint(run: Path) -> Path | None:
    """The checkpoint `latest` names; if it names none that is there (a damaged one the user
    deleted, as the error advises), the newest complete checkpoint left."""
    pointer = run / CHECKPOINTS / LATEST
    if pointer.exists():
        path = run / CHECKPOINTS / pointer.read_text().strip()
        if path.is_dir() and path.parent == run / CHECKPOINTS:
            return path
    complete = [p for p in checkpoint_dirs(run) if (p / "state.json").is_file()]
    return complete[-1] if complete else None


def check_checkpoint(path: Path, config: TuneConfig, inputs: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's state.json, once its files match their recorded sha256 and it was made
    with this run's settings and inputs; otherwise a one-line error naming what differs."""
    state = read_json_object(path / "state.json", "checkpoint state")
    for key in ("step", "resume_key"):
        if key not in state:
            raise SymtuneError(f"checkpoint state {path / 'state.json'}: no {key!r}")
    theirs, ours = dict(state["resume_key"]), config.resume_key()
    if theirs.get("extra") == {}:  # a field earlier versions recorded and never read
        del theirs["extra"]
    theirs.pop("mixture", None)  # recorded by earlier versions; its sha256 is in `inputs`
    if inputs.get("model") is not None and "model" in (state.get("inputs") or {}):
        # a local model is compared by its files' sha256 below, not by how its path is spelled
        theirs.pop("model", None)
        ours.pop("model", None)
    if theirs != ours:
        field = next(k for k in sorted(set(theirs) | set(ours)) if theirs.get(k) != ours.get(k))
        raise SymtuneError(
            f"cannot resume from {path}: it was made with {field}={theirs.get(field)!r}, "
            f"this run asks {field}={ours.get(field)!r}"
        )
    for key, value in (state.get("inputs") or {}).items():
        if key in inputs and inputs[key] != value:
            raise SymtuneError(
                f"cannot resume from {path}: the {key} changed since it was made "
                f"(sha256 {str(value)[:12]}…, now {str(inputs[key])[:12]}…); "
                "choose another --out"
            )
    for name, digest in (state.get("files") or {}).items():
        file = path / name
        if not file.exists() or sha256_file(file) != digest:
            raise SymtuneError(
                f"checkpoint {path}: {name} is missing or does not match its recorded sha256 "
                f"(damaged); delete {path} to resume from the checkpoint before it"
            )
    return state


def load_checkpoint(
    path: Path, model, optimizer, schedule, config: TuneConfig, accelerator, inputs: dict[str, Any]
) -> int:
    """Restore model, optimizer, schedule and RNG; returns the step to continue from."""
    from safetensors.torch import load_file

    state = check_checkpoint(path, config, inputs)
    if bool(state.get("fsdp", False)) != sharded(accelerator):
        made = "with FSDP" if state.get("fsdp") else "without FSDP"
        raise SymtuneError(
            f"cannot resume from {path}: it was made {made} (its optimizer state is keyed "
            "accordingly); resume it under the same kind of launch"
        )
    weights = load_file(str(path / "trainable.safetensors"))
    unwrapped = inner_model(model, accelerator)
    expected = {n for n, p in unwrapped.named_parameters() if p.requires_grad}
    if set(weights) != expected:
        raise SymtuneError(f"cannot resume from {path}: its weights do not match this model")
    load_model_state(model, accelerator, weights)
    load_optimizer_state(model, optimizer, accelerator, _load_tensors(path / "optimizer.pt"))
    schedule.load_state_dict(_load_tensors(path / "schedule.pt"))
    rng = path / f"rng-{accelerator.process_index}.pt"
    if rng.exists():
        torch.set_rng_state(_load_tensors(rng))
    return int(state["step"])


def _load_tensors(path: Path) -> Any:
    """torch.load with weights_only=True: tensors and plain containers, never arbitrary
    objects; anything else is refused with one line."""
    import pickle

    try:
        return torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SymtuneError(
            f"checkpoint file {path}: refused to load ({first[:120]}); it holds more than "
            "tensors or is damaged"
        ) from None
