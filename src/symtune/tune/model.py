"""The model a run trains (fp32 master weights, LoRA if configured) and the plain transformers
models it exports: the final model, the best-validated step, any checkpoint."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from symtune.errors import SymtuneError
from symtune.io import read_json_object, temp_path, writing
from symtune.layout import Checkpoint, TuneRun
from symtune.models.architecture import head_weight_names
from symtune.tune.attention import NAME as PACKED
from symtune.tune.attention import probe
from symtune.tune.attention import register as register_packed_attention
from symtune.tune.checkpoint import check_checkpoint
from symtune.tune.config import TuneConfig, resolve_attention
from symtune.tune.sharding import full_model_state, inner_model, sharded


def check_architecture(config: TuneConfig) -> None:
    """Before anything is written, what transformers and peft can tell without weights: the
    architecture is a causal LM transformers knows, its tokenizer has EOS (and a chat template
    when asked), LoRA's named targets exist, gradient checkpointing is supported, the
    attention implementation asked for by name can run here."""
    from symtune.models import load_tokenizer, model_source, resolve_model
    from symtune.models.architecture import check_eos, check_lora_targets, meta_model
    from symtune.prompts.chat import framing

    if resolve_model(config.model).kind == "gguf-artifact":
        return  # the pinned built-in model: known (tests/slow), and not converted just to look
    model = meta_model(model_source(config.model), config.model, config.trust_remote_code)
    tokenizer = load_tokenizer(config.model, config.trust_remote_code)
    check_eos(tokenizer, config.model)
    framing(tokenizer, config.chat_template, config.model)
    if config.lora is not None:
        check_lora_targets(model, config.lora.targets, config.model)
    if config.gradient_checkpointing and not model.supports_gradient_checkpointing:
        raise SymtuneError(
            f"tune config: gradient_checkpointing=true, but model {config.model} does not "
            "support it (transformers' supports_gradient_checkpointing is False)"
        )
    if config.attention not in ("auto", PACKED):  # e.g. flash_attention_2 not installed
        apply_attention(model, config.attention)


def set_attention(model, config: TuneConfig, device_type: str) -> str:
    """Make the model attend with `config.attention` resolved for the device; returns the
    implementation. Whatever is chosen is checked on the model first (`attention_lacks`).
    Under "auto" a failed check moves to the other kind; an implementation named by the user
    that fails is a one-line refusal."""
    attention = resolve_attention(config.attention, device_type)
    lacking = attention_lacks(model, attention)
    if lacking is None:
        return attention
    if config.attention != "auto":
        raise SymtuneError(
            f"tune config: attention={attention} cannot compute model {config.model}'s "
            f"packed attention ({lacking}); use --attention auto"
        )
    fallback = PACKED if attention != PACKED else ("sdpa" if model._supports_sdpa else "eager")
    if attention_lacks(model, fallback) is not None:
        raise SymtuneError(
            f"tune config: no attention implementation computes model {config.model}'s "
            f"packed attention ({lacking}); symtune cannot tune it"
        )
    return fallback


def attention_lacks(model, attention: str) -> str | None:
    """Set `attention` on the model and say what it lacks for packed rows (None: nothing):
    symtune_packed must compute every feature the layers ask for (`probe`), transformers'
    kernels must keep packed prompts apart (`isolates_packed`)."""
    from symtune.models.architecture import isolates_packed

    if attention == PACKED:
        register_packed_attention()
    apply_attention(model, attention)
    if attention == PACKED:
        return probe(model)
    return None if isolates_packed(model) else "its masks do not keep packed prompts apart"


def apply_attention(model, attention: str) -> None:
    try:
        model.set_attn_implementation(attention)
    except (ImportError, ValueError) as err:  # e.g. flash_attention_2 without flash-attn
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SymtuneError(f"tune config: attention={attention} cannot run here: {first}") from None


def prepare_model(config: TuneConfig, device_type: str = "cpu"):
    """The model to train (fp32 master weights), with LoRA adapters if configured, attending
    with `config.attention` resolved for the device (`set_attention`)."""
    from symtune.models import load_model

    model = load_model(config.model, "fp32", config.trust_remote_code)
    model.config.use_cache = False
    set_attention(model, config, device_type)
    if config.gradient_checkpointing:
        if not model.supports_gradient_checkpointing:
            raise SymtuneError(
                f"tune config: gradient_checkpointing=true, but model {config.model} does not "
                "support it (transformers' supports_gradient_checkpointing is False)"
            )
        # non-reentrant: works with inputs that need no grad (LoRA) and under DDP/FSDP
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.lora is not None:
        model = with_lora(model, config)
    model.train()
    return model


def with_lora(model, config: TuneConfig):
    """The model with peft's LoRA adapters on `config.lora.targets` ("all-linear": peft
    asks the model which layers are linear)."""
    from peft import LoraConfig as PeftLora
    from peft import get_peft_model

    from symtune.models.architecture import ALL_LINEAR, check_lora_targets

    lora = config.lora
    assert lora is not None
    check_lora_targets(model, lora.targets, config.model)
    targets = ALL_LINEAR if tuple(lora.targets) == (ALL_LINEAR,) else list(lora.targets)
    return get_peft_model(
        model,
        PeftLora(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
        ),
    )


def export_final(run: Path, model, tokenizer, config: TuneConfig, accelerator) -> Path:
    """Save the tuned model as a plain transformers checkpoint (LoRA merged if configured)."""
    return export_model(model, tokenizer, config, accelerator, TuneRun(run).final)


def export_model(model, tokenizer, config: TuneConfig, accelerator, target: Path) -> Path:
    """The model being trained as a plain checkpoint in `target` (rank 0 writes). Under FSDP
    every rank calls this: the full weights are gathered, then loaded into an unsharded copy."""
    if not sharded(accelerator):
        if accelerator.is_main_process:
            save_export(inner_model(model, accelerator), tokenizer, config, target)
        return target
    weights = full_model_state(model, accelerator, trainable_only=False)
    if accelerator.is_main_process:
        plain = prepare_model(config)
        missing, unexpected = plain.load_state_dict(weights, strict=False)
        heads = {n.removeprefix("base_model.model.") for n in head_weight_names(plain)}
        tied = {n for n in missing if n.removeprefix("base_model.model.") in heads}
        if set(missing) - tied or unexpected:
            raise RuntimeError(f"FSDP export lost weights: {missing} / {unexpected}")
        save_export(plain, tokenizer, config, target)
    return target


def export_checkpoint(checkpoint: Path) -> Path:
    """An intermediate checkpoint as a plain transformers model in `<checkpoint>/model` (made
    once, from files that match their recorded sha256), so that `symtune eval` can score any
    step, e.g. for a curve over tuning steps."""
    from safetensors.torch import load_file

    from symtune.models import load_tokenizer

    paths = Checkpoint(checkpoint)
    target = paths.model
    if (target / "config.json").exists():
        return target
    weights_path, run_config = paths.weights, paths.run.config
    if not weights_path.exists() or not run_config.exists():
        raise SymtuneError(
            f"{checkpoint} is not a symtune checkpoint (expected trainable.safetensors and "
            "the run's config.json two levels up)"
        )
    config = TuneConfig.from_dict(
        read_json_object(run_config, "run config"), f"run config {run_config}"
    )
    check_checkpoint(checkpoint, config, {})
    model = prepare_model(config)
    weights = load_file(str(weights_path))
    if set(weights) != {n for n, p in model.named_parameters() if p.requires_grad}:
        raise SymtuneError(f"{checkpoint}: its weights do not match model {config.model!r}")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in weights:
                param.copy_(weights[name])
    return save_export(
        model, load_tokenizer(config.model, config.trust_remote_code), config, target
    )


def save_export(unwrapped, tokenizer, config: TuneConfig, final: Path) -> Path:
    from symtune.models import plain_copy

    tmp = temp_path(final)
    try:
        with writing(final):  # a full disk names final/, exit 2
            if config.lora is not None and not config.lora.merge:
                unwrapped.save_pretrained(str(tmp))
            else:
                if config.lora is not None:
                    import copy

                    unwrapped = copy.deepcopy(unwrapped).merge_and_unload()
                plain_copy(unwrapped).save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, final)
    return final


def replace_dir(source: Path, target: Path, copy: bool = False) -> None:
    """Put `source` (or a copy of it) at `target`, never leaving a half-made target."""
    if copy:
        tmp = temp_path(target)
        shutil.copytree(source, tmp)
        source = tmp
    if target.exists():
        stale = temp_path(target)
        os.replace(target, stale)
        shutil.rmtree(stale)
    os.replace(source, target)
