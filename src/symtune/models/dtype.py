"""Which compute dtype a machine runs fastest: `auto` is bf16 on CUDA and on CPUs with bf16
matrix instructions (AMX or AVX512-BF16), fp32 elsewhere, where bf16 matmuls are emulated and
run several times slower than fp32 (bench/reachable_cost.py measures both)."""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DTYPE_CHOICES = ("auto", "bf16", "fp32")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class DtypeChoice:
    """A resolved dtype and why: recorded in results.json and a tuning run's provenance."""

    requested: str
    dtype: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"requested": self.requested, "dtype": self.dtype, "reason": self.reason}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str] | None:
    """The CPU's feature flags (Linux), or None where the system does not list them."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return None


def _measured_bf16_faster(size: int = 384, repeats: int = 3) -> bool:
    """Whether a bf16 matmul beats fp32 on this CPU (a fraction of a second)."""
    import torch

    def best(dtype) -> float:
        a = torch.randn(size, size, dtype=dtype)
        a @ a
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ a
            times.append(time.perf_counter() - start)
        return min(times)

    return best(torch.bfloat16) < best(torch.float32)


@functools.cache
def cpu_bf16_support() -> tuple[bool, str]:
    """(bf16 is fast here, how that was decided): from the CPU flags where Linux lists them,
    else from a sub-second measured matmul of both dtypes."""
    flags = cpu_flags()
    if flags is not None:
        present = [f for f in BF16_FLAGS if f in flags]
        if present:
            return True, f"CPU flags {', '.join(present)}"
        return False, f"CPU without {' or '.join(BF16_FLAGS)}"
    faster = _measured_bf16_faster()
    return faster, f"measured: bf16 matmul {'faster' if faster else 'slower'} than fp32"


def resolve_dtype(requested: str, device_type: str) -> DtypeChoice:
    """`auto` made concrete for a device ("cpu" or "cuda"); bf16 and fp32 are kept as asked,
    bf16 on a CPU without bf16 instructions with a warning (it runs, slowly)."""
    if requested not in DTYPE_CHOICES:  # callers validate first; this is a guard
        raise ValueError(f"dtype {requested!r}; expected one of {', '.join(DTYPE_CHOICES)}")
    if device_type == "cuda":
        if requested == "auto":
            return DtypeChoice(requested, "bf16", "CUDA")
        return DtypeChoice(requested, requested, "asked for")
    fast, why = cpu_bf16_support()
    if requested == "auto":
        return DtypeChoice(requested, "bf16" if fast else "fp32", why)
    if requested == "bf16" and not fast:
        _warn_slow_bf16(why)
    return DtypeChoice(requested, requested, "asked for")


@functools.cache
def _warn_slow_bf16(why: str) -> None:
    """Once per process: bf16 was asked for where it is emulated."""
    print(
        f"warning: dtype bf16 on a {why}: bf16 matmuls are emulated here and run several "
        "times slower than fp32 (--dtype auto picks fp32 on this machine)",
        file=sys.stderr,
    )
