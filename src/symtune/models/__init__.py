"""Models: a registry of built-in model names and loaders for tokenizers (and, later, weights)."""

from symtune.models.registry import MODELS, ModelRef, resolve_model
from symtune.models.tokenizer import load_tokenizer, token_counter

__all__ = ["MODELS", "ModelRef", "load_tokenizer", "resolve_model", "token_counter"]
