"""Models: the registry of built-in names, tokenizers, weights (loaded with no remote code
unless allowed, fingerprinted by sha256) and what `--dtype auto` means on this machine."""

from symtune.models.files import fingerprint
from symtune.models.loading import load_model, model_source, plain_copy, preflight
from symtune.models.registry import MODELS, ModelRef, check_model, model_positions, resolve_model
from symtune.models.tokenizer import load_tokenizer, token_counter

__all__ = [
    "MODELS",
    "ModelRef",
    "check_model",
    "fingerprint",
    "load_model",
    "load_tokenizer",
    "model_positions",
    "model_source",
    "plain_copy",
    "preflight",
    "resolve_model",
    "token_counter",
]
