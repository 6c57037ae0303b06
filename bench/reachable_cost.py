"""Cost of the `reachable` evaluation pass for one model (SmolLM2-135M-Instruct): the four
settings and flipped labels, 3 seeds, at least 600 prompts per setting, timed end to end
through `symtune.evaluate.api.evaluate` (model load included) against the 10-minute goal; and,
as the peer measured in the same run, the other dtype on a random sample of the same prompts,
with both dtypes' matmul peaks (CPUs without AMX run bf16 far slower than fp32).

    .venv/bin/python bench/reachable_cost.py [--dtype fp32] [--scoring exact] [--sample 96]"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from symtune.evaluate.api import build_items, evaluate
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.models import load_model, load_tokenizer
from symtune.tune.flops import matmul_peak

MODEL = "smollm2-135m-instruct"
GOAL_SECONDS = 600


def sample_rate(items, dtype: str, scoring: str) -> float:
    """Prompts per second for one scoring mode on `items`, one model load excluded."""
    scorer = Scorer(load_model(MODEL, dtype), load_tokenizer(MODEL), batch_size=8)
    warm = items[0]
    scorer.generate([GenerateRequest(warm.context, warm.max_new_tokens)])
    start = time.perf_counter()
    if scoring == "exact":
        scorer.generate([GenerateRequest(i.context, i.max_new_tokens) for i in items])
    else:
        for i in items:
            scorer.loglikelihood(RankRequest(i.context, tuple(" " + c for c in i.candidates)))
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", default="fp32", help="dtype of the timed full pass")
    parser.add_argument("--scoring", default="exact", help="exact, rank or exact,rank")
    parser.add_argument("--max-queries", type=int, default=23, help="queries per task and seed")
    parser.add_argument("--sample", type=int, default=96, help="prompts per dtype, peer check")
    args = parser.parse_args()
    config = EvalConfig(
        suite="reachable",
        seeds=(0, 1, 2),
        max_queries=args.max_queries,
        scoring=tuple(args.scoring.split(",")),
        list_functions="none",
        turing=False,
        dtype=args.dtype,
    )
    items, _ = build_items(config)
    per_group = Counter(i.group for i in items)
    tokenizer = load_tokenizer(MODEL)
    tokens = [len(tokenizer(i.context)["input_ids"]) for i in items]
    print(
        f"reachable pass: {len(items)} prompts over {len({i.task for i in items})} tasks, "
        f"{dict(sorted(per_group.items()))}; mean {sum(tokens) / len(tokens):.0f} tokens "
        f"(max {max(tokens)}); scoring {args.scoring}; {torch.get_num_threads()} threads"
    )
    peaks = {
        name: matmul_peak(dt) for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16))
    }
    print("matmul peak: " + ", ".join(f"{n} {p / 1e12:.3f} TFLOP/s" for n, p in peaks.items()))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        evaluate(config, {"base": MODEL}, Path(tmp) / "eval")
        seconds = time.perf_counter() - start
    verdict = "met" if seconds <= GOAL_SECONDS else f"missed by {seconds - GOAL_SECONDS:.0f} s"
    print(
        f"full pass, {args.dtype}: {seconds:.0f} s ({seconds / 60:.1f} min, "
        f"{len(items) / seconds:.2f} prompts/s); goal {GOAL_SECONDS} s: {verdict}"
    )
    mode = config.scoring[0]
    sample = random.Random(0).sample(items, min(args.sample, len(items)))
    rates = {dtype: sample_rate(sample, dtype, mode) for dtype in ("fp32", "bf16")}
    for dtype, rate in rates.items():
        print(f"sample of {len(sample)}, {mode}, {dtype}: {rate:.2f} prompts/s")
    print(f"ratio fp32 / bf16 prompts/s on this CPU: {rates['fp32'] / rates['bf16']:.2f}x")


if __name__ == "__main__":
    main()
