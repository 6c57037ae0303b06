"""The real SmolLM2-135M-Instruct from the pinned GGUF, de-quantized into a plain checkpoint."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from symtune.artifacts import smollm2_gguf
from symtune.models import load_model, model_source

pytestmark = pytest.mark.slow


def test_plain_checkpoint_matches_the_gguf_and_reloads_with_plain_transformers():
    source = model_source("smollm2-135m-instruct")
    plain = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source)
    gguf = smollm2_gguf()
    direct = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    prompt = "Q: The movie was great.\nA: positive\n\nQ: The movie was awful.\nA:"
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = plain(ids).logits
        assert torch.equal(logits, direct(ids).logits)
    assert tokenizer.decode(int(logits[0, -1].argmax())) == " negative"
    assert sum(p.numel() for p in plain.parameters()) == 134_515_008
    assert load_model("smollm2-135m-instruct").dtype == torch.bfloat16


def test_target_tokens_start_at_the_boundary_with_the_real_tokenizer():
    from symtune.models import load_tokenizer
    from symtune.prompts.build import FORMATS, Prompt, PromptMeta, render
    from symtune.tune.packing import IGNORE, tokenize_prompt

    tokenizer = load_tokenizer("smollm2-135m-instruct")
    for format_id, answer in enumerate(["7480", "NTP", "behold", "(a)", "not ironic"] * 2):
        text, target, spans = render(FORMATS[format_id], "", [("in", answer)], "q", answer)
        meta = PromptMeta("t", "s", format_id, (answer,), (), "q", "k", False)
        doc = tokenize_prompt(Prompt(text, target, (answer,), spans, (False,), meta), tokenizer)
        predicted = [label for label in doc.labels if label != IGNORE]
        expected = tokenizer(target, add_special_tokens=False).input_ids
        assert predicted == [*expected, tokenizer.eos_token_id], (format_id, answer)


def test_two_tuning_steps_on_smollm2_then_reload_with_plain_transformers(tmp_path):
    from symtune.mixture.build import build_mixture
    from symtune.mixture.config import MixtureConfig
    from symtune.models import token_counter
    from symtune.tasks.suites import load_named
    from symtune.tune.config import TuneConfig
    from symtune.tune.loop import tune

    names = ("verse/testament", "pos/lemminflect")
    config = MixtureConfig(tasks=names, n=8, seed=0, max_tokens=512)
    build_mixture(config, load_named(names), tmp_path / "mix", token_counter(config.tokenizer))
    run = tune(
        TuneConfig(
            mixture=str(tmp_path / "mix"),
            out=str(tmp_path / "run"),
            steps=2,
            batch_size=4,
            seq_len=512,
            lr=1e-4,
            checkpoint_every=1,
        )
    )
    tuned = AutoModelForCausalLM.from_pretrained(str(run / "final"), dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(
        model_source("smollm2-135m-instruct"), dtype=torch.float32
    )
    layer = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(tuned.state_dict()[layer], base.state_dict()[layer])
    tokenizer = AutoTokenizer.from_pretrained(str(run / "final"))
    ids = tokenizer("Q: The movie was awful.\nA:", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.isfinite(tuned(ids).logits).all()
