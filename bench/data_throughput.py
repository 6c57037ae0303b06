"""Prompts built per second for the default mixture (the `reachable` tuning side; tokenization
for the length policy included, one core) and peak memory of a streamed 100k-prompt build.

    .venv/bin/python bench/data_throughput.py [--n 5000] [--build-n 100000]

Prints a ratio line against a peer measured in the same run: the same prompts without the
length policy (no tokenization), so the cost of tokenization is visible."""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from symtune.mixture.build import build_mixture, iter_prompts
from symtune.mixture.config import MixtureConfig
from symtune.models import token_counter
from symtune.prompts.lengths import TokenCounter
from symtune.tasks import get_suite
from symtune.tasks.suites import load_named


def rate(config: MixtureConfig, tasks, counter) -> tuple[float, int]:
    start = time.perf_counter()
    chars = 0
    for _, prompt in iter_prompts(config, tasks, counter=counter):
        chars += len(prompt.text)
    elapsed = time.perf_counter() - start
    return config.n / elapsed, chars // config.n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000, help="prompts timed for the rate")
    parser.add_argument("--build-n", type=int, default=100_000, help="prompts in the memory run")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    suite = get_suite("reachable")
    tasks = load_named(suite.tuning)
    count = token_counter("smollm2-135m-instruct")
    config = MixtureConfig(tasks=suite.tuning, n=args.n, seed=1)
    counter = TokenCounter(count)
    cold, mean_chars = rate(config, tasks, counter)
    with_tok, _ = rate(config, tasks, counter)  # warm: every input text counted once already
    without_tok, _ = rate(config, tasks, None)
    print(f"prompts/s with length policy, cold token cache: {cold:,.0f}  (mean {mean_chars} chars)")
    print(f"prompts/s with length policy, warm token cache: {with_tok:,.0f}")
    print(f"prompts/s without length policy:          {without_tok:,.0f}")
    print(f"ratio tokenized/untokenized: {with_tok / without_tok:.2f}")
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        big = MixtureConfig(tasks=suite.tuning, n=args.build_n, seed=2)
        manifest = build_mixture(big, tasks, Path(tmp), count)
        elapsed = time.perf_counter() - start
        size = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"build of {args.build_n:,} prompts: {elapsed:.1f} s ({args.build_n / elapsed:,.0f}/s), "
        f"{size:,.0f} MiB on disk, {manifest['stats']['with_dropped_exemplars']} with dropped "
        f"exemplars; peak RSS {peak:,.0f} MiB (before build {base_rss:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
