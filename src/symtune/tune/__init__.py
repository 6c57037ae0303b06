"""Tuning: tokenization with loss masks, packing, the loss, and (next) the training loop."""
