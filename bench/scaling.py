"""Cost of training and evaluation versus the number of exemplars per class (k = 2..16), on
SmolLM2-135M-Instruct in bf16: mean prompt length, rank-scoring seconds per prompt, and
training (forward + backward, packed) seconds per prompt.

    .venv/bin/python bench/scaling.py [--queries 4]"""

from __future__ import annotations

import argparse
import time

import torch

from symtune.evaluate.scoring import RankRequest, Scorer
from symtune.models import load_model, load_tokenizer
from symtune.prompts.build import eval_prompt, eval_queries
from symtune.prompts.symbols import eval_pool
from symtune.tasks.suites import load_named
from symtune.tune.attention import register
from symtune.tune.loss import SupervisedLM
from symtune.tune.packing import batch_tensors, pack, tokenize_prompt

TASKS = ("irony_identification", "sports_understanding", "implicatures", "metaphor_boolean")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=4, help="queries per task")
    args = parser.parse_args()
    tasks = load_named(TASKS)
    tokenizer = load_tokenizer("smollm2-135m-instruct")
    scorer = Scorer(load_model("smollm2-135m-instruct", "bf16"), tokenizer)
    trainable = load_model("smollm2-135m-instruct", "fp32")
    trainable.set_attn_implementation(register())
    trainer = SupervisedLM(trainable).train()
    print(
        "| k per class | mean prompt tokens | rank scoring s/prompt | training s/prompt "
        "(fwd+bwd, bf16) |"
    )
    print("|---|---|---|---|")
    for k in (2, 4, 8, 16):
        prompts = [
            eval_prompt(t, q, "neither", eval_pool(), 0, k)
            for t in tasks
            for q in eval_queries(t, args.queries)
        ]
        docs = [tokenize_prompt(p, tokenizer) for p in prompts]
        mean_tokens = sum(len(d.input_ids) for d in docs) / len(docs)
        start = time.perf_counter()
        for p in prompts:
            scorer.loglikelihood(RankRequest(p.text, tuple(" " + c for c in p.candidates)))
        rank = (time.perf_counter() - start) / len(prompts)
        rows = list(pack(docs, 2048, tokenizer.eos_token_id))
        start = time.perf_counter()
        for row in rows:
            ids, labels, positions = batch_tensors([row])
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = trainer(ids, labels, positions)
            loss.backward()
        trainer.zero_grad()
        train = (time.perf_counter() - start) / len(prompts)
        print(f"| {k} | {mean_tokens:,.0f} | {rank:.2f} | {train:.2f} |")


if __name__ == "__main__":
    main()
