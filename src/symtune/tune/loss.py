"""The tuning loss: cross-entropy on supervised tokens only, with the output head applied only
at those positions (the 49k-vocabulary head on every token is most of a naive step's cost)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from symtune.tune.packing import IGNORE


def forward_hidden(model, input_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
    """Last hidden states of a packed batch. No attention mask and restarting `position_ids`:
    transformers then builds a block-diagonal causal mask per document; `use_cache=False`
    keeps it from treating the row as one growing sequence."""
    decoder = model.get_decoder()
    out = decoder(input_ids=input_ids, position_ids=position_ids, use_cache=False)
    return out.last_hidden_state


def supervised_loss(
    model, input_ids: torch.Tensor, labels: torch.Tensor, position_ids: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """(sum of token cross-entropies, number of supervised tokens) for a packed batch."""
    hidden = forward_hidden(model, input_ids, position_ids)
    mask = labels != IGNORE
    logits = model.get_output_embeddings()(hidden[mask]).float()
    loss = F.cross_entropy(logits, labels[mask], reduction="sum")
    return loss, int(mask.sum())


class SupervisedLM(torch.nn.Module):
    """The model with the loss as its forward, so that a DDP/FSDP wrapper around it sees every
    forward (calling the decoder and head directly would bypass the wrapper's gradient sync)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ):
        """The loss; without labels, the model's own output (validation through the wrapper,
        which FSDP needs: its root gathers the shards)."""
        if labels is None:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids
            )
        assert position_ids is not None
        return supervised_loss(self.model, input_ids, labels, position_ids)[0]
