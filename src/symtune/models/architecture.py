"""What a model's architecture can tell before any weight is read, asked of transformers and
peft rather than written down here: whether transformers knows it as a causal LM, its module
names (LoRA targets), its own block classes (FSDP's wrap unit) and whether its tokenizer
ends a text (EOS). A model is built on the meta device for this: no memory, no weights."""

from __future__ import annotations

from collections.abc import Sequence

from symtune.errors import SymtuneError

ALL_LINEAR = "all-linear"
"""peft's own choice of LoRA targets: every linear layer of the model but its output head
(for a Llama: q, k, v, o, gate, up and down projections; for GPT-2 its Conv1D layers)."""


def load_config(source: str, name: str, trust_remote_code: bool = False):
    """The model's transformers config; one line when transformers does not know it."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SymtuneError(
            f"model {name}: transformers cannot read its architecture ({text[:200]})"
        ) from None


def meta_model(source: str, name: str, trust_remote_code: bool = False):
    """The model's modules on the meta device (no weights, no memory); refuses an
    architecture that transformers has no causal-LM class for."""
    import torch
    from transformers import AutoModelForCausalLM

    config = load_config(source, name, trust_remote_code)
    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    except ValueError as err:
        kind = getattr(config, "model_type", "?")
        raise SymtuneError(
            f"model {name}: transformers has no causal language model for architecture "
            f"{kind!r} ({str(err).strip().splitlines()[0][:160]})"
        ) from None


def matches(module_name: str, target: str) -> bool:
    """peft's rule for a target in a list: the module's name, or its last dotted parts."""
    return module_name == target or module_name.endswith("." + target)


def check_lora_targets(model, targets: Sequence[str], name: str) -> None:
    """Refuse LoRA targets that match no module of the model, naming the model's linear
    layers (what it can adapt)."""
    if tuple(targets) == (ALL_LINEAR,):
        return
    names = [n for n, _ in model.named_modules()]
    missing = [t for t in targets if not any(matches(n, t) for n in names)]
    if missing:
        leaves = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if linear(m)})
        raise SymtuneError(
            f"model {name}: LoRA target(s) {', '.join(missing)} match no module; its linear "
            f"layers are {', '.join(leaves) or 'none'} (or use {ALL_LINEAR})"
        )


def linear(module) -> bool:
    """A layer LoRA can adapt: torch's Linear or transformers' Conv1D (GPT-2)."""
    return type(module).__name__ in ("Linear", "Conv1D")


def block_classes(model) -> list[str]:
    """The model's own repeated block classes, as transformers declares them
    (`_no_split_modules`): the unit FSDP wraps. Empty when the model declares none."""
    base = getattr(model, "base_model", model)
    declared = getattr(model, "_no_split_modules", None) or getattr(base, "_no_split_modules", None)
    return list(declared or [])


def head_weight_names(model) -> set[str]:
    """The names of the output head's weight (lm_head, embed_out, ...: whatever the model calls
    the module `get_output_embeddings` returns); tied to the input embeddings in many models."""
    head = model.get_output_embeddings()
    return {f"{n}.weight" for n, m in model.named_modules() if head is not None and m is head}


def check_eos(tokenizer, name: str) -> None:
    """Refuse a tokenizer without EOS: every tuned answer ends with it."""
    if tokenizer.eos_token_id is None:
        raise SymtuneError(
            f"model {name}: its tokenizer has no EOS token (eos_token); symtune ends every "
            "tuned answer with it: set eos_token in its tokenizer_config.json"
        )


def isolates_packed(model, tolerance: float = 1e-3) -> bool:
    """Whether the model, attending as it is set to, keeps packed prompts apart when only
    their restarting position ids say where each starts (no mask): a short prompt packed after
    a long one must get the log-probabilities it gets alone. transformers' kernels do this for
    most models, not all (GPT-OSS builds its masks without the position ids); one forward of
    68 tokens finds out. `tolerance`: on log-probabilities (bf16 needs more than fp32)."""
    import torch

    device = next(model.parameters()).device
    vocab = model.config.get_text_config().vocab_size
    first = [(7 * i + 3) % vocab for i in range(64)]
    second = [(11 * i + 5) % vocab for i in range(4)]
    ids = torch.tensor([first + second], device=device)
    positions = torch.tensor([list(range(64)) + list(range(4))], device=device)
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=positions, use_cache=False).logits[0, 64:]
        alone = model(
            input_ids=ids[:, 64:], position_ids=positions[:, 64:], use_cache=False
        ).logits[0]
    packed, alone = packed.float().log_softmax(-1), alone.float().log_softmax(-1)
    return float((packed - alone).abs().max()) <= tolerance
