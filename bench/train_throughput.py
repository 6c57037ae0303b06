"""Training throughput on SmolLM2-135M-Instruct: symtune's step against a naive transformers
loop on the same packed rows, plus model FLOPs utilisation against this machine's measured
bf16 matmul peak.

    .venv/bin/python bench/train_throughput.py [--steps 3] [--batch-size 8] [--seq-len 2048]

Both sides: bf16 autocast over fp32 master weights, Adafactor, the same prompts packed into the
same rows. The naive peer runs `model(input_ids, position_ids, labels)` (full-vocabulary logits
on every position, transformers' own packed-sequence mask)."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from symtune.mixture.build import build_mixture
from symtune.mixture.config import MixtureConfig
from symtune.models import load_model, token_counter
from symtune.tasks import get_suite
from symtune.tasks.suites import load_named
from symtune.tune.config import TuneConfig
from symtune.tune.flops import linear_params, matmul_peak
from symtune.tune.loop import tune


def naive_steps(mixture: Path, config: TuneConfig, steps: int) -> list[tuple[int, float]]:
    """(tokens, seconds) per step of a plain transformers loop over the same packed rows."""
    from transformers.optimization import Adafactor

    from symtune.models import load_tokenizer
    from symtune.tune.packing import batch_tensors, pack
    from symtune.tune.step import step_documents
    from symtune.tune.stream import PromptStream

    model = load_model(config.model, "fp32")
    model.train()
    tokenizer = load_tokenizer(config.model)
    optimizer = Adafactor(
        model.parameters(),
        lr=config.lr,
        scale_parameter=False,
        relative_step=False,
        warmup_init=False,
    )
    prompts = PromptStream(mixture).from_position(0)
    out = []
    for _ in range(steps):
        start = time.perf_counter()
        rows = list(
            pack(
                step_documents(prompts, config.batch_size, tokenizer, config),
                config.seq_len,
                tokenizer.eos_token_id,
            )
        )
        tokens = 0
        for row in rows:
            ids, labels, positions = batch_tensors([row])
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(
                    input_ids=ids, position_ids=positions, labels=labels, use_cache=False
                ).loss
            (loss / len(rows)).backward()
            tokens += row.tokens
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad()
        out.append((tokens, time.perf_counter() - start))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up)")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per step")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    peak = matmul_peak()
    print(
        f"measured bf16 matmul peak: {peak / 1e12:.3f} TFLOP/s ({torch.get_num_threads()} threads)"
    )
    suite = get_suite("reachable")
    steps = args.steps + 1
    with tempfile.TemporaryDirectory() as tmp:
        mixture = Path(tmp) / "mix"
        mix = MixtureConfig(
            tasks=suite.tuning, n=steps * args.batch_size, seed=11, max_tokens=args.seq_len
        )
        build_mixture(mix, load_named(suite.tuning), mixture, token_counter(mix.tokenizer))
        config = TuneConfig(
            mixture=str(mixture),
            out=str(Path(tmp) / "run"),
            steps=steps,
            batch_size=args.batch_size,
            seq_len=args.seq_len,
            lr=1e-4,
            checkpoint_every=10**6,
        )
        run = tune(config)
        records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][1:]
        tokens = sum(r["tokens"] for r in records)
        seconds = sum(r["seconds"] for r in records)
        supervised = sum(r["supervised_tokens"] for r in records)
        ours = tokens / seconds
        body, head = linear_params(load_model(config.model, "fp32"))
        flops = 6 * body * tokens + 6 * head * supervised
        print(
            f"symtune: {ours:,.0f} tokens/s over {len(records)} steps of {args.batch_size} "
            f"prompts ({tokens / len(records):,.0f} tokens/step, "
            f"{supervised / tokens:.1%} supervised); "
            f"MFU {flops / seconds / peak:.1%} of the measured bf16 peak "
            f"(6 x {body / 1e6:.1f}M body params x tokens + 6 x {head / 1e6:.1f}M head params "
            f"x supervised tokens; attention FLOPs not counted)"
        )
        if not args.skip_naive:
            naive = naive_steps(mixture, config, steps)[1:]
            theirs = sum(t for t, _ in naive) / sum(s for _, s in naive)
            naive_flops = 6 * (body + head) * sum(t for t, _ in naive)
            print(
                f"naive transformers loop: {theirs:,.0f} tokens/s "
                f"(MFU {naive_flops / sum(s for _, s in naive) / peak:.1%}, full head counted)"
            )
            print(f"ratio symtune / naive: {ours / theirs:.2f}x")
        print(f"per-step seconds (symtune): {statistics.mean(r['seconds'] for r in records):.1f}")


if __name__ == "__main__":
    main()
