"""What honouring a model's attention features costs in tuning: forward + backward time of one
packed row on small random Gemma 2 (soft-capping) and Mistral (sliding window) models built
from their transformers configs, `symtune_packed` against the peers measured in the same run:
transformers' own implementation on the same packed row (it builds the row's packed mask from
the restarting position ids), and `symtune_packed` on the same model with the feature switched
off (the fast path a model without the feature gets: one causal SDPA call per prompt).

    .venv/bin/python bench/attention_features.py [--rows 3] [--seq-len 2048] [--threads 0]

Every variant computes the same loss where the feature is on (tests/unit/test_model_matrix.py);
the feature-off variant is another model, shown only for what the feature costs."""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch


def model_of(kind: str, feature: bool):
    import transformers

    from symtune.tune.attention import register

    register()
    torch.manual_seed(0)
    common = {
        "vocab_size": 4096,
        "hidden_size": 256,
        "intermediate_size": 768,
        "num_hidden_layers": 4,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "max_position_embeddings": 4096,
    }
    if kind == "gemma2":
        config = transformers.Gemma2Config(
            **common,
            head_dim=32,
            query_pre_attn_scalar=32,
            attn_logit_softcapping=50.0 if feature else None,
            sliding_window=4096,  # longer than any prompt: soft-capping alone is measured
        )
    else:
        config = transformers.MistralConfig(**common, sliding_window=128 if feature else None)
    return transformers.AutoModelForCausalLM.from_config(config).float().train()


def packed_row(seq_len: int, seed: int = 0):
    """One row of prompts of 200 to 500 tokens (the quick preset's range), supervised on
    their last 4 tokens."""
    from symtune.tune.packing import IGNORE, Document, batch_tensors, pack

    rng = random.Random(seed)
    docs, used = [], 0
    while used + 500 <= seq_len:
        size = rng.randrange(200, 500)
        ids = tuple(rng.randrange(1, 4096) for _ in range(size))
        labels = (*(ids[i + 1] if i >= size - 5 else IGNORE for i in range(size - 1)), 2)
        docs.append(Document(ids, labels))
        used += size
    return batch_tensors(list(pack(docs, seq_len, 0)))


def seconds(model, attention: str, row, repeats: int) -> float:
    """Median seconds of forward + backward of the row (after one warm-up)."""
    from symtune.tune.loss import supervised_loss

    model.set_attn_implementation(attention)
    times = []
    for i in range(repeats + 1):
        model.zero_grad(set_to_none=True)
        began = time.perf_counter()
        loss, n = supervised_loss(model, *row)
        (loss / n).backward()
        if i:
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3, help="timed repeats (median)")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0: default")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    row = packed_row(args.seq_len)
    print(f"one packed row of {args.seq_len} tokens, fp32, {torch.get_num_threads()} threads")
    print(f"{'model':<28} {'implementation':<34} {'s / row':>8} {'vs symtune_packed':>18}")
    for kind, feature, peer in (
        ("gemma2", "soft-capping 50", "eager"),
        ("mistral", "window 128", "sdpa"),
    ):
        on, off = model_of(kind, True), model_of(kind, False)
        ours = seconds(on, "symtune_packed", row, args.rows)
        theirs = seconds(on, peer, row, args.rows)
        plain = seconds(off, "symtune_packed", row, args.rows)
        rows = [
            (f"{kind}, {feature}", "symtune_packed", ours),
            (f"{kind}, {feature}", f"transformers {peer} (packed mask)", theirs),
            (f"{kind}, feature off", "symtune_packed (causal SDPA)", plain),
        ]
        for name, implementation, value in rows:
            print(f"{name:<28} {implementation:<34} {value:>8.3f} {value / ours:>17.2f}x")


if __name__ == "__main__":
    main()
