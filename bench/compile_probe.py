"""Does `torch.compile` on the elementwise parts speed up training here? One packed 2048-token
row of SmolLM2-135M-Instruct (six prompts, `symtune_packed` attention, bf16 autocast over fp32
weights), forward + backward, eager against the same model with each decoder layer's MLP and
RMSNorms compiled by inductor (the attention stays eager: it loops over the row's prompts).

    .venv/bin/python bench/compile_probe.py [--steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from symtune.models import load_model
from symtune.tune.attention import register


def step_seconds(model, ids: torch.Tensor, positions: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(input_ids=ids, position_ids=positions, use_cache=False).logits
        loss = logits[:, -64:].float().logsumexp(-1).mean()
    loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def timed(model, ids, positions, steps: int) -> list[float]:
    step_seconds(model, ids, positions)  # warm-up (and compilation when compiled)
    return [step_seconds(model, ids, positions) for _ in range(steps)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_model("smollm2-135m-instruct", "fp32")
    model.set_attn_implementation(register())
    model.config.use_cache = False
    lengths = [341] * 5 + [2048 - 341 * 5]
    ids = torch.randint(0, model.config.vocab_size, (1, sum(lengths)))
    positions = torch.cat([torch.arange(n) for n in lengths])[None]
    eager = timed(model, ids, positions, args.steps)
    for layer in model.model.layers:
        layer.mlp = torch.compile(layer.mlp, dynamic=True)
        layer.input_layernorm = torch.compile(layer.input_layernorm, dynamic=True)
        layer.post_attention_layernorm = torch.compile(layer.post_attention_layernorm, dynamic=True)
    compiled = timed(model, ids, positions, args.steps)
    for name, xs in (("eager", eager), ("compiled MLP+norms", compiled)):
        print(
            f"{name}: median {statistics.median(xs):.2f} s per row "
            f"({', '.join(f'{x:.2f}' for x in xs)})"
        )
    print(f"ratio eager / compiled: {statistics.median(eager) / statistics.median(compiled):.2f}x")


if __name__ == "__main__":
    main()
