"""In-run validation: how often the model ranks the right symbol first on the mixture's
held-out validation prompts (tuning tasks only). Each candidate symbol is scored as the summed
log-probability of its tokens and EOS after the prompt, tokenized (and framed) as in training."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from symtune.prompts.build import Prompt
from symtune.prompts.chat import Framing
from symtune.tune.packing import IGNORE, RAW, tokenize_prompt


def candidate_documents(
    prompt: Prompt, tokenizer, framing: Framing = RAW
) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) for the prompt completed with each candidate in turn, framed as
    in training."""
    docs = []
    for candidate in prompt.candidates:
        doc = tokenize_prompt(replace(prompt, target=" " + candidate), tokenizer, False, framing)
        docs.append((list(doc.input_ids), list(doc.labels)))
    return docs


@torch.no_grad()
def sequence_scores(model, docs: list[tuple[list[int], list[int]]], pad_id: int, device) -> list:
    """Summed log-probability of each document's supervised tokens (right-padded batch)."""
    width = max(len(ids) for ids, _ in docs)
    ids = torch.full((len(docs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(docs), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(docs), width), dtype=torch.long)
    for row, (doc_ids, doc_labels) in enumerate(docs):
        ids[row, : len(doc_ids)] = torch.tensor(doc_ids)
        labels[row, : len(doc_labels)] = torch.tensor(doc_labels)
        mask[row, : len(doc_ids)] = 1
    positions = torch.arange(width).expand(len(docs), width)  # one document per row
    ids, labels, mask = ids.to(device), labels.to(device), mask.to(device)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions.to(device)).logits
    logits = logits.float()
    logprobs = torch.log_softmax(logits, dim=-1)
    chosen = logprobs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return ((chosen * (labels != IGNORE)).sum(dim=1)).tolist()


def validate(
    model,
    tokenizer,
    prompts: list[Prompt],
    device,
    batch_size: int = 16,
    framing: Framing = RAW,
) -> dict[str, Any]:
    """Accuracy (the target ranked first among the candidates) over `prompts`, per task too."""
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    correct: dict[str, list[bool]] = {}
    pending: list[tuple[Prompt, list]] = []

    def flush() -> None:
        docs = [d for _, group in pending for d in group]
        scores = sequence_scores(model, docs, pad_id, device)
        at = 0
        for prompt, group in pending:
            mine = scores[at : at + len(group)]
            at += len(group)
            best = max(range(len(mine)), key=mine.__getitem__)
            hit = prompt.candidates[best] == prompt.answer
            correct.setdefault(prompt.meta.task, []).append(hit)
        pending.clear()

    for prompt in prompts:
        pending.append((prompt, candidate_documents(prompt, tokenizer, framing)))
        if sum(len(g) for _, g in pending) >= batch_size:
            flush()
    if pending:
        flush()
    model.train(was_training)
    hits = [h for values in correct.values() for h in values]
    return {
        "val_accuracy": sum(hits) / len(hits) if hits else 0.0,
        "val_n": len(hits),
        "val_by_task": {t: sum(v) / len(v) for t, v in sorted(correct.items())},
    }
