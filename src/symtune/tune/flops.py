"""What a tuning step's speed is measured against: this machine's practical matmul peak (the
best of a few timed matmuls) and the parameter counts that give a step's model FLOPs. Used by
the benchmarks and the GPU experiment to report model FLOPs utilisation."""

from __future__ import annotations

import time

import torch


def matmul_peak(
    dtype: torch.dtype = torch.bfloat16, size: int = 2048, repeats: int = 10, device: str = "cpu"
) -> float:
    """Best matmul FLOP/s in `dtype` of a few repeats (the machine's practical peak). A dtype
    this machine emulates (bf16 on a CPU without bf16 instructions: a 512 matmul under 5
    GFLOP/s) is reported from that small probe instead of minutes of large ones."""
    small = _best(dtype, 512, 1, device)
    if small < 5e9:
        return small
    return _best(dtype, size, repeats, device)


def _best(dtype: torch.dtype, size: int, repeats: int, device: str) -> float:
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def linear_params(model) -> tuple[int, int]:
    """(parameters in the decoder's linear layers, parameters in the output head)."""
    head = model.get_output_embeddings()
    body = sum(
        m.weight.numel()
        for m in model.modules()
        if isinstance(m, torch.nn.Linear) and m is not head
    )
    return body, head.weight.numel()
