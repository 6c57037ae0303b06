"""symtune's rank scoring against lm-evaluation-harness (HF backend) on the same prompts and
label sets, same model and dtype, measured in the same run: prompts/s ratio, agreement of the
per-example log-likelihoods (max abs difference, in fp32), and each side's MFU: the forward
FLOPs it executes (2 x linear parameters x tokens: symtune runs each prompt once and its
candidates on the shared prefix, lm-eval each context + candidate in full) against this
machine's matmul peak of the dtype, measured in the same run.

    .venv/bin/pip install -c constraints.txt -e ".[bench]"
    .venv/bin/python bench/eval_vs_lmeval.py [--sample 24] [--batch-size 8]

lm-eval's `loglikelihood` is fed directly with (context, " label") requests."""

from __future__ import annotations

import argparse
import random
import time

import torch

from symtune.evaluate.api import build_items
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.scoring import RankRequest, Scorer
from symtune.models import load_model, load_tokenizer
from symtune.tune.flops import linear_params, matmul_peak


def lmeval_scores(lm, requests: list[RankRequest]) -> list[list[float]]:
    from lm_eval.api.instance import Instance

    instances = [
        Instance(request_type="loglikelihood", doc={}, arguments=(r.context, c), idx=j)
        for r in requests
        for j, c in enumerate(r.continuations)
    ]
    results = lm.loglikelihood(instances, disable_tqdm=True)
    out, k = [], 0
    for r in requests:
        out.append([float(results[k + j][0]) for j in range(len(r.continuations))])
        k += len(r.continuations)
    return out


def run(dtype: str, requests: list[RankRequest], batch_size: int):
    from lm_eval.models.huggingface import HFLM

    model = load_model("smollm2-135m-instruct", dtype)
    tokenizer = load_tokenizer("smollm2-135m-instruct")
    ours = Scorer(model, tokenizer, batch_size)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device="cpu")
    ours.loglikelihood(requests[0])
    lmeval_scores(lm, requests[:1])
    start = time.perf_counter()
    mine = [ours.loglikelihood(r) for r in requests]
    our_seconds = time.perf_counter() - start
    start = time.perf_counter()
    theirs = lmeval_scores(lm, requests)
    their_seconds = time.perf_counter() - start
    diff = max(
        abs(a - b) for x, y in zip(mine, theirs, strict=True) for a, b in zip(x, y, strict=True)
    )
    body, head = linear_params(model)
    count = lambda text: len(tokenizer(text, add_special_tokens=False).input_ids)  # noqa: E731
    prompt = sum(count(r.context) for r in requests)
    answer = sum(count(c) for r in requests for c in r.continuations)
    full = sum(count(r.context + c) for r in requests for c in r.continuations)
    peak = matmul_peak(torch.bfloat16 if dtype == "bf16" else torch.float32)
    mfu_ours = 2 * (body + head) * (prompt + answer) / our_seconds / peak
    mfu_theirs = 2 * (body + head) * full / their_seconds / peak
    rates = len(requests) / our_seconds, len(requests) / their_seconds
    return (*rates, diff, mfu_ours, mfu_theirs, peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    config = EvalConfig(seeds=(0,), flipped=False, list_functions="none", turing=False)
    items, _ = build_items(config)
    sample = random.Random(1).sample(items, args.sample)
    requests = [RankRequest(i.context, tuple(" " + c for c in i.candidates)) for i in sample]
    print(
        f"{len(requests)} prompts from the default (reachable) 4-setting pass, "
        f"{sum(len(r.continuations) for r in requests)} candidates; "
        f"{torch.get_num_threads()} threads; batch size {args.batch_size}"
    )
    for dtype in ("bf16", "fp32"):
        ours, theirs, diff, mfu_ours, mfu_theirs, peak = run(dtype, requests, args.batch_size)
        print(
            f"{dtype}: symtune {ours:.2f} prompts/s, lm-eval {theirs:.2f} prompts/s, "
            f"ratio {ours / theirs:.2f}x; max |log-likelihood difference| {diff:.2e}; "
            f"MFU symtune {mfu_ours:.1%}, lm-eval {mfu_theirs:.1%} of the measured {dtype} "
            f"matmul peak {peak / 1e12:.3f} TFLOP/s"
        )


if __name__ == "__main__":
    main()
