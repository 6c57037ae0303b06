"""Scoring prompts in batches through their shared prefix: the queries of one exemplar set share
its exemplars, encoded once (KV cache); prompts with their own exemplars (the paper's design)
share nothing, and are encoded side by side. Each batch of queries pays only for its own tokens
(left-padded so that every row ends at its last token), then every (query, candidate) row for
the candidates' few tokens. In fp32, the scores and greedy outputs of each full prompt scored alone
(tests/unit/test_greedy_and_sets.py); greedy outputs by verification, else decoded together from
the queries' own cache."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from symtune.evaluate.greedy import Decoding, Top, tops
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer

ROWS_PER_FORWARD = 32
"""(query, candidate) rows per candidate forward: the cache is copied once per row."""


@dataclass(frozen=True)
class Query:
    """One prompt of a set: its text up to the answer and its candidates (with their space)."""

    context: str
    continuations: tuple[str, ...]
    max_new_tokens: int


@dataclass
class _Plan:
    """A query's tokens after the shared prefix and each candidate's tokens after those."""

    query: list[int]
    candidates: list[list[int]]
    context_ids: list[int]
    """The prompt's own tokens (what generation starts from)."""


def common_prefix(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all sequences share."""
    first = sequences[0]
    length = min(len(s) for s in sequences)
    for i in range(length):
        if any(s[i] != first[i] for s in sequences):
            return i
    return length


def _plans(scorer: Scorer, queries: Sequence[Query]) -> tuple[list[int], list[_Plan | None]]:
    """The shared prefix tokens and each query's plan; None for a query whose candidates do not
    share its context tokens (tokenized across the boundary): it is scored alone."""
    pieces = [[scorer._split(q.context, c) for c in q.continuations] for q in queries]
    starts = [min(start for _, start in p) for p in pieces]
    heads = [p[0][0][:start] for p, start in zip(pieces, starts, strict=True)]
    # the prefix stops at least one token before every query's end: each query encodes a token
    prefix = max(0, min(common_prefix(heads), min(starts) - 1))  # 0: nothing shared
    plans: list[_Plan | None] = []
    for query, parts, head in zip(queries, pieces, heads, strict=True):
        own = scorer.encode(query.context)
        if any(full[: len(head)] != head or start != len(head) for full, start in parts):
            plans.append(None)
            continue
        plans.append(_Plan(head[prefix:], [full[len(head) :] for full, _ in parts], own))
    return heads[0][:prefix], plans


def _extend(scorer: Scorer, cache, prefix: int, plans: Sequence[_Plan]):
    """Encode a batch of queries after the prefix: (cache of prefix + queries, logits after each
    query's last token, left padding per row)."""
    width = max(len(p.query) for p in plans)
    pad = scorer.tokenizer.pad_token_id or 0
    pads = [width - len(p.query) for p in plans]
    ids = torch.tensor([[pad] * n + p.query for n, p in zip(pads, plans, strict=True)])
    mask = torch.ones(len(plans), prefix + width, dtype=torch.long)
    positions = torch.zeros(len(plans), width, dtype=torch.long)
    for row, n in enumerate(pads):
        mask[row, prefix : prefix + n] = 0
        positions[row, n:] = torch.arange(prefix, prefix + width - n)
    batch = None
    if cache is not None:  # the shared prefix, once per query
        batch = copy.deepcopy(cache)
        batch.batch_repeat_interleave(len(plans))
    out = _forward(scorer, batch, ids, mask, positions, logits_to_keep=1)
    return out.past_key_values, out.logits[:, -1], mask, pads


def _forward(scorer: Scorer, cache, ids, mask, positions, **options):
    """One forward of `ids` after `cache` (which it extends), with explicit mask and positions."""
    return scorer.model(
        input_ids=ids.to(scorer.device),
        attention_mask=mask.to(scorer.device),
        position_ids=positions.to(scorer.device),
        past_key_values=cache,
        use_cache=True,
        **options,
    )


def _candidates(scorer: Scorer, cache, mask, plans, pads, first, rows, want_steps: bool):
    """Scores (and argmax steps) of the (query, candidate) `rows` on the queries' cache."""
    width = max(len(plans[q].candidates[c]) for q, c in rows)
    pad = scorer.tokenizer.pad_token_id or 0
    used = mask.shape[1]
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    full_mask = torch.zeros(len(rows), used + width, dtype=torch.long)
    positions = torch.zeros(len(rows), width, dtype=torch.long)
    for r, (q, c) in enumerate(rows):
        tokens = plans[q].candidates[c]
        ids[r, : len(tokens)] = torch.tensor(tokens)
        full_mask[r, :used] = mask[q]
        full_mask[r, used : used + len(tokens)] = 1
        start = used - pads[q]  # the query's tokens end here (padding excluded)
        positions[r] = torch.arange(start, start + width)
    shared = copy.deepcopy(cache)
    shared.reorder_cache(torch.tensor([q for q, _ in rows], device=scorer.device))
    logits = _forward(scorer, shared, ids, full_mask, positions).logits
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    results = []
    for r, (q, c) in enumerate(rows):
        tokens = plans[q].candidates[c]
        dists = [first[q], *logprobs[r, : len(tokens)]]
        score = sum(float(d[t]) for d, t in zip(dists, tokens, strict=False))
        results.append((score, tops(torch.stack(dists)) if want_steps else []))
    return results


@torch.inference_mode()
def score_set(
    scorer: Scorer, queries: Sequence[Query], exact: bool
) -> list[tuple[list[float], str | None]]:
    """Per query: the candidates' log-likelihoods and, with `exact`, the greedy output."""
    prefix_ids, plans = _plans(scorer, queries)
    cache = scorer._prefill(prefix_ids)[0] if prefix_ids else None
    verify = exact and scorer.greedy == "verify"
    results: list[tuple[list[float], str | None] | None] = [None] * len(queries)
    ready = [i for i, p in enumerate(plans) if p is not None]
    per_query = max(len(q.continuations) for q in queries)
    size = max(1, ROWS_PER_FORWARD // per_query)
    for first_index in range(0, len(ready), size):
        chunk = ready[first_index : first_index + size]
        batch = [plans[i] for i in chunk]
        qcache, last, mask, pads = _extend(scorer, cache, len(prefix_ids), batch)
        first = torch.log_softmax(last.float(), dim=-1)
        rows = [(q, c) for q, p in enumerate(batch) for c in range(len(p.candidates))]
        scored: list[tuple[float, list[Top]]] = []
        for r in range(0, len(rows), ROWS_PER_FORWARD):
            part = rows[r : r + ROWS_PER_FORWARD]
            scored += _candidates(scorer, qcache, mask, batch, pads, first, part, verify)
        unverified: list[int] = []
        for q, index in enumerate(chunk):
            mine = [s for (row_q, _), s in zip(rows, scored, strict=True) if row_q == q]
            output = None
            if verify:
                plan = batch[q]
                pieces = [(plan.context_ids + c, len(plan.context_ids)) for c in plan.candidates]
                output = scorer.verify(
                    plan.context_ids,
                    pieces,
                    [steps for _, steps in mine],
                    queries[index].max_new_tokens,
                )
            if exact and output is None:
                unverified.append(q)
            results[index] = ([s for s, _ in mine], output)
        if unverified:  # decoded together from the queries' own cache
            budgets = [queries[chunk[q]].max_new_tokens for q in unverified]
            outputs = _greedy(scorer, qcache, mask, pads, last, unverified, budgets)
            for q, output in zip(unverified, outputs, strict=True):
                scores = results[chunk[q]][0]  # type: ignore[index]
                results[chunk[q]] = (scores, output)
    for i, plan in enumerate(plans):
        if plan is None:  # its candidates tokenize across the prompt's end: scored alone
            query = queries[i]
            scores = scorer.loglikelihood(_request(query))
            output = scorer.generate([_gen_request(query)])[0] if exact else None
            results[i] = (scores, output)
    return [r for r in results if r is not None]


def _greedy(scorer: Scorer, cache, mask, pads, last, rows: list[int], budgets: list[int]):
    """Greedy outputs of the batch rows `rows` (queries encoded in `cache`), decoded side by
    side under `Scorer._greedy_from`'s stop rule (EOS, a newline, or the token budget). In fp32
    they are each prompt's own greedy output (tested); in bf16 this computation rounds
    differently from one prompt decoded alone, and near ties can go the other way (measured by
    bench/eval_cost.py, docs/benchmarks.md)."""
    cache = copy.deepcopy(cache)
    cache.batch_select_indices(torch.tensor(rows, device=scorer.device))
    mask = mask[rows]
    logits = last[rows]
    following = torch.tensor([mask.shape[1] - pads[r] for r in rows])  # each row's next position
    eos = scorer.tokenizer.eos_token_id
    decodings = [Decoding(budget, eos, scorer.decode) for budget in budgets]
    for step in range(max(budgets)):
        tokens = logits.argmax(dim=-1).tolist()
        if all([d.push(t) for d, t in zip(decodings, tokens, strict=True)]):
            break
        mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=mask.dtype)], dim=1)
        feed = torch.tensor([[t] for t in tokens])
        out = _forward(scorer, cache, feed, mask, (following + step)[:, None], logits_to_keep=1)
        cache, logits = out.past_key_values, out.logits[:, -1]
    return [d.output for d in decodings]


def _request(query: Query) -> RankRequest:
    return RankRequest(query.context, query.continuations)


def _gen_request(query: Query) -> GenerateRequest:
    return GenerateRequest(query.context, query.max_new_tokens)
