"""The tune stage: a mixture in, final/ out. Config, tokenization with loss masks, packing and
attention, the loss, one step's parts (`step`), the loop, checkpoints, validation, export."""
