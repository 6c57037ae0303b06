"""Tiny random models of many architecture families, built from transformers configs (no
download): the matrix every "any model" property is tested on. Each has 2 layers, a hidden
size of 32 and the byte tokenizer's vocabulary; the attention features a family is known for
are switched on small enough to matter on short prompts (windows of 8 tokens, soft-capping
at 1.0, sinks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VOCAB = 260
"""The byte tokenizer's 257 ids, with room."""
SPECIAL = {"bos_token_id": 1, "eos_token_id": 0, "pad_token_id": 0}
"""Within the tiny vocabulary (families default to their real models' ids)."""
COMMON = {"vocab_size": VOCAB, "hidden_size": 32, "num_hidden_layers": 2, **SPECIAL}
LLAMA_LIKE = {
    **COMMON,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
}


@dataclass(frozen=True)
class Family:
    """An architecture family: its transformers config class and the values that make it
    tiny; `features` names the attention features it switches on (for the docs table)."""

    name: str
    config_class: str
    values: dict[str, Any]
    features: tuple[str, ...] = ()
    fsdp: bool = False
    """Run the 2-process FSDP equivalence for this family (the others check the wrap class)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self):
        import transformers

        return getattr(transformers, self.config_class)(**self.values)

    def model(self, seed: int = 0):
        """A seeded, randomly initialised model in fp32 (eager attention until set)."""
        import torch
        from transformers import AutoModelForCausalLM

        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(self.config(), dtype=torch.float32)
        return model.float().eval()


FAMILIES = (
    Family("llama", "LlamaConfig", LLAMA_LIKE, fsdp=True),
    Family("qwen2", "Qwen2Config", {**LLAMA_LIKE, "use_sliding_window": True,
           "sliding_window": 8, "max_window_layers": 1}, ("sliding window (per layer)",)),
    Family("qwen3", "Qwen3Config", {**LLAMA_LIKE, "head_dim": 8}, ("q/k norm",)),
    Family("mistral", "MistralConfig", {**LLAMA_LIKE, "sliding_window": 8},
           ("sliding window",), fsdp=True),
    Family("gemma2", "Gemma2Config", {**LLAMA_LIKE, "head_dim": 8, "sliding_window": 8,
           "attn_logit_softcapping": 1.0, "final_logit_softcapping": 5.0,
           "query_pre_attn_scalar": 4}, ("soft-capping", "sliding window (per layer)",
           "final-logit soft-capping", "scaling")),
    Family("gemma3", "Gemma3TextConfig", {**LLAMA_LIKE, "head_dim": 8, "sliding_window": 8,
           "layer_types": ["sliding_attention", "full_attention"],
           "query_pre_attn_scalar": 4}, ("sliding window (per layer)", "scaling")),
    Family("phi3", "Phi3Config", LLAMA_LIKE, ("fused qkv",)),
    Family("olmo2", "Olmo2Config", LLAMA_LIKE, ("q/k norm",)),
    Family("gpt_neox", "GPTNeoXConfig", {**COMMON, "intermediate_size": 64,
           "num_attention_heads": 4, "max_position_embeddings": 2048, "rotary_pct": 0.5},
           ("fused qkv", "partial rotary"), fsdp=True),
    Family("gpt2", "GPT2Config", {**SPECIAL, "vocab_size": VOCAB, "n_embd": 32, "n_layer": 2,
           "n_head": 4, "n_positions": 2048, "tie_word_embeddings": True},
           ("learned positions", "Conv1D")),
    Family("gpt_oss", "GptOssConfig", {**LLAMA_LIKE, "head_dim": 8, "sliding_window": 8,
           "num_local_experts": 2, "num_experts_per_tok": 1,
           "layer_types": ["sliding_attention", "full_attention"]},
           ("attention sinks", "sliding window (per layer)", "mixture of experts")),
)  # fmt: skip
BY_NAME = {f.name: f for f in FAMILIES}


def sharpen(model, factor: float = 8.0) -> None:
    """Scale every attention layer's weights so that logits are large (soft-capping bites)."""
    import torch

    with torch.no_grad():
        for _, module in model.named_modules():
            if type(module).__name__.endswith("Attention"):
                for param in module.parameters(recurse=True):
                    if param.dim() == 2:
                        param.mul_(factor)
        for name, param in model.named_parameters():
            if name.endswith("sinks"):
                param.normal_(0, 2.0)


def save(family: Family, path, tokenizer) -> None:
    """The tiny model and a tokenizer saved like any Hugging Face model folder."""
    family.model().save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))


def table(properties: dict[str, str]) -> str:
    """The docs' Markdown table: a row per family, its transformers class, the attention
    features switched on, and a column per verified property (docs/models.md)."""
    head = ["family", "config", "features switched on", *properties]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for family in FAMILIES:
        features = ", ".join(family.features) or "—"
        cells = [family.name, f"`{family.config_class}`", features, *("✓" for _ in properties)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # print the table for docs/models.md
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "unit"))
    from test_model_matrix import PROPERTIES

    print(table(PROPERTIES))
