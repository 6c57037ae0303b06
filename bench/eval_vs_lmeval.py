"""symtune's rank scoring engines against lm-evaluation-harness (HF backend) on the same prompts
and label sets, same model and dtype, all measured in the same run: prompts/s and the ratio to
lm-eval, agreement of the per-example log-likelihoods with lm-eval's (max abs difference), the
tokens each side computes (symtune's "prefix" and "tree": each prompt once and each candidate
once; "rows" and lm-eval: each context + candidate in full), and MFU: 2 x linear parameters x
those tokens (the head only where a candidate is scored) per second against this machine's
matmul peak of the dtype, measured in the same run. A dtype whose measured peak is under a tenth
of fp32's (bf16 on a CPU without bf16 instructions) is reported and not timed.

    .venv/bin/pip install -c constraints.txt -e ".[dev]"
    .venv/bin/python bench/eval_vs_lmeval.py [--sample 96] [--dtypes fp32,bf16]

lm-eval's `loglikelihood` is fed directly with (context, " label") requests; its batch size is
symtune's rows per forward."""

from __future__ import annotations

import argparse
import random
import time

import torch

from symtune.evaluate import tree
from symtune.evaluate.api import build_items
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.runner import TREE_QUERIES
from symtune.evaluate.scoring import RankRequest, Scorer
from symtune.evaluate.shared import Query, score_set
from symtune.models import load_model, load_tokenizer
from symtune.tune.flops import linear_params, matmul_peak

MODEL = "smollm2-135m-instruct"


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


def engines(scorers: dict[str, Scorer]):
    """Each symtune engine as a function of the requests (as `symtune eval` calls it)."""

    def queries(requests):
        return [Query(r.context, r.continuations, 8) for r in requests]

    def prefix(requests):
        """As `symtune eval` batches it (`runner.batch_keys`): prompts of like length side by
        side, `batch_size` a forward (the requests come sorted by length)."""
        scorer, size = scorers["prefix"], scorers["prefix"].batch_size
        found = [
            s for c in range(0, len(requests), size)
            for s, _ in score_set(scorer, queries(requests[c : c + size]), False)
        ]  # fmt: skip
        return found

    def tree_rows(requests):
        """As `symtune eval` calls it (`runner.tree_keys`): `TREE_QUERIES` prompts a call."""
        return [
            s for c in range(0, len(requests), TREE_QUERIES)
            for s, _ in tree.score_queries(
                scorers["tree"], queries(requests[c : c + TREE_QUERIES]), False
            )
        ]  # fmt: skip

    def rows(requests):
        return scorers["rows"].loglikelihood_many(requests)

    return {"prefix": prefix, "tree": tree_rows, "rows": rows}


def timed(function, requests):
    function(requests[:2])  # warm-up
    start = time.perf_counter()
    found = function(requests)
    return found, time.perf_counter() - start


def measure(dtype: str, requests: list[RankRequest], batch_size: int, peak: float) -> None:
    from lm_eval.models.huggingface import HFLM

    model = load_model(MODEL, dtype)
    tokenizer = load_tokenizer(MODEL)
    scorers = {
        "prefix": Scorer(model, tokenizer, batch_size),
        "tree": Scorer(model, tokenizer, batch_size, engine="tree"),
        "rows": Scorer(model, tokenizer, batch_size, engine="rows", row_tokens=2048),
    }
    assert scorers["tree"].engine == "tree" and scorers["rows"].engine == "rows"
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device="cpu")
    theirs, their_seconds = timed(lambda r: lmeval_scores(lm, r), requests)
    timings = {name: timed(function, requests) for name, function in engines(scorers).items()}
    # the peak: the best of before and after the timed runs (a VM's clock and neighbours move)
    peak = max(peak, matmul_peak(torch.float32 if dtype == "fp32" else torch.bfloat16))
    print(f"{dtype}: measured matmul peak {peak / 1e12:.3f} TFLOP/s (best of before and after)")
    body, head = linear_params(model)
    split = scorers["prefix"]._split
    pieces = [[split(r.context, c) for c in r.continuations] for r in requests]
    once = sum(tree.tree_size(p) for p in pieces)  # each prompt once, each candidate once
    full = sum(len(ids) for p in pieces for ids, _ in p)
    scored = sum(len(ids) - start + 1 for p in pieces for ids, start in p)  # head positions
    flops = {"once": 2 * (body * once + head * scored), "full": 2 * (body + head) * full}
    rate_theirs = len(requests) / their_seconds
    print(
        f"  lm-eval : {rate_theirs:6.2f} prompts/s          {full:7d} tokens  "
        f"MFU {flops['full'] / their_seconds / peak:5.1%}"
    )
    for name, (mine, seconds) in timings.items():
        diff = max(
            abs(a - b) for x, y in zip(mine, theirs, strict=True) for a, b in zip(x, y, strict=True)
        )
        tokens, work = (full, "full") if name == "rows" else (once, "once")
        rate = len(requests) / seconds
        print(
            f"  {name:8s}: {rate:6.2f} prompts/s {rate / rate_theirs:5.2f}x  {tokens:7d} tokens  "
            f"MFU {flops[work] / seconds / peak:5.1%}  max |log-likelihood - lm-eval's| {diff:.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtypes", default="fp32,bf16")
    args = parser.parse_args()
    config = EvalConfig(seeds=(0,), flipped=False, list_functions="none", turing=False)
    items, _ = build_items(config)
    sample = random.Random(1).sample(items, args.sample)
    sample.sort(key=lambda i: len(i.context))  # as the runner orders prompts (less padding)
    requests = [RankRequest(i.context, tuple(" " + c for c in i.candidates)) for i in sample]
    print(
        f"{len(requests)} prompts from the default (reachable) 4-setting pass, "
        f"{sum(len(r.continuations) for r in requests)} candidates; "
        f"{torch.get_num_threads()} threads; {args.batch_size} rows (prefix: queries) per forward"
    )
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    for dtype in args.dtypes.split(","):
        if peaks[dtype] < peaks["fp32"] / 10:
            print(f"{dtype}: measured matmul peak {peaks[dtype] / 1e12:.3f} TFLOP/s")
            print(f"  not timed: {dtype} matmuls run at under a tenth of fp32's on this CPU")
            continue
        measure(dtype, requests, args.batch_size, peaks[dtype])


if __name__ == "__main__":
    main()
