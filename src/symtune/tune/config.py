"""The tuning configuration: one dataclass, validated once, with errors that name the field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from symtune.errors import SymtuneError
from symtune.models.dtype import DTYPE_CHOICES
from symtune.models.registry import DEFAULT_MODEL
from symtune.schema import non_finite

OPTIMIZERS = ("adafactor", "adamw")
ATTENTIONS = ("auto", "symtune_packed", "flex_attention", "sdpa", "eager", "flash_attention_2")
"""How packed rows attend: "symtune_packed" (one causal SDPA call per prompt; no mask), or a
transformers implementation, which builds a per-prompt (block-diagonal causal) mask from the
restarting position ids; "auto" picks flex_attention on CUDA and symtune_packed elsewhere
(eager or sdpa, for a model whose attention symtune_packed does not compute)."""
SCHEDULES = ("constant", "linear", "cosine")


MAX_STEPS = 1_000_000
"""Most optimizer steps (the paper tuned for 4,000)."""
MAX_BATCH = 65_536
"""Most prompts per step (the paper used 32; a bigger batch is a typo, not a plan)."""
MAX_SEQ_LEN = 65_536
"""Longest packed row in tokens. Prompts in a row restart their positions, so a row may be
longer than the model's positions (each prompt may not: see the mixture's max_tokens)."""


@dataclass(frozen=True)
class LoraConfig:
    """LoRA adapters (peft) instead of full fine-tuning."""

    r: int = 16
    """LoRA rank."""
    alpha: int = 32
    """LoRA alpha (the update is scaled by alpha / r)."""
    dropout: float = 0.0
    """Dropout on the adapters' input."""
    targets: tuple[str, ...] = ("all-linear",)
    """The modules that get adapters: "all-linear" (peft's choice, asked of the model: every
    linear layer but the output head; for a Llama the q, k, v, o, gate, up and down
    projections), or module names (a name or its last dotted parts, as peft matches them)."""
    merge: bool = True
    """Merge adapters into the weights when saving the final model."""


@dataclass(frozen=True)
class TuneConfig:
    """Everything `symtune tune` needs; defaults follow the paper scaled to small CPUs."""

    mixture: str
    """Directory made by `symtune data build`."""
    out: str
    """Run directory (created; `--resume` continues a run found there)."""
    model: str = DEFAULT_MODEL
    """The model to tune: a built-in name, a local directory or a Hugging Face id."""
    steps: int = 100
    """Optimizer steps."""
    batch_size: int = 32
    """Prompts per optimizer step (the paper's 32), whatever the packing."""
    seq_len: int = 2048
    """Tokens per packed row."""
    micro_batch_rows: int = 1
    """Packed rows per forward/backward; gradients accumulate to the full batch."""
    gradient_checkpointing: bool = False
    """Keep only each layer's input through the forward and recompute the rest in the
    backward: the same gradients for about a third more compute, and activations that no
    longer grow with the layers (SmolLM2-135M in fp32, 512-token rows: 2.1 GB peak, not 2.7;
    bench/tune_memory.py)."""
    optimizer: str = "adafactor"
    """adafactor (the paper's) or adamw."""
    lr: float = 1e-4
    """Peak learning rate."""
    schedule: str = "constant"
    """After warmup: constant, linear or cosine (decay to 0)."""
    warmup_steps: int = 0
    """Linear warmup steps."""
    weight_decay: float = 0.0
    """Weight decay."""
    grad_clip: float = 1.0
    """Max global gradient norm; 0 disables clipping."""
    dtype: str = "auto"
    """Compute dtype: bf16 autocast over fp32 master weights, fp32 throughout, or auto (bf16 on
    CUDA and on CPUs with AMX or AVX512-BF16, else fp32; the choice is in provenance.json)."""
    seen_labels: bool = False
    """Also supervise exemplar answers whose symbol already appeared in the prompt (ours)."""
    chat_template: bool = False
    """Wrap each prompt in the model's chat template (raw text is the paper's setting)."""
    lora: LoraConfig | None = None
    """Train LoRA adapters (peft) instead of all weights."""
    checkpoint_every: int = 50
    """Steps between checkpoints (and at the last step)."""
    keep_checkpoints: int = 2
    """Checkpoints kept on disk (the latest ones)."""
    seed: int = 0
    """Seed of the model's random state (LoRA's initialisation; full fine-tuning has none)."""
    data_order: int = 0
    """The order prompts are read: 0 the mixture's; N > 0 each epoch a permutation of it seeded
    by N (a replicate's training seed: the same prompts, another order)."""
    log_every: int = 1
    """Steps between progress reports (the bar or log line; metrics.jsonl records every step)."""
    threads: int = 0
    """torch threads; 0 leaves torch's default."""
    val_every: int = 0
    """Score the mixture's validation prompts every this many steps (and before the first);
    0: never. Logged to metrics.jsonl; the best step is exported to run/best."""
    keep: str = "last"
    """"last": final/ is the last step's model; "best": the best-validated step's."""
    attention: str = "auto"
    """How packed rows attend (see ATTENTIONS); the same numbers whichever (tested)."""
    trust_remote_code: bool = False
    """Run the model's own Python code (its config's auto_map); off: such a model is refused."""

    def validate(self) -> None:
        """Raise a one-line error naming every bad field (then the first of the checks that
        depend on others)."""
        checks = [
            (1 <= self.steps <= MAX_STEPS, "steps", self.steps, f"1 to {MAX_STEPS:,}"),
            (
                1 <= self.batch_size <= MAX_BATCH,
                "batch_size",
                self.batch_size,
                f"1 to {MAX_BATCH:,} prompts per step",
            ),
            (
                16 <= self.seq_len <= MAX_SEQ_LEN,
                "seq_len",
                self.seq_len,
                f"16 to {MAX_SEQ_LEN:,} tokens",
            ),
            (
                1 <= self.micro_batch_rows <= MAX_BATCH,
                "micro_batch_rows",
                self.micro_batch_rows,
                f"1 to {MAX_BATCH:,}",
            ),
            (self.data_order >= 0, "data_order", self.data_order, "0 (the mixture's) or a seed"),
            (self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, " or ".join(OPTIMIZERS)),
            (self.schedule in SCHEDULES, "schedule", self.schedule, ", ".join(SCHEDULES)),
            (0 < self.lr <= 1, "lr", self.lr, "a learning rate in (0, 1]"),
            (
                0 <= self.warmup_steps <= self.steps,
                "warmup_steps",
                self.warmup_steps,
                f"between 0 and steps={self.steps}",
            ),
            (self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0"),
            (self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0"),
            (self.threads >= 0, "threads", self.threads, ">= 0 (0: torch's default)"),
            (self.log_every >= 1, "log_every", self.log_every, "at least 1"),
            (self.val_every >= 0, "val_every", self.val_every, ">= 0 (0: no validation)"),
            (self.keep in ("last", "best"), "keep", self.keep, "last or best"),
            (
                self.keep == "last" or self.val_every > 0,
                "keep",
                self.keep,
                "last, unless val_every > 0 (best needs validation)",
            ),
            (self.dtype in DTYPE_CHOICES, "dtype", self.dtype, ", ".join(DTYPE_CHOICES)),
            (self.attention in ATTENTIONS, "attention", self.attention, ", ".join(ATTENTIONS)),
            (self.checkpoint_every >= 1, "checkpoint_every", self.checkpoint_every, "at least 1"),
            (self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, "at least 1"),
        ]
        bad = non_finite(self) or [
            f"{name}={value}; expected {expected}" for ok, name, value, expected in checks if not ok
        ]
        if bad:  # every bad field at once, in one line
            raise SymtuneError("tune config: " + "; ".join(bad))
        lora = self.lora
        if lora is not None and (lora.r < 1 or lora.alpha < 1 or not 0 <= lora.dropout < 1):
            raise SymtuneError(
                f"tune config: lora r={lora.r}, alpha={lora.alpha}, dropout={lora.dropout}; "
                "expected r >= 1, alpha >= 1 and 0 <= dropout < 1"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any], where: str = "tune config") -> TuneConfig:
        """A config read back from JSON/YAML, every field's type checked."""
        from symtune.schema import fields_of

        if data.get("extra") == {}:  # written by earlier versions, never read
            data = {k: v for k, v in data.items() if k != "extra"}
        values = fields_of(TuneConfig, data, where)
        missing = [n for n in ("mixture", "out") if n not in values]
        if missing:
            raise SymtuneError(f"{where}: field {missing[0]!r} is missing")
        return TuneConfig(**values)

    def resume_key(self) -> dict[str, Any]:
        """Fields a resumed run must share with the checkpoint (what changes the trajectory).
        Where the mixture is (a moved run folder) is free: its content is checked by sha256."""
        data = self.to_dict()
        free_fields = ("out", "mixture", "checkpoint_every", "keep_checkpoints", "log_every")
        data.pop("threads")
        data.pop("trust_remote_code")
        for free in (*free_fields, "val_every", "keep", "attention", "gradient_checkpointing"):
            data.pop(free)
        return data


def resolve_attention(name: str, device_type: str) -> str:
    """The attention implementation "auto" means on a device: flex_attention on CUDA (block
    masks skip the pairs of prompts that never attend to each other, no Python loop over
    prompts), symtune_packed elsewhere (FlexAttention has no backward on CPU)."""
    if name != "auto":
        return name
    return "flex_attention" if device_type == "cuda" else "symtune_packed"
