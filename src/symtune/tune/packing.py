"""Token-level documents with loss masks, and packing them into fixed-length rows.

A packed row holds several prompts; positions restart at 0 for each prompt, which the model's
attention turns into a block-diagonal causal mask (see `loss.supervised_logits`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from symtune.errors import SymtuneError
from symtune.prompts.build import Prompt
from symtune.prompts.chat import Framing

IGNORE = -100
RAW = Framing()
"""Raw text, no start tokens (a tokenizer that adds none)."""


@dataclass(frozen=True)
class Document:
    """One prompt as tokens: `labels[i]` is the token to predict at position i, or IGNORE."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


def tokenize_prompt(
    prompt: Prompt, tokenizer, seen_labels: bool = False, framing: Framing = RAW
) -> Document:
    """Tokenize prompt text + target jointly (so the boundary is the tokenizer's own) after
    the framing's start tokens, and end the answer with EOS (or, in a chat template, with the
    template's end of turn). Supervised: the target's tokens and the end; with `seen_labels`,
    also each exemplar answer whose symbol already appeared earlier in the prompt."""
    text, target, label_spans = framing.frame(prompt, tokenizer)
    encoding = tokenizer(text + target, add_special_tokens=False, return_offsets_mapping=True)
    start = list(framing.start)
    ids = start + list(encoding["input_ids"])
    offsets = [(0, 0)] * len(start) + list(encoding["offset_mapping"])
    boundary = len(text)
    # a token straddling the boundary carries target characters: supervise it too
    supervised = [end > boundary for _, end in offsets]
    if seen_labels:
        spans = [s for s, seen in zip(label_spans, prompt.label_seen, strict=True) if seen]
        for i, (first, end) in enumerate(offsets):
            if any(s <= first and end <= e and end > first for s, e in spans):
                supervised[i] = True
    if not any(supervised):
        raise AssertionError("a prompt without target tokens cannot happen by construction")
    if not framing.end:  # the template's end of turn is part of the target
        ids.append(tokenizer.eos_token_id)
        supervised.append(True)
    # label at position i is the next token, if that token is supervised
    labels = [ids[i + 1] if supervised[i + 1] else IGNORE for i in range(len(ids) - 1)]
    return Document(tuple(ids[:-1]), tuple(labels))


@dataclass(frozen=True)
class Row:
    """A packed row of `seq_len` tokens: ids, labels, per-document positions, document sizes
    (the padding's run last), and `tokens`, how many of them are documents' (the rest pads)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    position_ids: tuple[int, ...]
    lengths: tuple[int, ...]
    tokens: int


def pack(documents: Iterable[Document], seq_len: int, pad_id: int) -> Iterator[Row]:
    """Greedy, order-keeping packing: start a new row when the next document does not fit.
    Padding tokens are unsupervised and form their own position run."""
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    lengths: list[int] = []

    def flush() -> Row:
        pad = seq_len - len(ids)
        return Row(
            tuple(ids + [pad_id] * pad),
            tuple(labels + [IGNORE] * pad),
            tuple(positions + list(range(pad))),
            tuple(lengths + ([pad] if pad else [])),
            len(ids),
        )

    for doc in documents:
        size = len(doc.input_ids)
        if size > seq_len:
            raise SymtuneError(
                f"seq-len {seq_len} is shorter than a single prompt ({size} tokens); "
                "raise --seq-len or build the mixture with a smaller --max-tokens"
            )
        if len(ids) + size > seq_len:
            yield flush()
            ids, labels, positions, lengths = [], [], [], []
        ids.extend(doc.input_ids)
        labels.extend(doc.labels)
        positions.extend(range(size))
        lengths.append(size)
    if ids:
        yield flush()


TRIM_MULTIPLE = 64
"""Micro-batches are cut to their longest row's documents, rounded up to this many tokens (a
bounded set of shapes for compiled kernels)."""


def batch_width(rows: Sequence[Row], multiple: int = TRIM_MULTIPLE) -> int:
    """Columns a micro-batch needs: its longest row's document tokens, rounded up to
    `multiple`, at most the rows' length. The padding cut off is unsupervised and attends only
    to itself, so the loss and gradients are those of the full rows; the compute and the
    activations' memory are not (a row half full costs half)."""
    longest = max(r.tokens for r in rows)
    return min(len(rows[0].input_ids), -(-longest // multiple) * multiple)


def batch_tensors(rows: Sequence[Row], multiple: int = TRIM_MULTIPLE):
    """Stack rows into (input_ids, labels, position_ids) long tensors of `batch_width`."""
    import torch

    width = batch_width(rows, multiple)
    return (
        torch.tensor([r.input_ids[:width] for r in rows], dtype=torch.long),
        torch.tensor([r.labels[:width] for r in rows], dtype=torch.long),
        torch.tensor([r.position_ids[:width] for r in rows], dtype=torch.long),
    )
