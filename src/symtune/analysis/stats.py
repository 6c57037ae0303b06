"""Paired statistics for base-vs-tuned comparisons: bootstrap intervals and McNemar's test."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

# z(0.975) + z(0.80): a two-sided 5% test with 80% power; a 95% interval is 2 x 1.96 SE wide.
_MDE_PER_WIDTH = (1.959964 + 0.841621) / (2 * 1.959964)


def mde(ci: Sequence[float]) -> float:
    """Minimum detectable effect (alpha 0.05 two-sided, power 0.8) of a difference whose 95%
    interval is `ci`: 2.80 standard errors, the standard error read off the interval's width."""
    return _MDE_PER_WIDTH * (ci[1] - ci[0])


def paired_difference(
    strata: Sequence[tuple[Sequence[float], Sequence[float], Sequence[Hashable]]], seed: int = 0
) -> dict[str, Any]:
    """Mean paired difference, 95% interval and MDE over strata of (base, tuned, cluster)
    values: the cluster bootstrap with its design effect when some examples share a cluster
    (an exemplar set), else the per-example bootstrap. The interval is never the narrower of
    the two: a design effect below 1 (sets dealt balanced queries, or too few sets to estimate
    their spread) keeps the per-example interval, and still reports the design effect."""
    if all(len(set(c)) == len(c) for _, _, c in strata):  # every example its own cluster
        delta, low, high = paired_bootstrap([(b, t) for b, t, _ in strata], seed=seed)
        return {"delta": delta, "ci": [low, high], "mde": mde([low, high])}
    delta, low, high, effect = cluster_bootstrap(strata, seed=seed)
    if effect < 1:  # never narrower than independent prompts: few sets make a noisy estimate
        delta, low, high = paired_bootstrap([(b, t) for b, t, _ in strata], seed=seed)
    return {"delta": delta, "ci": [low, high], "mde": mde([low, high]), "design_effect": effect}


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
    point, totals = _iid_totals(strata, resamples, seed)
    if totals is None:
        return 0.0, 0.0, 0.0
    low, high = np.percentile(totals, [2.5, 97.5])
    return point, float(low), float(high)


def _iid_totals(
    strata: Sequence[tuple[Sequence[float], Sequence[float]]], resamples: int, seed: int
) -> tuple[float, np.ndarray | None]:
    """The point estimate and the resampled statistics of `paired_bootstrap`."""
    rng = np.random.default_rng(seed)
    diffs = [np.asarray(t, dtype=float) - np.asarray(b, dtype=float) for b, t in strata]
    diffs = [d for d in diffs if d.size]
    if not diffs:
        return 0.0, None
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
    return point, totals


def cluster_bootstrap(
    strata: Sequence[tuple[Sequence[float], Sequence[float], Sequence[Hashable]]],
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float, float]:
    """(mean difference, 2.5th, 97.5th percentile, design effect) of tuned - base, averaged
    over strata, for examples that come in clusters (queries scored against one shared
    exemplar set): within each stratum the clusters are resampled with replacement, each with
    all its examples (resampling the examples within drawn clusters as well would count their
    noise twice: a design effect near 2 for independent examples). The design effect is this
    statistic's bootstrap variance over the one that treats every example as independent
    (`paired_bootstrap`): how much power sharing exemplar sets costs (1: none; n / design
    effect is the effective n). With few clusters it is itself a noisy estimate."""
    rng = np.random.default_rng(seed)
    point, iid = _iid_totals([(b, t) for b, t, _ in strata], resamples, seed)
    if iid is None:
        return 0.0, 0.0, 0.0, 1.0
    totals = np.zeros(resamples)
    used = 0
    for base, tuned, clusters in strata:
        diffs = np.asarray(tuned, dtype=float) - np.asarray(base, dtype=float)
        if not diffs.size:
            continue
        used += 1
        names = sorted(set(clusters), key=str)
        sums = np.array([diffs[[c == n for c in clusters]].sum() for n in names])
        sizes = np.array([sum(c == n for c in clusters) for n in names])
        drawn = rng.integers(0, len(names), size=(resamples, len(names)))
        totals += sums[drawn].sum(axis=1) / sizes[drawn].sum(axis=1)
    totals /= used
    low, high = np.percentile(totals, [2.5, 97.5])
    iid_var = float(np.var(iid))
    effect = float(np.var(totals)) / iid_var if iid_var > 0 else 1.0
    return point, float(low), float(high), effect
