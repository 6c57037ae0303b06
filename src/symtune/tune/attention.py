"""Attention for packed rows that never looks across documents and never builds an L x L mask.

Registered with transformers as "symtune_packed": each document of a row (a run of positions
starting at 0) gets its own causal SDPA call, so attention costs sum(len_i^2) instead of L^2 and
uses the fast causal kernel. transformers builds no mask for an implementation it has no mask
function for, and hands `position_ids` to the attention function through its kwargs."""

from __future__ import annotations

import torch
import torch.nn.functional as F

NAME = "symtune_packed"


def document_spans(position_ids: torch.Tensor) -> list[list[tuple[int, int]]]:
    """Per row, the [start, end) spans of runs that start where the position is 0."""
    spans = []
    for row in position_ids.tolist():
        starts = [i for i, p in enumerate(row) if p == 0] or [0]
        ends = [*starts[1:], len(row)]
        spans.append(list(zip(starts, ends, strict=True)))
    return spans


def packed_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    position_ids: torch.Tensor | None = None,
    **kwargs: object,
) -> tuple[torch.Tensor, None]:
    """query (B, Hq, L, D), key/value (B, Hkv, L, D) -> output (B, L, Hq, D)."""
    gqa = query.shape[1] != key.shape[1]
    if position_ids is None:
        out = F.scaled_dot_product_attention(
            query, key, value, is_causal=True, scale=scaling, dropout_p=dropout, enable_gqa=gqa
        )
        return out.transpose(1, 2).contiguous(), None
    if position_ids.shape[0] != query.shape[0]:  # one row of positions shared by the batch
        position_ids = position_ids.expand(query.shape[0], -1)
    out = torch.empty_like(query)
    for b, spans in enumerate(document_spans(position_ids)):
        for start, end in spans:
            out[b : b + 1, :, start:end] = F.scaled_dot_product_attention(
                query[b : b + 1, :, start:end],
                key[b : b + 1, :, start:end],
                value[b : b + 1, :, start:end],
                is_causal=True,
                scale=scaling,
                dropout_p=dropout,
                enable_gqa=gqa,
            )
    return out.transpose(1, 2).contiguous(), None


def register() -> str:
    """Make "symtune_packed" available to every transformers model; returns its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, packed_attention)
    return NAME
