"""`symtune tune`: the training loop, top to bottom in one function (its step's parts in
`tune.step`), over Hugging Face Accelerate (1 process, or DDP/FSDP under `accelerate launch` or
`torchrun`), and the run's files it writes."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from symtune.errors import SymtuneError, Terminated, deferred_stop, stop_signal
from symtune.io import atomic_json, atomic_write, read_json_object, read_jsonl
from symtune.layout import TuneRun
from symtune.mixture.read import read_validation
from symtune.models.dtype import DtypeChoice, resolve_dtype
from symtune.outdir import check_target, claim_main
from symtune.prompts.build import Prompt
from symtune.prompts.chat import framing
from symtune.provenance import package_versions
from symtune.ranks import on_main
from symtune.tune.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from symtune.tune.config import TuneConfig
from symtune.tune.model import check_architecture, export_final, export_model, replace_dir
from symtune.tune.packing import pack
from symtune.tune.sharding import accelerator_for_launch, inner_model, sharded
from symtune.tune.step import (
    accumulate,
    finite,
    micro_batches,
    optimizer_step,
    prepare,
    step_documents,
    token_counts,
)
from symtune.tune.stream import PromptStream
from symtune.tune.validate import validate


def _provenance(
    config: TuneConfig,
    stream: PromptStream,
    inputs: dict[str, Any],
    device: torch.device,
    dtype: DtypeChoice,
    attention: str,
) -> dict[str, Any]:
    """What the run was made from and with; `attention`: the implementation that ran ("auto"
    gives a model whose attention symtune_packed does not compute transformers' own)."""
    from symtune.models import model_source

    return {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "attention": attention,
        "dtype": dtype.to_dict(),
        "model_source": model_source(config.model),
        "model_sha256": inputs["model"],
        "mixture_sha256": inputs["mixture"],
        "mixture": str(stream.directory.resolve()),
        "mixture_prompts": stream.size,
        "artifacts": stream.manifest.get("provenance", {}).get("artifacts", {}),
        "versions": package_versions(
            ["symtune", "torch", "transformers", "accelerate", "peft", "tokenizers"]
        ),
        "seed": config.seed,
    }


def tune(
    config: TuneConfig,
    resume: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    deadline: float | None = None,
) -> Path:
    """Symbol-tune `config.model` on `config.mixture`; returns the run directory.

    `deadline` (a `time.monotonic()` instant) stops the run after the first step that ends past
    it: a checkpoint of that step (so `--resume` continues), final/ from it, and stopped.json
    saying at which step of how many (removed when a resumed run completes).

    Each optimizer step consumes exactly `batch_size` prompts of the stream, in order; the
    processes share them (rank r takes prompts r, r+W, …), pack their share into rows, and
    accumulate gradients over micro-batches. The loss is the mean cross-entropy over every
    supervised token of the step, across all processes."""
    from symtune.models import check_model, model_positions, preflight

    config.validate()
    check_model(config.model)
    preflight(config.model, config.trust_remote_code)
    stream = PromptStream(Path(config.mixture), config.data_order)
    check_architecture(config)
    budget = stream.manifest["config"].get("max_tokens")
    if budget is not None and config.seq_len < budget:
        raise SymtuneError(
            f"seq-len {config.seq_len} is shorter than the mixture's prompt budget of {budget} "
            "tokens; raise --seq-len or rebuild the mixture with --max-tokens"
        )
    positions = model_positions(config.model)
    if budget is not None and positions is not None and budget > positions:
        raise SymtuneError(
            f"the mixture's prompts of up to {budget:,} tokens ({config.mixture}) are longer "
            f"than the model's {positions:,} positions; rebuild it with --max-tokens"
        )
    run = Path(config.out)
    # a mixture or eval folder is named as such; rank 0 looks (another rank could see rank 0's
    # claim half-made: its marker's temporary file before the rename)
    on_main(lambda: check_target(run, "tune"))
    if (run / "config.json").exists():
        if not resume:
            raise SymtuneError(f"{run} already holds a run; pass --resume or choose another --out")
        TuneConfig.from_dict(read_json_object(run / "config.json", "run config"))
    val_prompts = read_validation(stream.directory, stream.manifest) if config.val_every else []
    with claim_main(run, "tune"):
        return _train(config, stream, run, resume, progress, val_prompts, deadline)


def run_inputs(config: TuneConfig, stream: PromptStream) -> dict[str, Any]:
    """sha256s of what a run is made from: the mixture (its shards' recorded hashes) and the
    base model's weight files. A checkpoint is resumed only with the same inputs."""
    from symtune.models import fingerprint, model_source

    shards = json.dumps(stream.manifest["shards"], sort_keys=True).encode()
    model = fingerprint(model_source(config.model))
    inputs = {"mixture": hashlib.sha256(shards).hexdigest(), "model": model["weights"]}
    if model["weights"] is not None:  # the model by content: a path spelled otherwise is it
        inputs["tokenizer and config"] = f"{model['tokenizer']}/{model['config']}"
    return inputs


def _train(
    config: TuneConfig,
    stream: PromptStream,
    run: Path,
    resume: bool,
    progress: Callable[[dict[str, Any]], None] | None,
    val_prompts: list[Prompt],
    deadline: float | None = None,
) -> Path:
    from symtune.models import load_tokenizer

    inputs = run_inputs(config, stream)
    tokenizer = load_tokenizer(config.model, config.trust_remote_code)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    accelerator = accelerator_for_launch()
    # `auto` made concrete first: config.json, checkpoints and resume see the dtype that ran
    dtype = resolve_dtype(config.dtype, accelerator.device.type)
    config = replace(config, dtype=dtype.dtype)
    model, optimizer, schedule = prepare(config, accelerator)
    start = 0
    checkpoint = latest_checkpoint(run) if resume else None
    if checkpoint is not None:
        start = load_checkpoint(checkpoint, model, optimizer, schedule, config, accelerator, inputs)
    world, rank = accelerator.num_processes, accelerator.process_index
    if config.batch_size < world:
        raise SymtuneError(f"batch_size={config.batch_size} is smaller than {world} processes")
    prompts = stream.from_position(start * config.batch_size)
    pad_id = next(i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None)
    device = accelerator.device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype.dtype == "bf16")

    board = None
    run_validation = _Validation(run, config, model, tokenizer, val_prompts, accelerator, autocast)
    if val_prompts and start == 0:
        run_validation(0)
    with deferred_stop():  # SIGTERM/SIGHUP end the run at the next step boundary
        for step in range(start, config.steps):
            began = time.perf_counter()
            docs = step_documents(prompts, config.batch_size, tokenizer, config)
            mine = docs[rank::world]
            supervised_total, tokens_total = token_counts(mine, accelerator)
            groups = micro_batches(
                list(pack(mine, config.seq_len, pad_id)), config.micro_batch_rows
            )
            loss_sum = accumulate(model, groups, accelerator, autocast, supervised_total)
            grad_norm = optimizer_step(model, optimizer, schedule, config, accelerator)
            step_loss = finite(float(accelerator.reduce(loss_sum, "sum")) / supervised_total, step)
            elapsed = time.perf_counter() - began
            record = {"step": step + 1, "loss": step_loss, "lr": schedule.get_last_lr()[0]}
            record |= {"grad_norm": grad_norm, "tokens": tokens_total}
            record |= {"supervised_tokens": supervised_total, "seconds": elapsed}
            record["tokens_per_s"] = tokens_total / elapsed
            if step == start and accelerator.is_main_process:
                # only now: a first step that fails on bad input leaves nothing behind
                ran = inner_model(model, accelerator).config._attn_implementation
                provenance = _provenance(config, stream, inputs, device, dtype, ran)
                made = run_validation.pending
                _write_run_files(run, config, provenance, stream.manifest, start, made)
            if accelerator.is_main_process:
                board = _log(run, record, board, config, progress)
            last = step + 1 == config.steps
            late, signalled = _stop_flags(accelerator, deadline, device)
            stop, halt = not last and late, not last and signalled > 0
            if val_prompts and ((step + 1) % config.val_every == 0 or last or stop):
                run_validation(step + 1)
            if (step + 1) % config.checkpoint_every == 0 or last or stop or halt:
                save_checkpoint(
                    run, step + 1, model, optimizer, schedule, config, accelerator, inputs
                )
            if halt:  # SIGTERM/SIGHUP: this step's checkpoint is the run's state; no final/
                raise _halted(signalled, step + 1, config.steps)
            if stop:
                stopped = {"step": step + 1, "steps": config.steps, "reason": "deadline"}
                break
        else:
            stopped = None
        _finish(run, model, tokenizer, config, accelerator, stopped)
    return run


def _stop_flags(accelerator: Any, deadline: float | None, device: Any) -> tuple[bool, int]:
    """(the deadline passed, the stop signal received) on any rank: every rank agrees."""
    late = float(deadline is not None and time.monotonic() > deadline)
    flags = torch.tensor([late, float(stop_signal())], device=device)
    late, signalled = (float(x) for x in accelerator.reduce(flags, "max"))
    return late > 0, int(signalled)


def _halted(signum: int, step: int, steps: int) -> Terminated:
    name = signal.Signals(signum).name
    return Terminated(
        signum,
        f"stopped by {name} after step {step} of {steps}: checkpoint written; rerun with "
        "--resume (or the same symtune run) to continue",
    )


@dataclass
class _Validation:
    """Scores the held-out validation prompts at a step, logs the record, and exports the
    model to best/ when it is the best so far. Rank 0 alone, except under FSDP, where every
    rank takes part (the forward needs all the shards) and only rank 0 writes."""

    run: Path
    config: TuneConfig
    model: Any
    tokenizer: Any
    prompts: list[Prompt]
    accelerator: Any
    autocast: Any
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Records made before the run's files exist (written with them)."""

    def __post_init__(self) -> None:
        self.best = _best_accuracy(self.run)

    def __call__(self, step: int) -> None:
        main, everyone = self.accelerator.is_main_process, sharded(self.accelerator)
        if not (main or everyone):
            return
        began = time.perf_counter()
        # under FSDP through the wrapper (its root gathers the shards), else the model itself
        scored = self.model if everyone else inner_model(self.model, self.accelerator)
        with self.autocast:
            frame = framing(self.tokenizer, self.config.chat_template, self.config.model)
            result = validate(
                scored, self.tokenizer, self.prompts, self.accelerator.device, framing=frame
            )
        record = {"step": step, **result, "val_seconds": time.perf_counter() - began}
        layout = TuneRun(self.run)
        if main and layout.config.exists():
            _append_metrics(self.run, record)
        elif main:
            self.pending.append(record)
        if step >= 1 and result["val_accuracy"] > self.best:
            self.best = result["val_accuracy"]
            export_model(self.model, self.tokenizer, self.config, self.accelerator, layout.best)
            if main:
                atomic_json(layout.best_record, record)


def _write_run_files(
    run: Path,
    config: TuneConfig,
    provenance: dict[str, Any],
    manifest: dict[str, Any],
    start: int,
    pending: list[dict[str, Any]],
) -> None:
    """The run's config, provenance and mixture manifest, and its metrics cut to `start`
    with the validation records made before them."""
    layout = TuneRun(run)
    atomic_json(layout.config, config.to_dict())
    atomic_json(layout.provenance, provenance)
    atomic_json(layout.mixture_manifest, manifest)
    _truncate_metrics(layout.metrics, start)
    for record in pending:
        _append_metrics(run, record)


def _log(
    run: Path,
    record: dict[str, Any],
    board,
    config: TuneConfig,
    progress: Callable[[dict[str, Any]], None] | None,
):
    """A step's record to metrics.jsonl and TensorBoard (if installed); to `progress` every
    `log_every` steps and at the last. Returns the TensorBoard writer."""
    _append_metrics(run, record)
    board = board or _tensorboard(run)
    if board is not None:
        for key in ("loss", "lr", "grad_norm", "tokens_per_s"):
            if record[key] is not None:
                board.add_scalar(f"train/{key}", record[key], record["step"])
    step = record["step"]
    if progress is not None and (step % config.log_every == 0 or step == config.steps):
        progress(record)
    return board


def _finish(run: Path, model, tokenizer, config: TuneConfig, accelerator, stopped) -> None:
    """final/ (the best-validated step's model with keep=best, else the last), and
    stopped.json while final/ is not the last step's."""
    layout = TuneRun(run)
    if config.keep == "best" and layout.best.exists():
        if accelerator.is_main_process:
            replace_dir(layout.best, layout.final, copy=True)
    else:
        export_final(run, model, tokenizer, config, accelerator)
    if accelerator.is_main_process:
        if stopped is not None:
            atomic_json(layout.stopped, stopped)
        else:
            layout.stopped.unlink(missing_ok=True)
    accelerator.wait_for_everyone()


def _best_accuracy(run: Path) -> float:
    record = TuneRun(run).best_record
    if not record.exists() or not TuneRun(run).best.exists():
        return -1.0
    return float(read_json_object(record, "best-step record")["val_accuracy"])


def _append_metrics(run: Path, record: dict[str, Any]) -> None:
    with TuneRun(run).metrics.open("a") as log:
        log.write(json.dumps(record) + "\n")


def _tensorboard(run: Path):
    """A TensorBoard writer under run/tensorboard when tensorboard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run / "tensorboard"))


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep only metric records up to `step` (a resumed run rewrites what came after); a torn
    last line, from a kill mid-append, is dropped."""
    if not path.exists():
        return
    kept = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
    atomic_write(path, "".join(json.dumps(r) + "\n" for r in kept))
