"""Models: a registry of built-in model names and loaders for tokenizers (and, later, weights)."""

from symtune.models.loading import load_model, model_source, plain_copy
from symtune.models.registry import MODELS, ModelRef, resolve_model
from symtune.models.tokenizer import load_tokenizer, token_counter

__all__ = [
    "MODELS",
    "ModelRef",
    "load_model",
    "load_tokenizer",
    "model_source",
    "plain_copy",
    "resolve_model",
    "token_counter",
]
