"""symtune's tuning step against TRL's SFTTrainer (completion-only loss, packing) on the same
prompts, model (SmolLM2-135M-Instruct), precision (bf16 autocast, fp32 master weights),
optimizer (Adafactor, constant lr) and number of optimizer steps, measured in the same run:
tokens/s ratio and the loss both reach (same objective: mean cross-entropy over target tokens).

    .venv/bin/pip install -c constraints.txt -e ".[bench]"
    .venv/bin/python bench/train_vs_trl.py [--steps 6] [--prompts-per-step 8]"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from symtune.data import load_named
from symtune.mixture import MixtureConfig, build_mixture
from symtune.mixture_read import read_prompts
from symtune.models import load_model, load_tokenizer, token_counter
from symtune.tasks import get_suite
from symtune.tune.config import TuneConfig
from symtune.tune.loop import tune


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
):
    """(tokens fed, seconds, loss per step) of TRL's SFTTrainer on the mixture's first prompts;
    `attention` sets the model's transformers attention implementation (default: its own)."""
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
        bf16=True,
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--prompts-per-step", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-4)
    args = parser.parse_args()
    suite = get_suite("offline")
    with tempfile.TemporaryDirectory() as tmp:
        mixture = Path(tmp) / "mix"
        mix = MixtureConfig(
            tasks=suite.tuning, n=args.steps * args.prompts_per_step * 2, seed=5, max_tokens=512
        )
        build_mixture(mix, load_named(suite.tuning), mixture, token_counter(mix.tokenizer))
        # TRL padding-free batches (a batch's prompts in one row, positions restarting per
        # prompt) with a sequential sampler: its step s sees the same prompts as ours (up to
        # the rows TRL drops while preparing its dataset).
        trl_tokens, trl_seconds, trl_losses = trl_run(
            mixture, args.steps, args.prompts_per_step, args.seq_len, args.lr, Path(tmp) / "trl"
        )
        config = TuneConfig(
            mixture=str(mixture),
            out=str(Path(tmp) / "ours"),
            steps=args.steps,
            batch_size=args.prompts_per_step,
            seq_len=args.seq_len,
            lr=args.lr,
            checkpoint_every=10**6,
        )
        start = time.perf_counter()
        run = tune(config)
        ours_seconds = time.perf_counter() - start
        records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        ours_tokens = sum(r["tokens"] for r in records)
    ours_rate, trl_rate = ours_tokens / ours_seconds, trl_tokens / trl_seconds
    print(
        f"threads {torch.get_num_threads()}; {args.steps} optimizer steps each, wall time "
        f"including the first step"
    )
    print(
        f"TRL SFTTrainer: {trl_tokens:,.0f} tokens in {trl_seconds:.1f} s = {trl_rate:,.0f} "
        f"tokens/s; loss per step {[round(x, 3) for x in trl_losses]}"
    )
    print(
        f"symtune:        {ours_tokens:,.0f} tokens in {ours_seconds:.1f} s = {ours_rate:,.0f} "
        f"tokens/s; loss per step {[round(r['loss'], 3) for r in records]}"
    )
    print(f"ratio symtune / TRL tokens/s: {ours_rate / trl_rate:.2f}x")


if __name__ == "__main__":
    main()
