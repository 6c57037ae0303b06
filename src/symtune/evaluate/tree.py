"""Rank scoring with many prompts per forward and no repeated work: the (prompt, candidate)
sequences of several queries are merged into one token tree per row (a trie: a prefix that
sequences share, such as a shared exemplar set or a prompt before its candidates, is one run of
nodes), every node at its depth as position id and attending to exactly its ancestors and itself
(a 4D mask the model receives as it is; sliding-window layers get the window on depths). Each
prompt is computed once and each candidate once, as with a KV cache, but in a few forwards of
thousands of tokens instead of one small forward per prompt: the matmuls of training. Rows are
batched; within a row the nodes whose logits are needed sit at its end, so the head runs on
`logits_to_keep` columns only.

Whether a model computes exactly this is not assumed: `supported` compares a probe row with
plain forwards once per model (a model that builds its masks its own way is scored by the
prefix engine instead). In fp32, every score equals one full forward per candidate
(tests/unit/test_tree.py, every family of tests/matrix.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from symtune.errors import SymtuneError
from symtune.evaluate.greedy import Top, tops

if TYPE_CHECKING:
    from symtune.evaluate.scoring import Scorer

DEFAULT_ROW_TOKENS = 192
"""Nodes per row when not set: a row takes queries until the next would pass it (a query
larger than that has a row of its own); attention costs grow with a row's length."""


@dataclass
class Row:
    """One row's token tree: node i holds `tokens[i]` at depth `depths[i]` under `parents[i]`
    (-1: a root)."""

    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    children: dict[tuple[int, int], int] = field(default_factory=dict)
    needed: list[int] = field(default_factory=list)
    """Nodes whose next-token distribution is read (ordered, without repeats)."""
    queries: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tokens)

    def insert(self, sequence: Sequence[int]) -> list[int]:
        """The node of each token of `sequence`, adding the nodes the tree lacks."""
        path, parent = [], -1
        for depth, token in enumerate(sequence):
            node = self.children.get((parent, token))
            if node is None:
                node = len(self.tokens)
                self.children[(parent, token)] = node
                self.tokens.append(token)
                self.parents.append(parent)
                self.depths.append(depth)
            path.append(node)
            parent = node
        return path

    def truncate(self, size: int, needed: int, queries: int) -> None:
        """Undo every insertion after the row had `size` nodes (and `needed`, `queries`)."""
        for key in [k for k, v in self.children.items() if v >= size]:
            del self.children[key]
        del self.tokens[size:], self.parents[size:], self.depths[size:]
        del self.needed[needed:], self.queries[queries:]


@dataclass(frozen=True)
class Placed:
    """Where one query's sequences are: its row, and per candidate the nodes of its tokens."""

    row: int
    paths: tuple[tuple[int, ...], ...]


def pack(
    sequences: Sequence[Sequence[tuple[list[int], int]]], row_tokens: int
) -> tuple[list[Row], list[Placed]]:
    """Queries (each a list of (tokens, start) per candidate, start: its first scored token)
    into rows of at most `row_tokens` nodes, in order; a query that alone is larger than that
    gets a row of its own."""
    rows: list[Row] = [Row()]
    placed: list[Placed] = []
    for q, candidates in enumerate(sequences):
        row = rows[-1]
        size, needed, queries = len(row), len(row.needed), len(row.queries)
        paths = _insert(row, candidates)
        if len(row) > row_tokens and queries:  # it does not fit after the others: a new row
            row.truncate(size, needed, queries)
            row = Row()
            rows.append(row)
            paths = _insert(row, candidates)
        row.queries.append(q)
        placed.append(Placed(len(rows) - 1, paths))
    return [r for r in rows if r.queries], placed


def _insert(row: Row, candidates: Sequence[tuple[list[int], int]]) -> tuple[tuple[int, ...], ...]:
    paths = []
    seen = set(row.needed)
    for tokens, start in candidates:
        path = row.insert(tokens)
        for node in path[start - 1 :]:  # the distributions before each token and after the last
            if node not in seen:
                seen.add(node)
                row.needed.append(node)
        paths.append(tuple(path))
    return tuple(paths)


def tree_size(candidates: Sequence[tuple[list[int], int]]) -> int:
    """Nodes one query's tree takes (what a row must hold)."""
    row = Row()
    _insert(row, candidates)
    return len(row)


def layout(row: Row, width: int) -> list[int]:
    """Column of each node in a row of `width` columns: the nodes whose logits are read at
    the end (right-aligned), the others first; columns between are padding."""
    needed = set(row.needed)
    columns = [0] * len(row)
    others = [n for n in range(len(row)) if n not in needed]
    for c, node in enumerate(others):
        columns[node] = c
    for c, node in enumerate(row.needed):
        columns[node] = width - len(row.needed) + c
    return columns


def allowed(row: Row, window: int | None) -> torch.Tensor:
    """(nodes, nodes) bool: node i sees node j iff j is i or an ancestor of i (and, under a
    sliding window, less than `window` positions back)."""
    n = len(row)
    seen = torch.zeros(n, n, dtype=torch.bool)
    for i, parent in enumerate(row.parents):  # parents come before their children
        if parent >= 0:
            seen[i] = seen[parent]
        seen[i, i] = True
    if window is not None:
        depth = torch.tensor(row.depths)
        seen &= (depth[:, None] - depth[None, :]) < window
    return seen


def attention_windows(model) -> dict[str, int | None] | None:
    """The masks a model takes, by what transformers' config declares: {layer type: sliding
    window or None} where layers differ (`layer_types`: the model accepts a mask per type),
    {"": window} where one mask serves every layer; None: a kind of layer this module does not
    build masks for (chunked attention, ...)."""
    config = model.config.get_text_config()
    window = getattr(config, "sliding_window", None)
    types = getattr(config, "layer_types", None)
    if not types:
        return {"": window}
    masks: dict[str, int | None] = {}
    for kind in set(types):
        if kind == "full_attention":
            masks[kind] = None
        elif kind == "sliding_attention" and window:
            masks[kind] = window
        else:
            return None
    return masks


def _masks(rows: Sequence[Row], columns, width: int, windows, dtype, device):
    """The additive 4D mask (rows, 1, width, width) per window (a dict per layer type when the
    model takes one); padding columns see only themselves."""
    built: dict[int | None, torch.Tensor] = {}
    for window in set(windows.values()):
        seen = torch.eye(width, dtype=torch.bool).repeat(len(rows), 1, 1)
        for b, (row, where) in enumerate(zip(rows, columns, strict=True)):
            index = torch.tensor(where)
            seen[b][index[:, None], index[None, :]] = allowed(row, window)
        mask = torch.zeros(len(rows), 1, width, width, dtype=dtype)
        mask.masked_fill_(~seen[:, None], torch.finfo(dtype).min)
        built[window] = mask.to(device)
    if "" in windows:
        return built[windows[""]]
    return {kind: built[window] for kind, window in windows.items()}


def forward_rows(model, rows: Sequence[Row], pad: int, windows) -> tuple[torch.Tensor, list]:
    """One forward of `rows` side by side: log-probabilities (rows, kept columns, vocabulary)
    at the end columns, and each row's column per node."""
    device = next(model.parameters()).device
    width = max(len(r) for r in rows)
    keep = max(len(r.needed) for r in rows)
    columns = [layout(r, width) for r in rows]
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for b, (row, where) in enumerate(zip(rows, columns, strict=True)):
        index = torch.tensor(where)
        ids[b, index] = torch.tensor(row.tokens)
        positions[b, index] = torch.tensor(row.depths)
    dtype = next(model.parameters()).dtype
    logits = model(
        input_ids=ids.to(device),
        position_ids=positions.to(device),
        attention_mask=_masks(rows, columns, width, windows, dtype, device),
        use_cache=False,
        logits_to_keep=keep,
    ).logits
    return torch.log_softmax(logits.float(), dim=-1), columns


def score_rows(
    model,
    sequences: Sequence[Sequence[tuple[list[int], int]]],
    row_tokens: int,
    rows_per_forward: int,
    pad: int,
    want_steps: bool = False,
    windows=None,
) -> list[list[tuple[float, list[Top]]]]:
    """Per query, per candidate: the sum of the log-probabilities of its tokens from `start`
    on, and with `want_steps` the argmax before each of them and after the last."""
    windows = windows if windows is not None else attention_windows(model)
    if windows is None:
        raise SymtuneError("tree scoring: this model has layers whose masks it cannot build")
    rows, placed = pack(sequences, row_tokens)
    order = sorted(range(len(rows)), key=lambda r: len(rows[r]))  # like lengths together
    results: list[list[tuple[float, list[Top]]]] = [[] for _ in sequences]
    by_row: dict[int, list[int]] = {}
    for q, where in enumerate(placed):
        by_row.setdefault(where.row, []).append(q)
    for first in range(0, len(order), rows_per_forward):
        group = order[first : first + rows_per_forward]
        logprobs, columns = forward_rows(model, [rows[r] for r in group], pad, windows)
        width = max(len(rows[r]) for r in group)
        keep = logprobs.shape[1]
        for b, r in enumerate(group):
            for q in by_row[r]:
                for (tokens, start), path in zip(sequences[q], placed[q].paths, strict=True):
                    at = [columns[b][node] - (width - keep) for node in path[start - 1 :]]
                    dists = logprobs[b, at]
                    picked = dists[torch.arange(len(tokens) - start), tokens[start:]]
                    score = float(picked.double().sum())
                    results[q].append((score, tops(dists) if want_steps else []))
    return results


def supported(model, tolerance: float = 1e-3) -> bool:
    """Whether the model computes tree rows as plain forwards would: two prompts (one longer
    than any sliding window up to 64) with two branches each in one row, against one full
    forward per branch. `tolerance`: on log-probabilities (bf16 needs more than fp32)."""
    windows = attention_windows(model)
    if windows is None:
        return False
    vocab = model.config.get_text_config().vocab_size
    first = [(7 * i + 3) % vocab for i in range(70)]
    second = [(11 * i + 5) % vocab for i in range(6)]
    branches = ([(5 * i + 1) % vocab for i in range(3)], [(3 * i + 2) % vocab for i in range(2)])
    queries = [[(p + b, len(p)) for b in branches] for p in (first, second)]
    device = next(model.parameters()).device
    with torch.no_grad():
        try:
            got = score_rows(model, queries, 1_000, 1, 0, windows=windows)
        except Exception:  # a model that refuses a 4D mask or explicit positions
            return False
        for query, scores in zip(queries, got, strict=True):
            for (tokens, start), (score, _) in zip(query, scores, strict=True):
                logits = model(input_ids=torch.tensor([tokens], device=device)).logits[0]
                logprobs = logits.float().log_softmax(-1)
                alone = sum(float(logprobs[j - 1, tokens[j]]) for j in range(start, len(tokens)))
                if abs(alone - score) > tolerance * (len(tokens) - start):
                    return False
    return True


def score_queries(scorer: Scorer, queries, exact: bool) -> list[tuple[list[float], str | None]]:
    """`shared.score_set`'s contract through tree rows: per query the candidates' scores and,
    with `exact`, the greedy output (verified from the rank pass, else generated)."""
    from symtune.evaluate.scoring import GenerateRequest

    sequences = [[scorer._split(q.context, c) for c in q.continuations] for q in queries]
    row_tokens = scorer.row_tokens or max(DEFAULT_ROW_TOKENS, max(tree_size(s) for s in sequences))
    verify = exact and scorer.greedy == "verify"
    pad = scorer.tokenizer.pad_token_id or 0
    with torch.inference_mode():
        scored = score_rows(
            scorer.model, sequences, row_tokens, scorer.batch_size, pad, verify, scorer.windows
        )
        results: list[tuple[list[float], str | None]] = []
        for query, pieces, mine in zip(queries, sequences, scored, strict=True):
            output = None
            if verify:
                ids = scorer.encode(query.context)
                output = scorer.verify(ids, pieces, [s for _, s in mine], query.max_new_tokens)
            if exact and output is None:
                request = GenerateRequest(query.context, query.max_new_tokens)
                output = scorer.generate([request])[0]
            results.append(([s for s, _ in mine], output))
    return results
