"""Where a CPU tuning step's time goes: torch.profiler over symtune's own step (the quick demo's
shape: 8 prompts packed into rows of 512 tokens, SmolLM2-135M-Instruct, the dtype `--dtype`
resolves to), the top operators by self CPU time, the share of matmuls, and tokens/s with
MFU against this machine's measured matmul peak of the dtype in use.

    .venv/bin/python bench/train_profile.py [--steps 2] [--dtype auto] [--rows 20]"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from symtune.mixture.build import build_mixture
from symtune.mixture.config import MixtureConfig
from symtune.models import load_tokenizer, token_counter
from symtune.models.dtype import resolve_dtype
from symtune.tasks import get_suite
from symtune.tasks.suites import load_named
from symtune.tune.config import TuneConfig
from symtune.tune.flops import linear_params, matmul_peak
from symtune.tune.loss import SupervisedLM
from symtune.tune.model import prepare_model
from symtune.tune.packing import batch_tensors, pack
from symtune.tune.step import build_optimizer, step_documents
from symtune.tune.stream import PromptStream

MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2, help="profiled steps (after a warm-up)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--rows", type=int, default=20, help="operators in the table")
    parser.add_argument("--micro-batch-rows", type=int, default=TuneConfig.micro_batch_rows)
    parser.add_argument("--attention", default="auto")
    args = parser.parse_args()
    dtype = resolve_dtype(args.dtype, "cpu")
    peak = matmul_peak(torch.bfloat16 if dtype.dtype == "bf16" else torch.float32)
    suite = get_suite("reachable")
    with tempfile.TemporaryDirectory() as tmp:
        mixture = Path(tmp) / "mix"
        mix = MixtureConfig(
            tasks=suite.tuning,
            n=(args.steps + 1) * args.batch_size,
            seed=0,
            max_tokens=args.seq_len,
        )
        build_mixture(mix, load_named(suite.tuning), mixture, token_counter(mix.tokenizer))
        config = TuneConfig(
            mixture=str(mixture), out=str(Path(tmp) / "run"), batch_size=args.batch_size,
            seq_len=args.seq_len, dtype=dtype.dtype, attention=args.attention,
            micro_batch_rows=args.micro_batch_rows,
        )  # fmt: skip
        tokenizer = load_tokenizer(config.model)
        stream = PromptStream(mixture)
        prompts = stream.from_position(0)
        model = SupervisedLM(prepare_model(config))
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = build_optimizer(config, params)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype.dtype == "bf16")

        def step() -> int:
            docs = step_documents(prompts, config.batch_size, tokenizer, config)
            rows = list(pack(docs, config.seq_len, pad))
            supervised = sum(sum(1 for x in d.labels if x != -100) for d in docs)
            for start in range(0, len(rows), config.micro_batch_rows):
                ids, labels, positions = batch_tensors(
                    rows[start : start + config.micro_batch_rows]
                )
                with autocast:
                    loss = model(ids, labels, positions)
                (loss / supervised).backward()
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return sum(len(d.input_ids) for d in docs), supervised

        step()  # warm-up
        totals = [0, 0]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            began = time.perf_counter()
            for _ in range(args.steps):
                tokens, supervised = step()
                totals[0] += tokens
                totals[1] += supervised
            seconds = time.perf_counter() - began
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMULS)
    print(
        f"dtype {dtype.dtype} ({dtype.reason}); measured {dtype.dtype} matmul peak "
        f"{peak / 1e12:.3f} TFLOP/s; {torch.get_num_threads()} threads"
    )
    body, head = linear_params(model.model)
    flops = 6 * body * totals[0] + 6 * head * totals[1]
    print(
        f"{args.steps} steps of {args.batch_size} prompts, {totals[0]:,} tokens in "
        f"{seconds:.1f} s (profiler on): {totals[0] / seconds:,.0f} tokens/s, MFU "
        f"{flops / seconds / peak:.1%}; matmuls {matmul / total:.0%} of self CPU time"
    )
    print("| operator | self CPU % | calls |\n|---|---|---|")
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[: args.rows]
    for event in top:
        share = event.self_cpu_time_total / total
        print(f"| `{event.key}` | {share:.1%} | {event.count:,} |")


if __name__ == "__main__":
    main()
