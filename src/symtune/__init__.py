"""symtune: symbol tuning (Wei et al., 2023) for open causal language models."""

__version__ = "0.1.0"
