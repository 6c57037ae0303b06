"""Bad models and model options through the real CLI: one line naming the model and what is
missing, exit 2, nothing written."""

from __future__ import annotations

import json

import pytest

from conftest import build_tiny_mixture, byte_tokenizer, run_symtune
from matrix import BY_NAME, save


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    return build_tiny_mixture(tmp_path_factory.mktemp("models") / "mix", n=16)


def tune(mixture, model, out, *extra):
    args = ("tune", "--mixture", mixture, "--model", model, "--out", out, "--steps", "1")
    return run_symtune(*args, "--batch-size", "2", "--dtype", "fp32", *extra)


def refused(result, *words) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    path = tmp_path_factory.mktemp("gpt2") / "model"
    save(BY_NAME["gpt2"], path, byte_tokenizer())
    return path


def test_an_architecture_transformers_does_not_know(tmp_path, mixture, gpt2):
    import shutil

    model = tmp_path / "odd"
    shutil.copytree(gpt2, model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "model_type": "no_such_arch"}))
    line = refused(tune(mixture, model, tmp_path / "t"), str(model), "architecture")
    assert "no_such_arch" in line
    assert not (tmp_path / "t").exists()


def test_lora_targets_that_match_no_module(tmp_path, mixture, gpt2):
    result = tune(mixture, gpt2, tmp_path / "t", "--lora", "--lora-targets", "q_proj,v_proj")
    line = refused(result, str(gpt2), "q_proj", "match no module")
    assert "c_attn" in line  # what GPT-2 can adapt
    assert not (tmp_path / "t").exists()
    # the default (peft's all-linear) adapts GPT-2's Conv1D layers: it runs
    ok = tune(mixture, gpt2, tmp_path / "ok", "--lora", "--lora-r", "2")
    assert ok.returncode == 0, ok.stderr[-2000:]


def test_a_tokenizer_without_eos(tmp_path, mixture):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    backend = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(sorted(alphabet))}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model = tmp_path / "no-eos"
    save(BY_NAME["llama"], model, PreTrainedTokenizerFast(tokenizer_object=backend))
    refused(tune(mixture, model, tmp_path / "t"), str(model), "no EOS")
    assert not (tmp_path / "t").exists()


def test_a_chat_template_the_tokenizer_lacks(tmp_path, mixture, gpt2):
    refused(tune(mixture, gpt2, tmp_path / "t", "--chat-template"), "no chat template")
    assert not (tmp_path / "t").exists()


def test_a_run_frames_prompts_one_way(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("tune:\n  chat_template: true\neval:\n  chat_template: false\n")
    result = run_symtune("run", run, "--out", tmp_path / "out")
    refused(result, "eval.chat_template = False", "tune.chat_template = True")
    assert not (tmp_path / "out").exists()
