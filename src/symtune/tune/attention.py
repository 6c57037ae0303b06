"""Attention for packed rows that never looks across documents and never builds an L x L mask.

Registered with transformers as "symtune_packed": each document of a row (a run of positions
starting at 0) gets its own causal attention, so attention costs sum(len_i^2) instead of L^2.
transformers builds no mask for an implementation it has no mask function for, and hands
`position_ids` and the layer's attention features to the attention function as kwargs.

The features a model's layers ask for are computed as its eager attention computes them:
`scaling`, a sliding window (`sliding_window`, per layer: kv_idx > q_idx - window),
attention-logit soft-capping (`softcap`: tanh(s / c) * c) and attention sinks (`s_aux` or
the layer's `sinks`: one extra logit per head that takes probability mass and no value).
Plain causal documents, and windows no shorter than the document, take the fast causal SDPA
kernel; a window that bites takes SDPA with a band mask; soft-capping and sinks take the eager
formula, one document at a time. A feature this function does not know raises
`UnsupportedAttention` instead of being dropped (`probe` finds it before training)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

NAME = "symtune_packed"

NEUTRAL = frozenset(
    {
        "position_ids",
        "is_causal",
        "output_attentions",
        "output_hidden_states",
        "use_cache",
        "cache_position",
        "past_key_values",
        "return_dict",
        "cu_seq_lens_q",
        "cu_seq_lens_k",
        "max_length_q",
        "max_length_k",
    }
)
"""kwargs that reach the attention function without changing its math (or that must be None:
the varlen ones describe packing, which the position ids already say)."""
SAID_BY_NONE = frozenset({"cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k"})


class UnsupportedAttention(Exception):
    """A layer asked for an attention feature that symtune_packed does not compute."""


def document_spans(position_ids: torch.Tensor) -> list[list[tuple[int, int]]]:
    """Per row, the [start, end) spans of runs that start where the position is 0."""
    spans = []
    for row in position_ids.tolist():
        starts = [i for i, p in enumerate(row) if p == 0] or [0]
        ends = [*starts[1:], len(row)]
        spans.append(list(zip(starts, ends, strict=True)))
    return spans


def allowed(length: int, window: int | None, device: torch.device) -> torch.Tensor:
    """(length, length) booleans: causal, and within the sliding window when there is one."""
    q = torch.arange(length, device=device)[:, None]
    k = torch.arange(length, device=device)[None, :]
    keep = k <= q
    if window is not None:
        keep &= k > q - window
    return keep


def eager_document(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    scaling: float,
    window: int | None,
    softcap: float | None,
    sinks: torch.Tensor | None,
    dropout: float,
) -> torch.Tensor:
    """One document's attention by the eager formula: (1, Hq, n, D) -> (1, Hq, n, D)."""
    groups = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(groups, dim=1)
    value = value.repeat_interleave(groups, dim=1)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    keep = allowed(query.shape[2], window, query.device)
    scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
    if sinks is not None:
        sink = sinks.reshape(1, -1, 1, 1).expand(1, -1, scores.shape[2], 1).to(scores.dtype)
        scores = torch.cat([scores, sink], dim=-1)
        scores = scores - scores.max(dim=-1, keepdim=True).values
        probs = F.softmax(scores, dim=-1, dtype=scores.dtype)[..., :-1]
    else:
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    probs = F.dropout(probs, p=dropout, training=dropout > 0)
    return torch.matmul(probs.to(value.dtype), value)


def features(module: torch.nn.Module, kwargs: dict[str, object]):
    """(sliding window, softcap, sinks) a layer asks for; raises on any other feature."""
    unknown = sorted(
        name
        for name, value in kwargs.items()
        if value is not None
        and value is not False
        and (name not in NEUTRAL or name in SAID_BY_NONE)
        and name not in ("sliding_window", "softcap", "s_aux", "sinks")
    )
    if unknown:
        raise UnsupportedAttention(
            f"{type(module).__name__} asks for attention feature(s) {', '.join(unknown)}"
        )
    window = kwargs.get("sliding_window")
    softcap = kwargs.get("softcap")
    sinks = kwargs.get("s_aux")
    if sinks is None:
        sinks = kwargs.get("sinks")
    if sinks is None:
        sinks = getattr(module, "sinks", None)  # GPT-OSS keeps them on the layer
    if sinks is not None and not isinstance(sinks, torch.Tensor):
        raise UnsupportedAttention(f"{type(module).__name__} has sinks symtune cannot read")
    return (
        int(window) if window else None,  # type: ignore[call-overload]
        float(softcap) if softcap else None,  # type: ignore[arg-type]
        sinks,
    )


def document_attention(query, key, value, scaling, window, softcap, sinks, dropout, gqa):
    """One document's attention with the fastest kernel that computes exactly its features."""
    length = query.shape[2]
    if softcap is None and sinks is None:
        band = None if window is None or window >= length else allowed(length, window, query.device)
        return F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=band,
            is_causal=band is None,
            scale=scaling,
            dropout_p=dropout,
            enable_gqa=gqa,
        )
    return eager_document(query, key, value, scaling, window, softcap, sinks, dropout)


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
    window, softcap, sinks = features(module, kwargs)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    gqa = query.shape[1] != key.shape[1]
    if position_ids is None:
        position_ids = torch.arange(query.shape[2], device=query.device)[None]
    if position_ids.shape[0] != query.shape[0]:  # one row of positions shared by the batch
        position_ids = position_ids.expand(query.shape[0], -1)
    out = torch.empty_like(query)
    for b, spans in enumerate(document_spans(position_ids)):
        for start, end in spans:
            out[b : b + 1, :, start:end] = document_attention(
                query[b : b + 1, :, start:end],
                key[b : b + 1, :, start:end],
                value[b : b + 1, :, start:end],
                scale,
                window,
                softcap,
                sinks,
                dropout,
                gqa,
            )
    return out.transpose(1, 2).contiguous(), None


def register() -> str:
    """Make "symtune_packed" available to every transformers model; returns its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, packed_attention)
    return NAME


def probe(model) -> str | None:
    """None when symtune_packed computes every layer's attention of `model` (one forward of
    two tokens, no gradients), else what it lacks."""
    device = next(model.parameters()).device
    ids = torch.zeros((1, 2), dtype=torch.long, device=device)
    try:
        with torch.no_grad():
            model(input_ids=ids, position_ids=torch.arange(2, device=device)[None], use_cache=False)
    except UnsupportedAttention as err:
        return str(err)
    return None
