"""symtune's tuning step against TRL's SFTTrainer (completion-only loss, packing) on the same
prompts, model (SmolLM2-135M-Instruct), precision (what `--dtype auto` picks on this CPU: bf16
autocast over fp32 master weights with bf16 instructions, else fp32),
optimizer (Adafactor, constant lr) and number of optimizer steps, measured in the same run:
tokens/s ratio and the loss both reach (same objective: mean cross-entropy over target tokens),
and each side's MFU (6 x linear parameters x tokens, against this machine's matmul peak of the
tuning dtype, measured in the same run).

    .venv/bin/pip install -c constraints.txt -e ".[bench]"
    .venv/bin/python bench/train_vs_trl.py [--steps 6] [--prompts-per-step 8]"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from symtune.mixture.build import build_mixture
from symtune.mixture.config import MixtureConfig
from symtune.models import token_counter
from symtune.models.dtype import resolve_dtype
from symtune.tasks import get_suite
from symtune.tasks.suites import load_named
from symtune.tune.config import TuneConfig
from symtune.tune.flops import linear_params, matmul_peak
from symtune.tune.loop import tune
from symtune.tune.peers import trl_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--prompts-per-step", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-4)
    args = parser.parse_args()
    suite = get_suite("reachable")
    with tempfile.TemporaryDirectory() as tmp:
        mixture = Path(tmp) / "mix"
        mix = MixtureConfig(
            tasks=suite.tuning, n=args.steps * args.prompts_per_step * 2, seed=5, max_tokens=512
        )
        build_mixture(mix, load_named(suite.tuning), mixture, token_counter(mix.tokenizer))
        # TRL padding-free batches (a batch's prompts in one row, positions restarting per
        # prompt) with a sequential sampler: its step s sees the same prompts as ours (up to
        # the rows TRL drops while preparing its dataset).
        # both sides in the dtype `--dtype auto` picks here (bf16 autocast only on a CPU with
        # bf16 instructions): the peer is never made to run a precision this CPU emulates
        dtype = resolve_dtype("auto", "cpu").dtype
        trl_tokens, trl_seconds, trl_losses = trl_run(
            mixture,
            args.steps,
            args.prompts_per_step,
            args.seq_len,
            args.lr,
            Path(tmp) / "trl",
            bf16=dtype == "bf16",
        )
        config = TuneConfig(
            mixture=str(mixture),
            out=str(Path(tmp) / "ours"),
            steps=args.steps,
            batch_size=args.prompts_per_step,
            seq_len=args.seq_len,
            lr=args.lr,
            checkpoint_every=10**6,
            dtype=dtype,
        )
        start = time.perf_counter()
        run = tune(config)
        ours_seconds = time.perf_counter() - start
        records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        ours_tokens = sum(r["tokens"] for r in records)
        from transformers import AutoModelForCausalLM

        params = sum(linear_params(AutoModelForCausalLM.from_pretrained(str(run / "final"))))
    ours_rate, trl_rate = ours_tokens / ours_seconds, trl_tokens / trl_seconds
    peak = matmul_peak(torch.bfloat16 if dtype == "bf16" else torch.float32)
    print(
        f"tuning dtype {dtype}; measured {dtype} matmul peak {peak / 1e12:.3f} TFLOP/s; MFU "
        f"(6 x {params / 1e6:.1f}M linear params x tokens / s / peak): symtune "
        f"{6 * params * ours_rate / peak:.1%}, TRL {6 * params * trl_rate / peak:.1%}"
    )
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
