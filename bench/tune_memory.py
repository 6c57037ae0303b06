"""Tuning memory and time per step on SmolLM2-135M-Instruct, one fresh `symtune tune` process
per setting on the same prompts (the quick preset's tuning side), against a peer measured in
the same run: the quick preset's settings before issue 33 (8 packed rows of 512 tokens per
micro-batch).

    .venv/bin/python bench/tune_memory.py [--steps 3] [--dtype fp32]

Peak memory is each process's own (the kernel's high-water mark of its resident set, read by
wait4), so model loading, the steps, the checkpoint and the export all count. Seconds per step
are the mean over the steps after the first. Every setting trains on the same prompts with
the same loss (tests/unit/test_packing.py, test_tune.py): the settings differ only in how
many tokens one forward/backward holds."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SETTINGS = {
    "8 rows x 512 (the preset before)": ["--seq-len", "512", "--micro-batch-rows", "8"],
    "1 row x 512": ["--seq-len", "512", "--micro-batch-rows", "1"],
    "1 row x 384 (the quick preset)": ["--seq-len", "384", "--micro-batch-rows", "1"],
    "1 row x 256": ["--seq-len", "256", "--micro-batch-rows", "1"],
    "1 row x 512, gradient checkpointing": [
        "--seq-len",
        "512",
        "--micro-batch-rows",
        "1",
        "--gradient-checkpointing",
    ],
}


def build_mixture(directory: Path, prompts: int) -> None:
    """The quick preset's tuning data: the served families, prompts of at most 256 tokens."""
    from symtune.mixture.build import build_mixture as build
    from symtune.mixture.config import MixtureConfig
    from symtune.models import token_counter
    from symtune.tasks import get_suite
    from symtune.tasks.suites import load_named

    suite = get_suite("reachable")
    config = MixtureConfig(tasks=suite.tuning, n=prompts, seed=0, max_tokens=256)
    build(config, load_named(suite.tuning), directory, token_counter(config.tokenizer))


def measure(mixture: Path, out: Path, flags: list[str], steps: int, dtype: str):
    """(peak RSS in MB, mean seconds per step after the first, losses) of one tune process."""
    command = [sys.executable, "-m", "symtune", "tune", "--mixture", str(mixture)]
    command += ["--out", str(out), "--steps", str(steps), "--batch-size", "8", "--lr", "1e-4"]
    command += ["--dtype", dtype, "--checkpoint-every", "1000000", *flags]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    err = child.stderr.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"tune failed ({child.returncode}): {err.strip()[-500:]}")
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    seconds = statistics.mean(r["seconds"] for r in records[1:])
    return usage.ru_maxrss / 1024, seconds, [round(r["loss"], 4) for r in records]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3, help="steps per setting (>= 2)")
    parser.add_argument("--dtype", default="fp32", help="fp32, bf16 or auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mixture = Path(tmp) / "mix"
        build_mixture(mixture, args.steps * 8 + 40)
        rows = []
        for k, (name, flags) in enumerate(SETTINGS.items()):
            peak, seconds, losses = measure(
                mixture, Path(tmp) / f"run{k}", flags, args.steps, args.dtype
            )
            rows.append((name, peak, seconds, losses))
            print(f"{name}: peak {peak:,.0f} MB, {seconds:.1f} s/step, losses {losses}")
    _, peer_peak, peer_seconds, peer_losses = rows[0]
    print(f"\n{'setting':<40} {'peak MB':>8} {'x peer':>7} {'s/step':>7} {'x peer':>7}")
    for name, peak, seconds, losses in rows:
        same = "same losses" if losses == peer_losses else f"losses {losses}"
        print(
            f"{name:<40} {peak:>8,.0f} {peak / peer_peak:>6.2f}x {seconds:>7.1f} "
            f"{seconds / peer_seconds:>6.2f}x  {same}"
        )


if __name__ == "__main__":
    main()
