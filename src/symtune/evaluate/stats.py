"""Paired statistics for base-vs-tuned comparisons: bootstrap intervals and McNemar's test."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def mcnemar_p(base: Sequence[bool], tuned: Sequence[bool]) -> float:
    """Exact two-sided McNemar p-value (binomial on the discordant pairs)."""
    b = sum(1 for x, y in zip(base, tuned, strict=True) if x and not y)
    c = sum(1 for x, y in zip(base, tuned, strict=True) if y and not x)
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(
    strata: Sequence[tuple[Sequence[float], Sequence[float]]],
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean difference, 2.5th, 97.5th percentile) of tuned - base, averaged over strata.

    Each stratum (a task) holds paired per-example scores; examples are resampled with
    replacement within their stratum, and the statistic is the mean over strata of the
    stratum's mean difference (the paper averages accuracy over tasks). Strata of a single
    example (e.g. one query per list-function subtask) cannot vary on their own, so they are
    resampled together, as one pool of examples; otherwise their share of the interval would
    collapse to a point."""
    rng = np.random.default_rng(seed)
    diffs = [np.asarray(t, dtype=float) - np.asarray(b, dtype=float) for b, t in strata]
    diffs = [d for d in diffs if d.size]
    if not diffs:
        return 0.0, 0.0, 0.0
    point = float(np.mean([d.mean() for d in diffs]))
    totals = np.zeros(resamples)
    singletons = np.array([d[0] for d in diffs if d.size == 1])
    if singletons.size:  # each contributes its one value: resample them as a pool
        picks = rng.integers(0, singletons.size, size=(resamples, singletons.size))
        totals += singletons[picks].sum(axis=1)
    for d in diffs:
        if d.size > 1:
            picks = rng.integers(0, d.size, size=(resamples, d.size))
            totals += d[picks].mean(axis=1)
    totals /= len(diffs)
    low, high = np.percentile(totals, [2.5, 97.5])
    return point, float(low), float(high)
