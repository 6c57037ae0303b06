"""What one scored query of the `reachable` pass costs (SmolLM2-135M-Instruct), three ways,
measured in one run on this machine:

1. one prompt per query (the paper's design), one at a time, exact match by plain greedy
   decoding (`--greedy generate`), rank scoring from the same prefill (symtune before issue 22);
2. the same prompts with greedy by verification (`--greedy verify`): the outputs must be
   identical to 1 (printed: mismatches);
3. the same design as `symtune eval` scores it now on a CPU: prompts of one group, task and
   seed side by side, `--batch-size` (8) at a time;
4. shared exemplar sets (`--exemplar-sets S`): each set's exemplars encoded once, its queries
   scored through that prefix; cost per scored query against 1 and 2.

Also the exact-only cost (greedy alone against verification alone) and the machine's matmul
peaks in both dtypes. One-per-query costs come from a random sample of the pass's prompts
(cost per prompt does not depend on how many there are); the shared design scores its sets.

    .venv/bin/python bench/eval_cost.py [--max-queries 23] [--sets 3] [--sample 120]"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict

import torch

from symtune.evaluate.api import build_items
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.runner import batch_keys
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.evaluate.shared import Query, score_set
from symtune.models import load_model, load_tokenizer
from symtune.models.dtype import resolve_dtype
from symtune.tune.flops import matmul_peak

MODEL = "smollm2-135m-instruct"


def requests(item) -> tuple[RankRequest, GenerateRequest]:
    rank = RankRequest(item.context, tuple(" " + c for c in item.candidates))
    return rank, GenerateRequest(item.context, item.max_new_tokens)


def one_per_query(scorer: Scorer, items, exact_only: bool) -> tuple[float, list[str]]:
    """Seconds and greedy outputs for `items`, rank + exact from one prefill (or exact only:
    plain decoding, or with "verify" the teacher-forced candidates and decoding if needed)."""
    outputs = []
    start = time.perf_counter()
    for item in items:
        rank, generate = requests(item)
        if exact_only and scorer.greedy == "generate":
            outputs.append(scorer.generate([generate])[0])
        else:
            outputs.append(scorer.rank_and_generate(rank, generate)[1])
    return time.perf_counter() - start, outputs


def shared(scorer: Scorer, items, exact: bool) -> tuple[float, dict[str, str | None]]:
    """Seconds to score every batch of `items` as `symtune eval` does on a CPU (a shared set
    through its prefix, or one-draw prompts side by side), and the outputs by item id."""
    sets = defaultdict(list)
    keys = batch_keys(items, scorer.batch_size)
    for item in items:
        sets[keys[item.id]].append(item)
    outputs = {}
    start = time.perf_counter()
    for members in sets.values():
        queries = [
            Query(i.context, requests(i)[0].continuations, i.max_new_tokens) for i in members
        ]
        for item, (_, output) in zip(members, score_set(scorer, queries, exact), strict=True):
            outputs[item.id] = output
    return time.perf_counter() - start, outputs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-queries", type=int, default=23, help="queries per task and seed")
    parser.add_argument("--sets", type=int, default=3, help="shared exemplar sets per task")
    parser.add_argument("--sample", type=int, default=120, help="one-per-query prompts timed")
    parser.add_argument("--dtype", default="auto", help="auto, bf16 or fp32")
    args = parser.parse_args()
    dtype = resolve_dtype(args.dtype, "cpu")
    base = dict(
        suite="reachable",
        seeds=(0,),
        max_queries=args.max_queries,
        list_functions="none",
        turing=False,
        dtype=dtype.dtype,
    )
    items, _ = build_items(EvalConfig(**base))
    sample = random.Random(0).sample(items, min(args.sample, len(items)))
    set_items, _ = build_items(EvalConfig(**base, exemplar_sets=args.sets))
    tokenizer = load_tokenizer(MODEL)
    mean_tokens = sum(len(tokenizer(i.context)["input_ids"]) for i in sample) / len(sample)
    print(
        f"reachable, seed 0, {args.max_queries} queries per task: {len(items)} prompts "
        f"(mean {mean_tokens:.0f} tokens in the sample of {len(sample)}); shared design: "
        f"{len(set_items)} prompts in {args.sets} sets per task and setting; dtype "
        f"{dtype.dtype} ({dtype.reason}); {torch.get_num_threads()} threads"
    )
    peaks = {n: matmul_peak(d) for n, d in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    print("matmul peak: " + ", ".join(f"{n} {p / 1e12:.3f} TFLOP/s" for n, p in peaks.items()))
    model = load_model(MODEL, dtype.dtype)
    generate = Scorer(model, tokenizer, greedy="generate")
    verify = Scorer(model, tokenizer, greedy="verify")
    one_per_query(verify, sample[:4], False)  # warm-up
    verify.verified = 0
    rows = []
    t_gen_exact, out_gen = one_per_query(generate, sample, True)
    t_ver_exact, out_ver = one_per_query(verify, sample, True)
    verified = verify.verified
    t_gen_both, out_gen_both = one_per_query(generate, sample, False)
    t_ver_both, out_ver_both = one_per_query(verify, sample, False)
    mismatches = sum(a != b for a, b in zip(out_gen, out_ver, strict=True)) + sum(
        a != b for a, b in zip(out_gen_both, out_ver_both, strict=True)
    )
    t_batched, batched_outputs = shared(verify, items, True)
    batched_mismatches = sum(
        batched_outputs[i.id] != o for i, o in zip(sample, out_gen, strict=True)
    )
    t_set_both, set_outputs = shared(verify, set_items, True)
    t_set_rank, _ = shared(verify, set_items, False)
    t_set_generate, set_generated = shared(generate, set_items, True)
    within = sum(set_generated[k] != o for k, o in set_outputs.items())
    start = time.perf_counter()
    for item in sample:
        verify.loglikelihood(requests(item)[0])
    t_rank = time.perf_counter() - start
    n_set = len(set_outputs)
    checked = random.Random(1).sample(set_items, min(args.sample, len(set_items)))
    _, plain = one_per_query(generate, checked, True)
    set_mismatches = sum(set_outputs[i.id] != o for i, o in zip(checked, plain, strict=True))
    n = len(sample)
    rows = [
        ("one per query, exact, generate", t_gen_exact / n),
        ("one per query, exact, verify", t_ver_exact / n),
        ("one per query, rank + exact, generate", t_gen_both / n),
        ("one per query, rank + exact, verify", t_ver_both / n),
        ("one per query, rank only", t_rank / n),
        ("one per query, 8 side by side, rank + exact, verify", t_batched / len(items)),
        (f"{args.sets} shared sets, rank + exact, generate", t_set_generate / n_set),
        (f"{args.sets} shared sets, rank + exact, verify", t_set_both / n_set),
        (f"{args.sets} shared sets, rank only", t_set_rank / n_set),
    ]
    print(f"{'way':<44} {'ms/query':>9}")
    for name, cost in rows:
        print(f"{name:<44} {1000 * cost:>9.1f}")
    print(
        f"verified greedy outputs: {verified} of {n} ({100 * verified / n:.0f}%); "
        f"outputs differing from plain greedy decoding: {mismatches} of {2 * n}"
    )
    print(
        f"one per query side by side, outputs differing from each prompt decoded alone: "
        f"{batched_mismatches} of {n}"
    )
    print(
        f"shared sets, outputs differing from each prompt decoded alone: {set_mismatches} of "
        f"{len(checked)} sampled prompts; verify against generate within the sets: {within} "
        f"of {n_set}"
    )
    print(f"ratio exact, generate / verify: {t_gen_exact / t_ver_exact:.2f}x")
    print(f"ratio rank + exact, generate / verify: {t_gen_both / t_ver_both:.2f}x")
    print(f"ratio shared sets, rank + exact, generate / verify: {t_set_generate / t_set_both:.2f}x")
    side = (t_gen_both / n) / (t_batched / len(items))
    print(f"ratio per prompt, one at a time (generate) / 8 side by side (verify): {side:.2f}x")
    print(
        f"ratio rank only, one per query / shared sets: {(t_rank / n) / (t_set_rank / n_set):.2f}x"
    )
    print(
        "ratio per scored query, one per query (generate) / shared sets (verify): "
        f"{(t_gen_both / n) / (t_set_both / n_set):.2f}x; against one per query (verify): "
        f"{(t_ver_both / n) / (t_set_both / n_set):.2f}x"
    )


if __name__ == "__main__":
    main()
