"""One optimizer step's parts, in the order the loop calls them: the model, optimizer and
schedule (`prepare`), a step's documents (`step_documents`) and micro-batches, the token counts
over every process, forward and backward with gradient accumulation (`accumulate`), the
optimizer step and the divergence check (`finite`)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch

from symtune.errors import SymtuneError
from symtune.prompts.build import Prompt
from symtune.prompts.chat import framing
from symtune.tune.config import TuneConfig
from symtune.tune.loss import SupervisedLM
from symtune.tune.model import prepare_model
from symtune.tune.packing import Document, Row, batch_tensors, tokenize_prompt


def build_optimizer(config: TuneConfig, params: list[torch.nn.Parameter]):
    """Adafactor (the paper's) with a fixed lr, or AdamW."""
    if config.optimizer == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(
            params,
            lr=config.lr,
            scale_parameter=False,
            relative_step=False,
            warmup_init=False,
            weight_decay=config.weight_decay,
        )
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def build_schedule(config: TuneConfig, optimizer) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup, then constant, linear decay to 0, or cosine decay to 0."""

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.schedule == "constant":
            return 1.0
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        if config.schedule == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def step_documents(
    prompts: Iterator[Prompt], count: int, tokenizer, config: TuneConfig
) -> list[Document]:
    """Tokenize the next `count` prompts of the stream, framed as `config` says."""
    frame = framing(tokenizer, config.chat_template, config.model)
    return [
        tokenize_prompt(next(prompts), tokenizer, config.seen_labels, frame) for _ in range(count)
    ]


def micro_batches(rows: list[Row], size: int) -> list[list[Row]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def token_counts(documents, accelerator) -> tuple[int, int]:
    """(supervised tokens, all tokens) of the step, summed over every process."""
    counts = torch.tensor(
        [
            sum(sum(1 for x in d.labels if x != -100) for d in documents),
            sum(len(d.input_ids) for d in documents),
        ],
        device=accelerator.device,
    )
    supervised, tokens = (int(v) for v in accelerator.reduce(counts, "sum"))
    return supervised, tokens


def optimizer_step(model, optimizer, schedule, config: TuneConfig, accelerator) -> float | None:
    """Clip (when configured), step the optimizer and the schedule; returns the grad norm."""
    grad_norm = None
    if config.grad_clip > 0:
        grad_norm = float(accelerator.clip_grad_norm_(model.parameters(), config.grad_clip))
    optimizer.step()
    schedule.step()
    optimizer.zero_grad(set_to_none=True)
    return grad_norm


def finite(loss: float, step: int) -> float:
    """The step's loss, or an error when training diverged (nothing of the step is saved)."""
    if not math.isfinite(loss):
        raise SymtuneError(
            f"tune: the loss is {loss} at step {step + 1} (training diverged); lower "
            "--lr or raise --grad-clip; nothing of this step was saved"
        )
    return loss


def prepare(config: TuneConfig, accelerator):
    """The model (loss on the answer), its optimizer and schedule, prepared by Accelerate."""
    model = SupervisedLM(prepare_model(config, accelerator.device.type))
    check_wrapping(model, accelerator, config.model)
    optimizer = build_optimizer(config, [p for p in model.parameters() if p.requires_grad])
    schedule = build_schedule(config, optimizer)
    model, optimizer = accelerator.prepare(model, optimizer)
    return model, optimizer, schedule


def accumulate(model, groups, accelerator, autocast, supervised_total: int) -> torch.Tensor:
    """Forward and backward over one step's micro-batches (gradients synchronised on the
    last); returns the summed loss. The scale makes the result the global mean over every
    supervised token of the step, as DDP averages gradients over processes."""
    world = accelerator.num_processes
    device = accelerator.device
    loss_sum = torch.zeros((), device=device)
    for i, group in enumerate(groups):
        ids, labels, positions = (t.to(device) for t in batch_tensors(group))
        sync = i == len(groups) - 1
        context = accelerator.no_sync(model) if not sync else contextlib.nullcontext()
        with context:
            with autocast:
                loss = model(ids, labels, positions)
            accelerator.backward(loss * world / supervised_total)
        loss_sum += loss.detach()
    return loss_sum


def check_wrapping(model, accelerator, name: str) -> None:
    """Under FSDP, the layer classes the config wraps must be the model's; with none named,
    the model's own block classes (`_no_split_modules`) are wrapped, and a model that
    declares none is refused (every rank finds the same, so every rank says the same line)."""
    plugin = getattr(accelerator.state, "fsdp_plugin", None)
    if plugin is None or not getattr(accelerator, "is_fsdp2", False):
        return
    present = {type(m).__name__ for m in model.modules()}
    wanted = plugin.transformer_cls_names_to_wrap or model._no_split_modules
    if not wanted:
        raise SymtuneError(
            f"FSDP config: model {name} declares no block classes (_no_split_modules) to wrap; "
            "set fsdp_transformer_layer_cls_to_wrap to its layer class"
        )
    missing = [cls for cls in wanted if cls not in present]
    if missing:
        layers = sorted(c for c in present if c.endswith(("Layer", "Block")))
        raise SymtuneError(
            f"FSDP config: layer class {missing[0]!r} is not in model {name} (its layer "
            f"classes: {', '.join(layers) or 'none'}); set fsdp_transformer_layer_cls_to_wrap"
        )
