"""Evaluation throughput on SmolLM2-135M-Instruct over the default evaluation pool (`reachable`):
prompts/s for
rank classification (prompt encoded once, KV cache shared by the candidates) and for greedy
exact-match generation, against a peer measured in the same run (one full forward per
candidate, no shared prefix); and the projected wall time of a full 4-setting pass
(11 tasks, <= 100 queries each, one seed).

    .venv/bin/python bench/eval_throughput.py [--sample 48] [--dtype bf16]"""

from __future__ import annotations

import argparse
import random
import time

import torch

from symtune.evaluate.api import build_items
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.models import load_model, load_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=48, help="prompts timed per method")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    config = EvalConfig(seeds=(0,), flipped=False, list_functions="none", turing=False)
    items, _ = build_items(config)
    sample = random.Random(0).sample(items, min(args.sample, len(items)))
    tokenizer = load_tokenizer("smollm2-135m-instruct")
    tokens = [len(tokenizer(i.context)["input_ids"]) for i in items]
    print(
        f"4-setting pass: {len(items)} prompts, mean {sum(tokens) / len(tokens):.0f} tokens "
        f"(max {max(tokens)}); timing a random sample of {len(sample)}; "
        f"dtype {args.dtype}, {torch.get_num_threads()} threads"
    )
    scorer = Scorer(load_model("smollm2-135m-instruct", args.dtype), tokenizer, args.batch_size)
    requests = [RankRequest(i.context, tuple(" " + c for c in i.candidates)) for i in sample]
    scorer.loglikelihood(requests[0])  # warm-up
    rates = {}
    for name, method in (
        ("rank, shared prefix (symtune)", scorer.loglikelihood),
        ("rank, one forward per candidate (peer)", scorer.loglikelihood_uncached),
    ):
        start = time.perf_counter()
        for request in requests:
            method(request)
        rates[name] = len(requests) / (time.perf_counter() - start)
    start = time.perf_counter()
    scorer.generate([GenerateRequest(i.context, i.max_new_tokens) for i in sample])
    rates["greedy generation, KV cache (symtune)"] = len(sample) / (time.perf_counter() - start)
    for name, rate in rates.items():
        print(
            f"{name:42s} {rate:6.2f} prompts/s -> full 4-setting pass "
            f"{len(items) / rate / 60:5.1f} min"
        )
    ours = rates["rank, shared prefix (symtune)"]
    peer = rates["rank, one forward per candidate (peer)"]
    print(f"ratio shared-prefix / per-candidate rank scoring: {ours / peer:.2f}x")


if __name__ == "__main__":
    main()
