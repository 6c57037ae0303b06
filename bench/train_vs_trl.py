"""symtune's tuning step against TRL's SFTTrainer (completion-only loss, packing) on the same
prompts, model (SmolLM2-135M-Instruct), optimizer (Adafactor, constant lr) and number of
optimizer steps, measured in the same run in fp32 and in bf16 (autocast over fp32 master weights
on both sides; a dtype whose matmul peak is under a tenth of fp32's here is reported, not
timed): tokens/s ratio and the loss both reach (same objective: mean cross-entropy over target
tokens), and each side's MFU (6 x linear parameters x tokens computed, against this machine's
matmul peak of the dtype, measured in the same run).

    .venv/bin/pip install -c constraints.txt -e ".[dev]"
    .venv/bin/python bench/train_vs_trl.py [--steps 6] [--prompts-per-step 8] [--dtypes fp32]
"""

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
    parser.add_argument("--dtypes", default="fp32,bf16")
    args = parser.parse_args()
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(
        f"threads {torch.get_num_threads()}; {args.steps} optimizer steps of "
        f"{args.prompts_per_step} prompts each, wall time including the first step; tokens: "
        "those computed (both sides pack prompts without padding)"
    )
    suite = get_suite("reachable")
    with tempfile.TemporaryDirectory() as tmp:
        mixture = Path(tmp) / "mix"
        mix = MixtureConfig(
            tasks=suite.tuning, n=args.steps * args.prompts_per_step * 2, seed=5, max_tokens=512
        )
        build_mixture(mix, load_named(suite.tuning), mixture, token_counter(mix.tokenizer))
        for dtype in args.dtypes.split(","):
            print(f"{dtype}: measured matmul peak {peaks[dtype] / 1e12:.3f} TFLOP/s")
            if peaks[dtype] < peaks["fp32"] / 10:
                print(f"  not timed: {dtype} matmuls run at under a tenth of fp32's on this CPU")
                continue
            compare(args, mixture, Path(tmp) / dtype, dtype, peaks[dtype])


def compare(args, mixture: Path, tmp: Path, dtype: str, peak: float) -> None:
    """TRL, then symtune, in `dtype` (bf16: autocast over fp32 master weights on both)."""
    # TRL padding-free batches (a batch's prompts in one row, positions restarting per
    # prompt) with a sequential sampler: its step s sees the same prompts as ours (up to
    # the rows TRL drops while preparing its dataset)
    trl_tokens, trl_seconds, trl_losses = trl_run(
        mixture,
        args.steps,
        args.prompts_per_step,
        args.seq_len,
        args.lr,
        tmp / "trl",
        bf16=dtype == "bf16",
    )
    config = TuneConfig(
        mixture=str(mixture),
        out=str(tmp / "ours"),
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
    # the peak: the best of before and after the timed runs (a VM's clock and neighbours move)
    peak = max(peak, matmul_peak(torch.float32 if dtype == "fp32" else torch.bfloat16))
    print(f"  matmul peak, best of before and after: {peak / 1e12:.3f} TFLOP/s")
    print(
        f"  TRL SFTTrainer: {trl_tokens:,.0f} tokens in {trl_seconds:.1f} s = {trl_rate:,.0f} "
        f"tokens/s, MFU {6 * params * trl_rate / peak:.1%}; loss per step "
        f"{[round(x, 3) for x in trl_losses]}"
    )
    print(
        f"  symtune:        {ours_tokens:,.0f} tokens in {ours_seconds:.1f} s = {ours_rate:,.0f} "
        f"tokens/s, MFU {6 * params * ours_rate / peak:.1%}; loss per step "
        f"{[round(r['loss'], 3) for r in records]}"
    )
    print(
        f"  ratio symtune / TRL tokens/s: {ours_rate / trl_rate:.2f}x "
        f"(MFU: 6 x {params / 1e6:.1f}M linear params x tokens / s / the measured peak)"
    )


if __name__ == "__main__":
    main()
