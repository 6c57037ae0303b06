"""The peer a tuning benchmark measures symtune against, in the same run: TRL's SFTTrainer
(padding-free, completion-only loss) on a mixture's first prompts. Imports TRL only when
called (the `bench` extra installs it)."""

from __future__ import annotations

import time
from pathlib import Path

from symtune.mixture.read import read_prompts
from symtune.models import load_model, load_tokenizer


def trl_run(
    mixture: Path,
    steps: int,
    per_step: int,
    seq_len: int,
    lr: float,
    out: Path,
    model_name: str = "smollm2-135m-instruct",
    device: str = "cpu",
    attention: str | None = None,
    bf16: bool = True,
):
    """(tokens fed, seconds, loss per step) of TRL's SFTTrainer on the mixture's first prompts;
    `attention` sets the model's transformers attention implementation (default: its own);
    `bf16` bf16 autocast over fp32 weights (as symtune's bf16), else fp32 throughout."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    prompts = [p for _, p in read_prompts(mixture)]
    data = Dataset.from_list([{"prompt": p.text, "completion": p.target} for p in prompts])
    config = SFTConfig(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=per_step,
        gradient_accumulation_steps=1,
        learning_rate=lr,
        lr_scheduler_type="constant",
        optim="adafactor",
        max_grad_norm=1.0,
        bf16=bf16,
        use_cpu=device == "cpu",
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        seed=0,
        max_length=None,  # prompts already fit the mixture's 512-token budget
        packing=False,
        padding_free=True,
        train_sampling_strategy="sequential",
        completion_only_loss=True,
        dataloader_num_workers=0,
        warmup_steps=0,
    )
    model = load_model(model_name, "fp32")
    if attention is not None:
        model.set_attn_implementation(attention)
    # Without this, transformers 5 lets a padding-free row attend across its documents (loss
    # 7.51 instead of 3.42 on the first batch here): the trap the brief warns about.
    model.config.use_cache = False
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=data,
        processing_class=load_tokenizer(model_name),
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    logs = [h for h in trainer.state.log_history if "loss" in h]
    # TRL's logged num_tokens is not cumulative here; count what its dataloader fed instead
    batches = iter(trainer.get_train_dataloader())
    tokens = sum(next(batches)["position_ids"].shape[1] for _ in range(steps))
    return tokens, seconds, [h["loss"] for h in logs]
