"""The tuning loss: cross-entropy on supervised tokens only, with the model's output head applied
only at those positions (the 49k-vocabulary head on every token is most of a naive step's cost)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from symtune.models.architecture import block_classes
from symtune.tune.packing import IGNORE


def supervised_logits(
    model, input_ids: torch.Tensor, position_ids: torch.Tensor, positions: torch.Tensor
) -> torch.Tensor:
    """The model's own logits (its output head and whatever it does after, e.g. Gemma 2's
    final soft-capping) at sequence `positions` of every row: (rows, len(positions), vocab).
    No attention mask and restarting `position_ids`: each document attends only to itself
    (see `symtune.tune.attention`; transformers' own kernels build the same block-diagonal
    mask); `use_cache=False` keeps it from treating the row as one growing sequence."""
    out = model(
        input_ids=input_ids, position_ids=position_ids, use_cache=False, logits_to_keep=positions
    )
    return out.logits


def supervised_loss(
    model, input_ids: torch.Tensor, labels: torch.Tensor, position_ids: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """(sum of token cross-entropies, number of supervised tokens) for a packed batch. The head
    runs only at columns some row supervises (every supervised column with one row a batch)."""
    mask = labels != IGNORE
    columns = mask.any(dim=0).nonzero()[:, 0]
    logits = supervised_logits(model, input_ids, position_ids, columns).float()
    kept = mask[:, columns]
    loss = F.cross_entropy(logits[kept], labels[:, columns][kept], reduction="sum")
    return loss, int(mask.sum())


class SupervisedLM(torch.nn.Module):
    """The model with the loss as its forward, so that a DDP/FSDP wrapper around it sees every
    forward (calling the decoder and head directly would bypass the wrapper's gradient sync)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        # the model's own block classes, where Accelerate's FSDP wrap policy looks for them
        # when the config names none (it reads the prepared module's _no_split_modules)
        self._no_split_modules = block_classes(model)

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
